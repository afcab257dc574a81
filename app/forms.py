"""Form pieces shared by several areas."""
from __future__ import annotations

from wtforms import ValidationError
from wtforms.validators import Email

from app.security import MIN_PASSWORD_LENGTH


class StrongPassword:
    """At least eight characters, and not all the same character."""

    def __call__(self, form, field):
        value = field.data or ""
        if len(value) < MIN_PASSWORD_LENGTH:
            raise ValidationError(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
        if len(set(value)) < 3:
            raise ValidationError("Choose a password that is harder to guess.")


def email_validator():
    return Email(message="Enter a valid email address, like name@example.com.", check_deliverability=False)


def strip(value):
    return value.strip() if isinstance(value, str) else value
