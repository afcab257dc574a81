"""Forms of the accounts pages and of the ticket's account panel. Every field has a visible label."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.customers.models import ACCOUNT_STATUSES
from app.forms import SingleLine, row_id, strip
from app.submissions import OnceForm

NONE = 0


class AccountForm(FlaskForm):
    """``owner_id`` choices are the organisation's active members, set by the view."""

    name = StringField("Name", validators=[DataRequired(message="Enter the account's name."), Length(max=160),
                                           SingleLine()], filters=[strip])
    external_id = StringField(
        "External ID", validators=[Optional(), Length(max=80), SingleLine()], filters=[strip],
        description="The account's id in another system, such as a HubSpot company id.")
    owner_id = SelectField("Account owner", coerce=row_id, default=NONE,
                           invalid_choice_message="Choose an active member of your organisation.")
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)], filters=[strip])

    def set_members(self, members) -> None:
        self.owner_id.choices = [(NONE, "Nobody")] + [(user.id, user.name) for user in members]

    def account_fields(self) -> dict:
        return {"name": self.name.data, "external_id": self.external_id.data,
                "owner_id": self.owner_id.data or None, "notes": self.notes.data}


class StatusForm(FlaskForm):
    status = SelectField("New status", choices=list(ACCOUNT_STATUSES.items()),
                         validators=[DataRequired(message="Choose Active, At risk or Churned.")],
                         invalid_choice_message="Choose Active, At risk or Churned.")
    reason = TextAreaField("Reason", validators=[DataRequired(message="Say why the account's status changes."),
                                                 Length(max=300)], filters=[strip])


class TeamMemberForm(FlaskForm):
    """``user_id`` and ``function_id`` choices are set by the view."""

    user_id = SelectField("Member", coerce=row_id, validators=[DataRequired(message="Choose a member.")],
                          invalid_choice_message="Choose an active member of your organisation.")
    function_id = SelectField("Function", coerce=row_id, default=NONE,
                              invalid_choice_message="Choose a function from the list.")

    def set_choices(self, members, functions) -> None:
        self.user_id.choices = [(NONE, "Choose a member…")] + [(user.id, user.name) for user in members]
        self.function_id.choices = [(NONE, "No function")] + [(f.id, f.name) for f in functions]


class AtRiskForm(OnceForm):
    """"Save / At risk" from a ticket: the account is marked at risk with a reason."""

    reason = TextAreaField("Why is the account at risk?",
                           validators=[DataRequired(message="Say why the account is at risk."), Length(max=300)],
                           filters=[strip])


class FunctionForm(FlaskForm):
    name = StringField("Function", validators=[DataRequired(message="Enter the function's name."), Length(max=80),
                                               SingleLine()], filters=[strip])
