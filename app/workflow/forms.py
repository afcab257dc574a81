"""Forms for tasks and the action plan. Every field has a visible label and a plain-language error.

Times are typed in the organisation's timezone; the views turn them into UTC.
"""
from __future__ import annotations

from datetime import datetime

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, DateTimeLocalField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from app.forms import WithinCalendar, strip
from app.submissions import OnceForm
from app.tickets.forms import ChoiceField, choices


def _int_or_none(value):
    return None if value in (None, "") else int(value)


class TaskForm(OnceForm):
    """``now_local`` (the organisation's wall-clock time, naive) is set by the view to check the reminder."""

    title = StringField("Task", validators=[DataRequired(message="Say what needs doing."), Length(max=200)],
                        filters=[strip])
    due_at = DateTimeLocalField(
        "Due", format="%Y-%m-%dT%H:%M",
        validators=[InputRequired(message="Choose when it is due."), WithinCalendar()],
    )
    remind_at = DateTimeLocalField("Remind me at (optional)", format="%Y-%m-%dT%H:%M",
                                   validators=[Optional(), WithinCalendar()])

    def __init__(self, *args, now_local: datetime | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.now_local = now_local
        self.due_at.process_errors = ["Enter a date and time, like 2025-03-14 09:30." for _ in self.due_at.process_errors]
        self.remind_at.process_errors = ["Enter a date and time, like 2025-03-14 09:00."
                                         for _ in self.remind_at.process_errors]

    def validate_remind_at(self, field):
        if field.data is None:
            return
        if self.due_at.data is not None and field.data > self.due_at.data:
            raise ValidationError("Choose a reminder time at or before the due time.")
        if self.now_local is not None and field.data < self.now_local:
            raise ValidationError("Choose a reminder time in the future.")


class DoneForm(FlaskForm):
    """A single done checkbox: ticked means done, unticked means not done."""

    done = BooleanField("Done")


class ItemForm(OnceForm):
    """An action-plan item. ``owner_id`` choices are the organisation's working members, set by :meth:`set_members`."""

    title = StringField("Item", validators=[DataRequired(message="Name the item."), Length(max=200)], filters=[strip])
    # No Optional() here: the owner-or-team rule below must run when the owner is left empty.
    owner_id = ChoiceField("Owner", coerce=_int_or_none, invalid_choice_message="Choose an active member of the team.")
    owner_team = StringField("Or a team", validators=[Optional(), Length(max=120)], filters=[strip],
                             description="For example “Billing team”. Leave the owner empty when a team owns it.")
    due_date = DateField("Due date (optional)", validators=[Optional(), WithinCalendar()])
    note = TextAreaField("Note", validators=[Optional(), Length(max=2000)], filters=[strip])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.due_date.process_errors = ["Enter a date, like 2025-03-14." for _ in self.due_date.process_errors]

    def set_members(self, members) -> None:
        self.owner_id.choices = choices([("", "A team (type it below)"), *((user.id, user.name) for user in members)])

    def validate_owner_team(self, field):
        if self.owner_id.data and field.data:
            raise ValidationError("Choose a member or type a team, not both.")

    def validate_owner_id(self, field):
        if not field.data and not self.owner_team.data:
            raise ValidationError("Choose who owns this item, or type the team that does.")


class ApplyPlanForm(OnceForm):
    """``template_id`` choices are the organisation's active action-plan templates."""

    template_id = ChoiceField(
        "Plan to apply", coerce=_int_or_none,
        validators=[InputRequired(message="Choose an action plan to apply.")],
        invalid_value_message="Choose an action plan to apply.",
        invalid_choice_message="Choose one of the organisation's active action plans.",
    )

    def set_templates(self, templates) -> None:
        self.template_id.choices = choices([("", "Choose a plan…"), *((t.id, t.name) for t in templates)])
