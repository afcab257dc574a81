"""Team forms: invitations, a member's role, and handing a member's tickets to someone else."""
from __future__ import annotations

from typing import Iterable

from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField
from wtforms.validators import DataRequired, InputRequired

from app.accounts.models import User
from app.forms import email_validator, strip
from app.tenancy import ROLE_LABELS, Role
from app.tickets.forms import choices

ROLE_MESSAGE = "Choose Admin, Manager, Agent or Viewer."


class InviteForm(FlaskForm):
    email = EmailField(
        "Email address", validators=[DataRequired(message="Enter their email address."), email_validator()], filters=[strip]
    )
    role = SelectField("Role", choices=choices(ROLE_LABELS), default=Role.AGENT,
                       invalid_choice_message=ROLE_MESSAGE)


class MemberRoleForm(FlaskForm):
    """One member's role on the team page; each row has its own prefix so ids never clash."""

    role = SelectField("Role", choices=choices(ROLE_LABELS),
                       validators=[DataRequired(message=ROLE_MESSAGE)], invalid_choice_message=ROLE_MESSAGE)

    @classmethod
    def for_member(cls, membership_id: int, name: str, **kwargs) -> "MemberRoleForm":
        form = cls(prefix=f"member-{membership_id}", **kwargs)
        form.member_id = membership_id
        form.role.label.text = f"Role of {name}"
        return form


def _int_or_none(value):
    return None if value in (None, "") else int(value)


class HandoverForm(FlaskForm):
    """Who takes over a member's open tickets; the choices are set by the view."""

    assignee_id = SelectField(
        "Give the tickets to", coerce=_int_or_none,
        validators=[InputRequired(message="Choose who should take over these tickets.")],
        invalid_value_message="Choose who should take over these tickets.",
        invalid_choice_message="Choose an active admin, manager or agent.",
    )

    def set_candidates(self, candidates: Iterable[User]) -> None:
        self.assignee_id.choices = choices([("", "Choose a team member…"), *((user.id, user.name) for user in candidates)])

    @classmethod
    def for_ticket(cls, ticket_id: int, reference: str, candidates: Iterable[User], **kwargs) -> "HandoverForm":
        form = cls(prefix=f"ticket-{ticket_id}", **kwargs)
        form.ticket_id = ticket_id
        form.assignee_id.label.text = f"New assignee for {reference}"
        form.set_candidates(candidates)
        return form
