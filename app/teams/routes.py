"""Teams and workload pages.

Every member reads them. Admins create, rename and delete teams, set a team's manager and its members;
admins and managers set any member's capacity; each working member marks themselves away (and back).
Each change is a POST that works as a plain form (303 with a flash) and through htmx (the page's region
comes back re-rendered); a refusal answers 422 with the message next to its field.
"""
from __future__ import annotations

from flask import Blueprint, abort, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.accounts.models import Membership
from app.confirm import confirm_page
from app.rules import RuleError
from app.settings.services import get_settings
from app.teams import services
from app.teams.forms import AwayForm, CapacityForm, TeamManagerForm, TeamMemberForm, TeamNameForm
from app.teams.models import Team
from app.teams.routing import is_away, local_today
from app.tenancy import (
    MANAGING_ROLES, WORKING_ROLES, Role, current_membership, current_tenant, get_or_404, require_role,
)
from app.views import paginate, place_error, refused, render_page, saved

bp = Blueprint("teams", __name__, url_prefix="/t/<tenant_slug>/teams")

manage_teams = require_role(Role.ADMIN)
set_capacities = require_role(*MANAGING_ROLES)
mark_self = require_role(*WORKING_ROLES)

INDEX_PAGE, INDEX_FRAGMENT = "teams/index.html", "teams/_index.html"
TEAM_PAGE, TEAM_FRAGMENT = "teams/team.html", "teams/_team.html"
WORKLOAD_PAGE, WORKLOAD_FRAGMENT = "teams/workload.html", "teams/_workload.html"
PER_PAGE = 50


def _can_manage() -> bool:
    return current_membership.role == Role.ADMIN


def _index_context(form: TeamNameForm | None = None) -> dict:
    """The teams with their managers, one query for the page of them."""
    teams = paginate(select(Team).options(joinedload(Team.manager)).order_by(Team.name, Team.id), per_page=PER_PAGE)
    settings = get_settings()
    return {"teams": teams, "form": form or TeamNameForm(formdata=None), "can_manage": _can_manage(),
            "routing_team_id": settings.routing_team_id, "backlog": services.backlog()}


@bp.get("/")
def index():
    return render_page(INDEX_PAGE, INDEX_FRAGMENT, **_index_context())


@bp.post("/")
@manage_teams
def create():
    form = TeamNameForm()
    if form.validate_on_submit():
        try:
            team = services.create_team(form.name.data)
        except RuleError as error:
            place_error(form, error, default_field="name")
        else:
            return saved(f"Team {team.name} created.", url_for("teams.show", team_id=team.id))
    return refused(INDEX_PAGE, INDEX_FRAGMENT, lambda: _index_context(form))


def _team_context(team: Team, *, name_form: TeamNameForm | None = None, manager_form: TeamManagerForm | None = None,
                  member_form: TeamMemberForm | None = None) -> dict:
    """The team page: its members' workload (one query for the page of members, one grouped count of their
    open tickets), the organisation's backlog, and for admins the forms that change the team."""
    members = paginate(services.team_members_statement(team), per_page=PER_PAGE)
    context = {"team": team, "loads": services.loads(members.items, current_tenant), "members": members,
               "can_manage": _can_manage(), "backlog": services.backlog(),
               "is_routing_team": get_settings().routing_team_id == team.id}
    if context["can_manage"]:
        people = [m.user for m in services.working_members()]
        in_team = {m.user_id for m in members.items}
        context.update(
            name_form=name_form or TeamNameForm(formdata=None, name=team.name),
            manager_form=(manager_form or TeamManagerForm(formdata=None, manager_id=team.manager_id or 0))
            .set_people(people),
            member_form=(member_form or TeamMemberForm(formdata=None))
            .set_people(user for user in people if user.id not in in_team),
        )
    return context


def _team_page(team: Team):
    return render_page(TEAM_PAGE, TEAM_FRAGMENT, **_team_context(team))


def _team_saved(team: Team, message: str, category: str = "success"):
    return saved(message, url_for("teams.show", team_id=team.id), lambda: _team_page(team), category)


def _team_refused(team: Team, **forms):
    return refused(TEAM_PAGE, TEAM_FRAGMENT, lambda: _team_context(team, **forms))


@bp.get("/<int:team_id>")
def show(team_id: int):
    return _team_page(get_or_404(Team, team_id))


@bp.post("/<int:team_id>/name")
@manage_teams
def rename(team_id: int):
    team = get_or_404(Team, team_id)
    form = TeamNameForm()
    if form.validate_on_submit():
        try:
            changed = services.rename_team(team, form.name.data)
        except RuleError as error:
            place_error(form, error, default_field="name")
        else:
            return _team_saved(team, f"Team renamed to {team.name}." if changed else "The name is unchanged.",
                               "success" if changed else "info")
    return _team_refused(team, name_form=form)


@bp.post("/<int:team_id>/manager")
@manage_teams
def set_manager(team_id: int):
    team = get_or_404(Team, team_id)
    form = TeamManagerForm().set_people(m.user for m in services.working_members())
    if form.validate_on_submit():
        try:
            changed = services.set_manager(team, form.manager_id.data or None)
        except RuleError as error:
            place_error(form, error, default_field="manager_id")
        else:
            message = (f"{team.manager.name} manages {team.name}." if team.manager else f"{team.name} has no manager.")
            return _team_saved(team, message if changed else "The manager is unchanged.",
                               "success" if changed else "info")
    return _team_refused(team, manager_form=form)


