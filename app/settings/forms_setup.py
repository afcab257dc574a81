"""Forms for the organisation set-up sections: recipient roles, SLA windows, holidays, action plans, root causes,
and the audit log's filter."""
from __future__ import annotations

from datetime import time

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from app.forms import strip
from app.settings.models import WEEKDAYS, WorkflowSettings

MAX_PLAN_ITEMS = 30
ITEM_LENGTH = 200
TIME_FORMATS = ["%H:%M", "%H:%M:%S"]
NOBODY = 0


class RoleForm(FlaskForm):
    name = StringField(
        "Role name",
        validators=[DataRequired(message="Enter the role's name."), Length(max=80, message="Use at most 80 characters.")],
        filters=[strip],
    )


class RootCauseForm(FlaskForm):
    label = StringField(
        "Root cause",
        validators=[DataRequired(message="Enter the root cause."), Length(max=120, message="Use at most 120 characters.")],
        filters=[strip],
    )


def _whole_number(message: str, maximum: int):
    return [InputRequired(message=message), NumberRange(min=1, max=maximum, message=message)]


class _SlaFields(FlaskForm):
    first_contact_target_hours = IntegerField(
        "First-contact target (hours)",
        validators=_whole_number("Enter a whole number of hours from 1 to 2000.", 2000),
        description="How soon someone should reach a detractor.",
    )
    first_contact_breach_hours = IntegerField(
        "First-contact breach (hours)",
        validators=_whole_number("Enter a whole number of hours from 1 to 4000.", 4000),
        description="When the first contact counts as missed. Must be later than the target.",
    )
    resolution_target_days = IntegerField(
        "Resolution target (days)",
        validators=_whole_number("Enter a whole number of days from 1 to 365.", 365),
        description="How soon the ticket should be closed. A day is 24 hours of the clock below.",
    )
    business_hours_only = SelectField(
        "Deadlines count",
        choices=[("business", "Business hours only (opening hours on working days, not holidays)"),
                 ("calendar", "Calendar hours (around the clock, every day)")],
        default="business",
    )
    breach_reassign_to_id = SelectField("On breach, reassign the ticket to", coerce=int, default=NOBODY,
                                        validate_choice=False)


def _add_weekday_fields(cls: type) -> type:
    for day, name in WEEKDAYS.items():
        setattr(cls, f"day{day}_open", BooleanField(f"Open on {name}"))
        setattr(cls, f"day{day}_start", TimeField(f"{name} opens at", format=TIME_FORMATS, validators=[Optional()]))
        setattr(cls, f"day{day}_end", TimeField(f"{name} closes at", format=TIME_FORMATS, validators=[Optional()]))
    return cls


@_add_weekday_fields
class SlaForm(_SlaFields):
    """The SLA windows, one opening period per weekday, and who takes over breached tickets."""

    def set_people(self, people) -> None:
        self.breach_reassign_to_id.choices = [(NOBODY, "Nobody (the assignee keeps it)")] + [
            (person.id, person.name) for person in people
        ]

    def days(self):
        """``(day number, name, open field, start field, end field)`` for Monday to Sunday."""
        return [
            (day, name, self[f"day{day}_open"], self[f"day{day}_start"], self[f"day{day}_end"])
            for day, name in WEEKDAYS.items()
        ]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for _, name, is_open, start, end in self.days():
            if is_open.data and not start.errors and not end.errors:
                if start.data is None:
                    start.errors.append(f"Enter when {name} opens.")
                    valid = False
                if end.data is None:
                    end.errors.append(f"Enter when {name} closes.")
                    valid = False
        person = self.breach_reassign_to_id
        if person.errors or person.data not in {value for value, _ in person.choices or []}:
            person.errors[:] = ["Choose an active admin, manager or agent."]
            valid = False
        return valid

    @staticmethod
    def initial(settings: WorkflowSettings) -> dict:
        data = {
            "first_contact_target_hours": settings.first_contact_target_hours,
            "first_contact_breach_hours": settings.first_contact_breach_hours,
            "resolution_target_days": settings.resolution_target_days,
            "business_hours_only": "business" if settings.business_hours_only else "calendar",
            "breach_reassign_to_id": settings.breach_reassign_to_id or NOBODY,
        }
        for day in WEEKDAYS:
            periods = (settings.business_hours or {}).get(str(day)) or []
            data[f"day{day}_open"] = bool(periods)
            if periods:
                data[f"day{day}_start"] = time.fromisoformat(periods[0][0])
                data[f"day{day}_end"] = time.fromisoformat(periods[-1][1])
        return data

    def values(self) -> dict:
        """Keyword arguments for :func:`app.settings.services.update_sla`."""
        hours = {}
        for day, _, is_open, start, end in self.days():
            if is_open.data:
                hours[str(day)] = [[start.data.strftime("%H:%M"), end.data.strftime("%H:%M")]]
        return {
            "first_contact_target_hours": self.first_contact_target_hours.data,
            "first_contact_breach_hours": self.first_contact_breach_hours.data,
            "resolution_target_days": self.resolution_target_days.data,
            "business_hours_only": self.business_hours_only.data == "business",
            "business_hours": hours,
            "breach_reassign_to_id": self.breach_reassign_to_id.data or None,
        }


class HolidayForm(FlaskForm):
    day = DateField("Date", validators=[InputRequired(message="Enter the date of the holiday.")],
                    description="A day in your organisation's timezone.")
    name = StringField(
        "Holiday name",
        validators=[DataRequired(message="Enter the holiday's name."), Length(max=120, message="Use at most 120 characters.")],
        filters=[strip],
    )


def _lines(value):
    """Textarea text as a list of non-blank, stripped lines."""
    if value is None or isinstance(value, list):
        return value
    return [line.strip() for line in str(value).splitlines() if line.strip()]


class ActionPlanTemplateForm(FlaskForm):
    name = StringField(
        "Template name",
        validators=[DataRequired(message="Enter the template's name."), Length(max=120, message="Use at most 120 characters.")],
        filters=[strip],
    )
    items = TextAreaField(
        "Checklist items, one per line, in order",
        description="Put each item on its own line; the order here is the order on the ticket.",
    )

    def validate_items(self, field) -> None:
        items = _lines(field.data) or []
        if not items:
            raise ValidationError("Enter at least one checklist item.")
        if len(items) > MAX_PLAN_ITEMS:
            raise ValidationError(f"Use at most {MAX_PLAN_ITEMS} items.")
        too_long = next((item for item in items if len(item) > ITEM_LENGTH), None)
        if too_long:
            raise ValidationError(f"Keep each item under {ITEM_LENGTH} characters: “{too_long[:40]}…” is too long.")
        seen = set()
        for item in items:
            if item.lower() in seen:
                raise ValidationError(f"“{item}” is listed twice.")
            seen.add(item.lower())

    def item_list(self) -> list[str]:
        return _lines(self.items.data) or []

    @staticmethod
    def initial(template) -> dict:
        return {"name": template.name, "items": "\n".join(template.items or [])}


class AuditFilterForm(FlaskForm):
    """Read from the query string; a GET filter needs no CSRF token."""

    class Meta:
        csrf = False

    area = SelectField("Area", default="", validate_choice=False)
    actor = SelectField("Person", default="", validate_choice=False)
