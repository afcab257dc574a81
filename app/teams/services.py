"""Teams, members' capacity and absence, and the workload figures the team and workload pages show.

Every change refuses with :class:`~app.rules.RuleError` and records itself in the audit log (area "teams").
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from app import audit
from app.accounts.models import Membership, Tenant, User
from app.extensions import db
from app.notifications.events import per_member
from app.rules import RuleError
from app.settings.services import get_settings
from app.teams.models import Team, team_member
from app.accounts.services import open_ticket_counts
from app.teams.routing import is_away, local_today
from app.tenancy import WORKING_ROLES, current_tenant_id, scoped_by_hand
from app.tickets.models import Status, Ticket

AUDIT_AREA = "teams"
MAX_CAPACITY = 1000
# An absence is planned at most this far ahead.
MAX_AWAY = timedelta(days=366)


def working_members_statement():
    """Active admins, managers and agents with their users, by name: who teams, routing and workload show."""
    return (
        select(Membership).join(Membership.user).options(contains_eager(Membership.user))
        .where(Membership.role.in_(WORKING_ROLES), Membership.is_active.is_(True))
        .order_by(User.name, Membership.id)
    )


def working_members() -> list[Membership]:
    return list(db.session.execute(working_members_statement()).scalars())


def team_members_statement(team: Team):
    """The team's members who still work tickets, with their users, by name."""
    return working_members_statement().join(
        team_member, (team_member.c.user_id == Membership.user_id) & (team_member.c.team_id == team.id))


@dataclass
class Load:
    """One member's workload as the pages show it."""

    membership: Membership
    open: int
    away: bool

    @property
    def user(self) -> User:
        return self.membership.user

    @property
    def capacity(self) -> int:
        return self.membership.capacity

    @property
    def at_capacity(self) -> bool:
        return self.open >= self.membership.capacity

    @property
    def percent(self) -> int:
        """How full the member is, for a meter (0–100)."""
        capacity = self.membership.capacity
        return 100 if capacity <= 0 else min(100, round(100 * self.open / capacity))


def loads(memberships: list[Membership], tenant: Tenant) -> list[Load]:
    """Each member's open tickets (one grouped query for all of them) and whether they are away today."""
    counts = open_ticket_counts(m.user_id for m in memberships)
    today = local_today(tenant)
    return [Load(m, counts.get(m.user_id, 0), is_away(m, today)) for m in memberships]


@dataclass
class Backlog:
    """The organisation's open tickets per working member against its threshold."""

    open: int
    members: int
    threshold: int

    @property
    def per_member(self) -> str:
        return per_member(self.open, self.members)

    @property
    def over(self) -> bool:
        return self.open > self.threshold * max(self.members, 1)


def backlog() -> Backlog:
    """Two counts: the open tickets and the working members (the same figures the daily notice uses)."""
    open_tickets = db.session.execute(
        select(func.count(Ticket.id)).where(Ticket.status != Status.CLOSED)).scalar_one()
    members = db.session.execute(
        select(func.count(Membership.id))
        .where(Membership.role.in_(WORKING_ROLES), Membership.is_active.is_(True))).scalar_one()
    return Backlog(open_tickets, members, get_settings().backlog_threshold)


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise RuleError("Enter the team's name.", "name")
    if len(name) > 120:
        raise RuleError("Use at most 120 characters.", "name")
    return name


def _refuse_taken(name: str, team: Team | None = None) -> None:
    taken = db.session.execute(
        select(Team.id).where(func.lower(Team.name) == name.lower(), Team.id != (team.id if team else 0))
    ).first()
    if taken:
        raise RuleError(f"There is already a team called {name}.", "name")


