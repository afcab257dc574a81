"""Who a new ticket goes to: the one routing service (app.tickets.services.open_ticket calls it).

The rules, in order, over the organisation's *eligible* members (a working role, active, not away today in the
organisation's timezone, and holding fewer open tickets than their capacity):

1. the contact's account owner, when the organisation routes to account owners and the owner is eligible;
2. round robin within the routing team (``WorkflowSettings.routing_team_id``): the eligible team member
   assigned least recently;
3. round robin among every eligible working member, agents first (admins and managers take a turn only when
   no agent can, as before teams existed);
4. nobody is eligible (everyone is at capacity or away): the routing team's manager, else the least-loaded
   active manager or admin, and the managers are told (the ``everyone_at_capacity`` notice).

A fixed number of queries whatever the team size: the working memberships (locked), one grouped count of
their open tickets, the account owner, the routing team's members and manager.

Concurrency: the working memberships are read ``FOR UPDATE`` (in id order) before their open tickets are
counted, so of two tickets opening at once in one organisation the second waits until the first has
committed and then counts its ticket: two tickets cannot both take a member's last slot.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app.accounts.models import Membership, Tenant, User
from app.contacts.models import Contact
from app.customers.models import CustomerAccount
from app.extensions import db
from app.settings.models import WorkflowSettings
from app.teams.models import Team, team_member
from app.tenancy import MANAGING_ROLES, Role, WORKING_ROLES
from app.tickets.models import Status, Ticket
from app.timeutil import utcnow

ACCOUNT_OWNER, TEAM, EVERYONE, OVERFLOW = "account_owner", "team", "everyone", "overflow"
# How the timeline says why a ticket went where it did (plain round robin, the usual case, says nothing more).
RULE_LABELS = {
    ACCOUNT_OWNER: "the account owner",
    TEAM: "round robin in the routing team",
    OVERFLOW: "everyone was at capacity or away",
}


def local_today(tenant: Tenant) -> date:
    """Today's date in the organisation's timezone: an absence runs until the return date there."""
    return utcnow().astimezone(ZoneInfo(tenant.timezone or "UTC")).date()


def is_away(membership: Membership, today: date) -> bool:
    """Away until the return date: the member is back (and routed to) on ``away_until`` itself."""
    return membership.away_until is not None and membership.away_until > today


def open_ticket_counts(user_ids) -> dict[int, int]:
    """Open tickets held by each of ``user_ids``: one grouped query (by ``ix_ticket_board_mine_opened``)."""
    user_ids = list(user_ids)
    if not user_ids:
        return {}
    return dict(db.session.execute(
        select(Ticket.assignee_id, func.count(Ticket.id))
        .where(Ticket.assignee_id.in_(user_ids), Ticket.status != Status.CLOSED)
        .group_by(Ticket.assignee_id)
    ).all())


@dataclass
class Candidate:
    membership: Membership
    open: int
    away: bool

    @property
    def user_id(self) -> int:
        return self.membership.user_id

    @property
    def eligible(self) -> bool:
        return not self.away and self.open < self.membership.capacity

    def order(self) -> tuple:
        """Least recently assigned first (never assigned before anyone), then the oldest membership."""
        last = self.membership.last_assigned_at
        return (last is not None, last or utcnow(), self.membership.id)


@dataclass
class Routed:
    """Where a new ticket goes and by which rule; ``everyone_busy`` when no member had room (rule 4)."""

    assignee: User | None
    rule: str | None
    everyone_busy: bool = False

    @property
    def reason(self) -> str | None:
        return RULE_LABELS.get(self.rule or "")


def _round_robin(candidates: list[Candidate]) -> Candidate | None:
    return min(candidates, key=Candidate.order, default=None)


def _account_owner_id(contact_id: int | None) -> int | None:
    if contact_id is None:
        return None
    return db.session.execute(
        select(CustomerAccount.owner_id).join(Contact, Contact.account_id == CustomerAccount.id)
        .where(Contact.id == contact_id)
    ).scalar_one_or_none()


def _routing_team(team_id: int | None) -> tuple[int | None, set[int]]:
    """The routing team's manager and member user ids (one query; none when the team is gone)."""
    if team_id is None:
        return None, set()
    rows = db.session.execute(
        select(Team.manager_id, team_member.c.user_id).select_from(Team)
        .outerjoin(team_member, team_member.c.team_id == Team.id).where(Team.id == team_id)
    ).all()
    if not rows:
        return None, set()
    return rows[0].manager_id, {row.user_id for row in rows if row.user_id is not None}


def route_new_ticket(tenant: Tenant, settings: WorkflowSettings, contact_id: int | None) -> Routed:
    """Choose the assignee of a ticket opening now for ``contact_id`` (see the module's rules) and mark them
    as just assigned. Locks the organisation's working memberships until the transaction ends."""
    memberships = list(db.session.execute(
        select(Membership)
        .where(Membership.role.in_(WORKING_ROLES), Membership.is_active.is_(True))
        .order_by(Membership.id)
        .options(joinedload(Membership.user))
        .with_for_update(of=Membership)
    ).scalars())
    if not memberships:
        return Routed(None, None)
    today = local_today(tenant)
    counts = open_ticket_counts(m.user_id for m in memberships)
    candidates = {m.user_id: Candidate(m, counts.get(m.user_id, 0), is_away(m, today)) for m in memberships}
    eligible = [c for c in candidates.values() if c.eligible]

    chosen, rule = None, None
    if settings.route_to_account_owner:
        owner = candidates.get(_account_owner_id(contact_id))
        if owner is not None and owner.eligible:
            chosen, rule = owner, ACCOUNT_OWNER
    manager_id, team_ids = _routing_team(settings.routing_team_id) if chosen is None else (None, set())
    if chosen is None:
        chosen = _round_robin([c for c in eligible if c.user_id in team_ids])
        rule = TEAM if chosen else None
    if chosen is None:
        agents = [c for c in eligible if c.membership.role == Role.AGENT]
        chosen = _round_robin(agents or eligible)
        rule = EVERYONE if chosen else None
    if chosen is not None:
        chosen.membership.last_assigned_at = utcnow()
        return Routed(chosen.membership.user, rule)

    manager = candidates.get(manager_id)
    if manager is None or manager.away:
        managing = [c for c in candidates.values() if c.membership.role in MANAGING_ROLES]
        manager = min(managing, key=lambda c: (c.away, c.open, *c.order()), default=None)
    if manager is None:
        return Routed(None, OVERFLOW, everyone_busy=True)
    manager.membership.last_assigned_at = utcnow()
    return Routed(manager.membership.user, OVERFLOW, everyone_busy=True)
