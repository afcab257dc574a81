"""Settings section: routing (who new tickets go to) and the backlog threshold.

The rules themselves live in :mod:`app.teams.routing`; this page sets the organisation's choices: whether an
account's owner gets its tickets first, which team takes them round robin, and the open tickets per working
member above which admins are asked, once a day, to add a team member.
"""
from __future__ import annotations

from flask import url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, SelectField
from wtforms.validators import InputRequired, NumberRange

from app import audit
from app.extensions import db
from app.forms import NumberField, row_id
from app.settings.routes import bp, change_settings, view_settings
from app.settings.services import get_settings
from app.teams.models import Team
from app.tickets.forms import choices
from app.views import refused, render_page, saved

PAGE, FRAGMENT = "settings/routing.html", "settings/_routing.html"
NO_TEAM = 0
MAX_THRESHOLD = 10000
THRESHOLD_MESSAGE = f"Enter a number of open tickets per member from 1 to {MAX_THRESHOLD}."


class RoutingForm(FlaskForm):
    route_to_account_owner = BooleanField("Give a ticket to the account owner first, when they have room")
    routing_team_id = SelectField("Routing team", coerce=row_id, default=NO_TEAM,
                                  invalid_choice_message="Choose one of your teams.")
    backlog_threshold = NumberField(
        "Backlog threshold (open tickets per working member)",
        validators=[InputRequired(message=THRESHOLD_MESSAGE), NumberRange(1, MAX_THRESHOLD, message=THRESHOLD_MESSAGE)])

    def set_teams(self, teams) -> "RoutingForm":
        self.routing_team_id.choices = choices(
            [(NO_TEAM, "No routing team: round robin among everyone"), *((team.id, team.name) for team in teams)])
        return self


def _teams() -> list[Team]:
    return list(db.session.execute(select(Team).order_by(Team.name, Team.id)).scalars())


def _form(**kwargs) -> RoutingForm:
    return RoutingForm(**kwargs).set_teams(_teams())


@bp.get("/routing")
@view_settings
def routing():
    settings = get_settings()
    form = _form(obj=settings, formdata=None)
    form.routing_team_id.data = settings.routing_team_id or NO_TEAM
    return render_page(PAGE, FRAGMENT, form=form)



def _snapshot(settings) -> dict:
    team = db.session.get(Team, settings.routing_team_id) if settings.routing_team_id else None
    return {"route_to_account_owner": settings.route_to_account_owner,
            "routing_team": team.name if team else None, "backlog_threshold": settings.backlog_threshold}


@bp.post("/routing")
@change_settings
def save_routing():
    settings = get_settings()
    form = _form()
    if form.validate_on_submit():
        # The team is one of the organisation's: the choices are its teams, and validation refused any other.
        before = _snapshot(settings)
        settings.route_to_account_owner = form.route_to_account_owner.data
        settings.routing_team_id = form.routing_team_id.data or None
        settings.backlog_threshold = form.backlog_threshold.data
        audit.record("routing", "Changed routing", audit.diff(before, _snapshot(settings)))
        return saved("Routing saved.", url_for("settings.routing"), lambda: render_page(PAGE, FRAGMENT, form=form))
    return refused(PAGE, FRAGMENT, lambda: {"form": form.set_teams(_teams())})