def _flush_name(name: str) -> None:
    """Write the name; a team of that name saved at the same moment by someone else is refused the same way."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise RuleError(f"There is already a team called {name}.", "name") from None


def create_team(name: str) -> Team:
    name = _clean_name(name)
    _refuse_taken(name)
    team = Team(name=name)
    db.session.add(team)
    _flush_name(name)
    audit.record(AUDIT_AREA, f"Created the team {name}", {"name": [None, name]})
    return team


def rename_team(team: Team, name: str) -> bool:
    name = _clean_name(name)
    if name == team.name:
        return False
    _refuse_taken(name, team)
    before = team.name
    team.name = name
    _flush_name(name)
    audit.record(AUDIT_AREA, f"Renamed the team {before} to {name}", {"name": [before, name]})
    return True


def delete_team(team: Team) -> None:
    """Delete the team and its memberships; when it was the routing team, routing goes to everyone."""
    settings = get_settings()
    changes = {"name": [team.name, None]}
    if settings.routing_team_id == team.id:
        settings.routing_team_id = None
        changes["routing_team"] = [team.name, None]
    audit.record(AUDIT_AREA, f"Deleted the team {team.name}", changes)
    # One statement; the database drops its memberships (ON DELETE CASCADE) without loading them.
    db.session.execute(delete(Team).where(Team.id == team.id))


def _working_member(user_id: int | None, field: str) -> Membership:
    membership = None
    if user_id:
        membership = db.session.execute(
            working_members_statement().where(Membership.user_id == user_id)).scalar_one_or_none()
    if membership is None:
        raise RuleError("Choose an active admin, manager or agent.", field)
    return membership


def set_manager(team: Team, user_id: int | None) -> bool:
    """Make ``user_id`` (an active working member, or None for nobody) the team's manager."""
    manager = _working_member(user_id, "manager_id").user if user_id else None
    if team.manager_id == (manager.id if manager else None):
        return False
    before = team.manager.name if team.manager else None
    team.manager_id, team.manager = (manager.id, manager) if manager else (None, None)
    audit.record(AUDIT_AREA, f"{manager.name} now manages {team.name}" if manager else f"{team.name} has no manager",
                 {"manager": [before, manager.name if manager else None]})
    return True


def _in_team(team: Team, user_id: int) -> bool:
    return db.session.execute(scoped_by_hand(
        select(team_member.c.user_id).where(team_member.c.tenant_id == current_tenant_id(),
                                            team_member.c.team_id == team.id, team_member.c.user_id == user_id)
    )).first() is not None


def add_member(team: Team, user_id: int | None) -> bool:
    membership = _working_member(user_id, "user_id")
    if _in_team(team, membership.user_id):
        return False
    db.session.execute(scoped_by_hand(insert(team_member).values(
        tenant_id=current_tenant_id(), team_id=team.id, user_id=membership.user_id)))
    audit.record(AUDIT_AREA, f"Added {membership.user.name} to {team.name}",
                 {"member": [None, membership.user.name]})
    return True


def remove_member(team: Team, membership: Membership) -> bool:
    removed = db.session.execute(scoped_by_hand(delete(team_member).where(
        team_member.c.tenant_id == current_tenant_id(), team_member.c.team_id == team.id,
        team_member.c.user_id == membership.user_id))).rowcount
    if not removed:
        return False
    audit.record(AUDIT_AREA, f"Removed {membership.user.name} from {team.name}",
                 {"member": [membership.user.name, None]})
    return True


def set_capacity(membership: Membership, capacity: int | None) -> bool:
    if capacity is None or not 0 <= capacity <= MAX_CAPACITY:
        raise RuleError(f"Enter a number of open tickets from 0 to {MAX_CAPACITY}.", "capacity")
    if membership.capacity == capacity:
        return False
    before = membership.capacity
    membership.capacity = capacity
    audit.record(AUDIT_AREA, f"Set {membership.user.name}’s capacity to {capacity} open tickets",
                 {"capacity": [before, capacity]})
    return True


def mark_away(membership: Membership, until: date | None, today: date) -> None:
    """Away until ``until`` (the day they are back): routing passes them by until then."""
    if until is None:
        raise RuleError("Enter the date you are back.", "away_until")
    if until <= today:
        raise RuleError("Choose a date after today: the day you are back.", "away_until")
    if until > today + MAX_AWAY:
        raise RuleError("Choose a date within a year.", "away_until")
    before = membership.away_until
    membership.away_until = until
    audit.record(AUDIT_AREA, f"{membership.user.name} is away until {until.isoformat()}",
                 audit.diff({"away_until": before}, {"away_until": until}))


def mark_back(membership: Membership) -> bool:
    if membership.away_until is None:
        return False
    before = membership.away_until
    membership.away_until = None
    audit.record(AUDIT_AREA, f"{membership.user.name} is back", {"away_until": [before.isoformat(), None]})
    return True
