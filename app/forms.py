"""Form pieces shared by several areas."""
from __future__ import annotations

import re

from wtforms import ValidationError
from wtforms.validators import Email

from app.security import password_problem


class StrongPassword:
    """The password rules of ``app.security.password_problem``: long enough, and not a common password."""

    def __call__(self, form, field):
        problem = password_problem(field.data or "")
        if problem:
            raise ValidationError(problem)


class SingleLine:
    """A value that goes on one line (a name, a subject): no line breaks or other control characters.

    Such values end up in email headers, where a line break would start a new header.
    """

    _CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")

    def __init__(self, message: str = "Keep this on one line, without line breaks."):
        self.message = message

    def __call__(self, form, field):
        if isinstance(field.data, str) and self._CONTROL.search(field.data):
            raise ValidationError(self.message)


def email_validator():
    return Email(message="Enter a valid email address, like name@example.com.", check_deliverability=False)


def strip(value):
    return value.strip() if isinstance(value, str) else value
