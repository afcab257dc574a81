"""Form pieces shared by several areas."""
from __future__ import annotations

from wtforms import ValidationError
from wtforms.validators import Email

from app.security import password_problem


class StrongPassword:
    """The password rules of ``app.security.password_problem``: long enough, and not a common password."""

    def __call__(self, form, field):
        problem = password_problem(field.data or "")
        if problem:
            raise ValidationError(problem)


def email_validator():
    return Email(message="Enter a valid email address, like name@example.com.", check_deliverability=False)


def strip(value):
    return value.strip() if isinstance(value, str) else value
