"""Forms for the organisation set-up sections: recipient roles, SLA windows, holidays, action plans, root causes,
and the audit log's filter."""
from __future__ import annotations

from datetime import time

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from app.forms import NumberField, WithinCalendar, row_id, strip
from app.business_time import Duration
from app.settings.models import FIRST_CONTACT_STOPPED_BY, SLA_UNITS, WEEKDAYS, WorkflowSettings

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


class DefaultRoleForm(FlaskForm):
    default_contact_role_id = SelectField(
        "Default role for new contacts", coerce=row_id, default=NOBODY, validate_choice=False,
        invalid_value_message="Choose one of the roles in use, or none.",
        description="Ticked when someone adds a contact. With none, new contacts start with no role.",
    )

    def set_roles(self, roles, none_label: str) -> None:
        self.default_contact_role_id.choices = [(NOBODY, none_label)] + [(role.id, role.name) for role in roles]

    def role_id(self) -> int | None:
        return self.default_contact_role_id.data or None


class RootCauseForm(FlaskForm):
    label = StringField(
        "Root cause",
        validators=[DataRequired(message="Enter the root cause."), Length(max=120, message="Use at most 120 characters.")],
        filters=[strip],
    )


UNIT_LIMITS = {"minutes": 60 * 24 * 7, "hours": 2000, "business_days": 365}
TARGETS = {
    "first_contact_target": ("First-contact target", "How soon someone should reach a detractor."),
    "first_contact_breach": ("First-contact breach",
                             "When the first contact counts as missed. Must be later than the target."),
    "resolution_target": ("Resolution target", "How soon the ticket should be closed."),
}


def _add_target_fields(cls: type) -> type:
    """An amount and a unit (minutes, hours, business days) for each SLA target."""
    for name, (label, hint) in TARGETS.items():
        setattr(cls, name, NumberField(label, validators=[InputRequired(message="Enter a whole number.")],
                                       description=hint, render_kw={"min": 1}))
        setattr(cls, f"{name}_unit", SelectField(f"{label} unit", choices=list(SLA_UNITS.items()),
                                                 default="business_days"))
    return cls


@_add_target_fields
class _SlaFields(FlaskForm):
    first_contact_stopped_by = SelectField(
        "First contact is made by",
        choices=list(FIRST_CONTACT_STOPPED_BY.items()),
        default="call_or_email",
        description="What stops the first-contact clock when it is logged on the ticket.",
    )
    business_hours_only = SelectField(
        "Deadlines count",
        choices=[("business", "Business hours only (opening hours on working days, not holidays)"),
                 ("calendar", "Calendar hours (around the clock, every day)")],
        default="business",
    )
    breach_reassign_to_id = SelectField("On breach, reassign the ticket to", coerce=row_id, default=NOBODY,
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

    def targets(self):
        """``(amount field, unit field)`` for each SLA target, in the order people read them."""
        return [(self[name], self[f"{name}_unit"]) for name in TARGETS]

    def days(self):
        """``(day number, name, open field, start field, end field)`` for Monday to Sunday."""
        return [
            (day, name, self[f"day{day}_open"], self[f"day{day}_start"], self[f"day{day}_end"])
            for day, name in WEEKDAYS.items()
        ]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for amount, unit in self.targets():
            limit = UNIT_LIMITS.get(unit.data)
            if limit and (amount.errors or not 1 <= amount.data <= limit):
                amount.errors[:] = [f"Enter a whole number of {SLA_UNITS[unit.data]} from 1 to {limit}."]
                valid = False
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
        data = {name: getattr(settings, name) for name in TARGETS}
        data.update({f"{name}_unit": getattr(settings, f"{name}_unit") for name in TARGETS})
        data.update({
            "first_contact_stopped_by": settings.first_contact_stopped_by,
            "business_hours_only": "business" if settings.business_hours_only else "calendar",
            "breach_reassign_to_id": settings.breach_reassign_to_id or NOBODY,
        })
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
            **{name: Duration(self[name].data, self[f"{name}_unit"].data) for name in TARGETS},
            "first_contact_stopped_by": self.first_contact_stopped_by.data,
            "business_hours_only": self.business_hours_only.data == "business",
            "business_hours": hours,
            "breach_reassign_to_id": self.breach_reassign_to_id.data or None,
        }


class HolidayForm(FlaskForm):
    day = DateField("Date", validators=[InputRequired(message="Enter the date of the holiday."), WithinCalendar()],
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
