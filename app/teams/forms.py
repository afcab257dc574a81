"""Forms of the teams and workload pages; every control has a visible label and a plain-language error."""
from __future__ import annotations

from typing import Iterable

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from app.accounts.models import User
from app.forms import NumberField, SingleLine, WithinCalendar, row_id, strip
from app.teams.services import MAX_CAPACITY
from app.tickets.forms import choices

NOBODY = 0
CHOOSE_MEMBER = "Choose an active admin, manager or agent."


class TeamNameForm(FlaskForm):
    name = StringField("Team name", validators=[
        DataRequired(message="Enter the team's name."), Length(max=120, message="Use at most 120 characters."),
        SingleLine()], filters=[strip])


def _people(people: Iterable[User], none_label: str) -> list:
    return choices([(NOBODY, none_label), *((user.id, user.name) for user in people)])


class TeamManagerForm(FlaskForm):
    manager_id = SelectField("Manager", coerce=row_id, default=NOBODY, invalid_choice_message=CHOOSE_MEMBER)

    def set_people(self, people: Iterable[User]) -> "TeamManagerForm":
        self.manager_id.choices = _people(people, "No manager")
        return self


class TeamMemberForm(FlaskForm):
    user_id = SelectField("Add a member", coerce=row_id, default=NOBODY, invalid_choice_message=CHOOSE_MEMBER,
                          validators=[DataRequired(message="Choose who to add.")])

    def set_people(self, people: Iterable[User]) -> "TeamMemberForm":
        self.user_id.choices = _people(people, "Choose a team member…")
        return self


class CapacityForm(FlaskForm):
    """One member's capacity on the workload page; each row has its own prefix so ids never clash."""

    capacity = NumberField(
        "Capacity", validators=[InputRequired(message=f"Enter a number of open tickets from 0 to {MAX_CAPACITY}.")],
        description="Open tickets before routing passes them by.")

    @classmethod
    def for_member(cls, membership_id: int, name: str, **kwargs) -> "CapacityForm":
        form = cls(prefix=f"capacity-{membership_id}", **kwargs)
        form.member_id = membership_id
        form.capacity.label.text = f"Capacity of {name}"
        return form


class AwayForm(FlaskForm):
    away_until = DateField("Away until (the day you are back)",
                           validators=[InputRequired(message="Enter the date you are back."), WithinCalendar()])
