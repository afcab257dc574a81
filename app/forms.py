"""Form pieces shared by several areas."""
from __future__ import annotations

import re
from datetime import date, datetime

from wtforms import IntegerField, ValidationError
from wtforms.validators import Email

from app.security import password_problem
from app.tenancy import ID_MAX


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


class WithinCalendar:
    """A date or time before :attr:`LIMIT`: far enough for any plan, and far enough from the calendar's end
    (9999-12-31) that moving it between timezones or adding an SLA window to it stays a valid date."""

    LIMIT = date(3000, 1, 1)

    def __init__(self, message: str = "Choose a date before the year 3000."):
        self.message = message

    def __call__(self, form, field):
        value = field.data
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, date) and value >= self.LIMIT:
            raise ValidationError(self.message)


class NumberField(IntegerField):
    """A whole number that fits an ``integer`` column. Anything larger is refused as it is read, before the
    validators run: ``NumberRange`` turns the number into a float, which overflows past about 300 digits."""

    too_large = "Enter a smaller number."

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is not None and not -(2**31) <= self.data < 2**31:
            self.data = None
            raise ValueError(self.too_large)


def row_id(value) -> int:
    """``coerce`` for a select of rows: the posted value as an id that fits an id column (0 is a select's
    "none"); anything else raises ValueError, which the field shows as an invalid choice."""
    number = int(value)
    if not 0 <= number <= ID_MAX:
        raise ValueError("not an id")
    return number


def email_validator():
    return Email(message="Enter a valid email address, like name@example.com.", check_deliverability=False)


def strip(value):
    return value.strip() if isinstance(value, str) else value