@bp.post("/<int:team_id>/members")
@manage_teams
def add_member(team_id: int):
    team = get_or_404(Team, team_id)
    form = TeamMemberForm().set_people(m.user for m in services.working_members())
    if form.validate_on_submit():
        try:
            added = services.add_member(team, form.user_id.data)
        except RuleError as error:
            place_error(form, error, default_field="user_id")
        else:
            return _team_saved(team, "Member added." if added else "They are already in the team.",
                               "success" if added else "info")
    return _team_refused(team, member_form=form)


@bp.post("/<int:team_id>/members/<int:membership_id>/remove")
@manage_teams
def remove_member(team_id: int, membership_id: int):
    team = get_or_404(Team, team_id)
    membership = get_or_404(Membership, membership_id)
    removed = services.remove_member(team, membership)
    return _team_saved(team, f"{membership.user.name} left {team.name}." if removed
                       else f"{membership.user.name} was not in {team.name}.", "success" if removed else "info")


@bp.get("/<int:team_id>/delete")
@manage_teams
def delete_confirm(team_id: int):
    team = get_or_404(Team, team_id)
    routing = (" It is the routing team, so new tickets will go round robin among everyone."
               if get_settings().routing_team_id == team.id else "")
    return confirm_page(
        title=f"Delete {team.name} · Teams", question=f"Delete the team {team.name}?",
        consequence=f"Its members stay in the organisation with their tickets; only the team goes.{routing}",
        action=url_for("teams.delete", team_id=team.id), button=f"Delete {team.name}",
        cancel=url_for("teams.show", team_id=team.id))


@bp.post("/<int:team_id>/delete")
@manage_teams
def delete(team_id: int):
    team = get_or_404(Team, team_id)
    name = team.name
    services.delete_team(team)
    return saved(f"Team {name} deleted.", url_for("teams.index"))


def _workload_context(capacity_form: CapacityForm | None = None, away_form: AwayForm | None = None) -> dict:
    """Every working member's open tickets against capacity and whether they are away (one query for the
    page of members, one grouped count), the backlog, and the forms the viewer may use."""
    members = paginate(services.working_members_statement(), per_page=PER_PAGE)
    can_set = current_membership.role in MANAGING_ROLES
    capacity_forms = {}
    if can_set:
        capacity_forms = {m.id: CapacityForm.for_member(m.id, m.user.name, formdata=None, capacity=m.capacity)
                          for m in members.items}
        if capacity_form is not None:
            capacity_forms[capacity_form.member_id] = capacity_form
    me = current_membership._get_current_object()
    return {
        "members": members, "loads": services.loads(members.items, current_tenant), "backlog": services.backlog(),
        "capacity_forms": capacity_forms, "me": me, "me_away": is_away(me, local_today(current_tenant)),
        "can_mark_self": me.role in WORKING_ROLES,
        "away_form": away_form or AwayForm(formdata=None, away_until=me.away_until),
    }


def _workload():
    return render_page(WORKLOAD_PAGE, WORKLOAD_FRAGMENT, **_workload_context())


def _workload_saved(message: str, category: str = "success"):
    return saved(message, url_for("teams.workload"), _workload, category)


@bp.get("/workload")
def workload():
    return _workload()


@bp.post("/workload/members/<int:membership_id>/capacity")
@set_capacities
def set_capacity(membership_id: int):
    membership = get_or_404(Membership, membership_id)
    if not membership.is_active or membership.role not in WORKING_ROLES:
        abort(404)
    form = CapacityForm.for_member(membership.id, membership.user.name)
    if form.validate_on_submit():
        try:
            changed = services.set_capacity(membership, form.capacity.data)
        except RuleError as error:
            place_error(form, error, default_field="capacity")
        else:
            return _workload_saved(
                f"{membership.user.name} can hold {membership.capacity} open tickets." if changed
                else "The capacity is unchanged.", "success" if changed else "info")
    return refused(WORKLOAD_PAGE, WORKLOAD_FRAGMENT, lambda: _workload_context(capacity_form=form))


@bp.post("/workload/away")
@mark_self
def mark_away():
    form = AwayForm()
    me = current_membership._get_current_object()
    if form.validate_on_submit():
        try:
            services.mark_away(me, form.away_until.data, local_today(current_tenant))
        except RuleError as error:
            place_error(form, error, default_field="away_until")
        else:
            return _workload_saved(f"You are away until {form.away_until.data:%a %d %b %Y}: new tickets pass you by "
                                   "until then.")
    return refused(WORKLOAD_PAGE, WORKLOAD_FRAGMENT, lambda: _workload_context(away_form=form))


@bp.post("/workload/back")
@mark_self
def mark_back():
    me = current_membership._get_current_object()
    if services.mark_back(me):
        return _workload_saved(f"Welcome back, {current_user.first_name}: new tickets can come to you again.")
    return _workload_saved("You were not marked away.", "info")
