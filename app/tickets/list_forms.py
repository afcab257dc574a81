"""Forms of the ticket list: the bulk actions on ticked tickets, and saving the current filters as a view."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.forms import strip
from app.submissions import OnceForm
from app.tickets.forms import WORKING_STATUSES, ChoiceField, _int_or_none, choices

BULK_ACTIONS = {"assign": "Assign", "move": "Move", "close": "Close as no response"}


class BulkForm(OnceForm):
    """What to do with the ticked tickets (the ``ticket`` checkboxes of the table, read by the view). The
    button pressed (``action``) says which action; each action's fields are checked by the view."""

    assignee_id = ChoiceField("Assign to", coerce=_int_or_none, validate_choice=True,
                              invalid_choice_message="Choose a member who works tickets.")
    status = ChoiceField("Move to", choices=choices([("", "Choose…"), *WORKING_STATUSES.items()]), default="",
                         invalid_choice_message="Choose New, Contacted, Action plan or Waiting on customer.")
    root_cause = ChoiceField("Root cause (when closing)", coerce=_int_or_none,
                             invalid_choice_message="Choose one of the organisation's root causes.")
    note = TextAreaField("Closing note", validators=[Optional(), Length(max=5000)], filters=[strip])
    query = HiddenField()

    def set_choices(self, members, causes) -> None:
        self.assignee_id.choices = choices([("", "Choose…"), *((m.id, m.name) for m in members)])
        self.root_cause.choices = choices([("", "Choose…"), *((c.id, c.label) for c in causes)])


class SaveViewForm(FlaskForm):
    name = StringField("Name of this view", filters=[strip],
                       validators=[DataRequired(message="Give the view a name."), Length(max=80)])
    query = HiddenField()
