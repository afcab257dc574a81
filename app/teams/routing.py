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

One statement whatever the team size: the working memberships (locked, for their round-robin times) joined to
one grouped count of their open tickets, to the routing team's membership, and to the account owner and the
team's manager.

Concurrency: the caller first takes the organisation's ticket-number lock (``open_ticket`` updates the
organisation's row before routing), so tickets of one organisation are routed one after the other and the
routing statement, which starts after the previous ticket committed, counts it: two tickets opening at once
cannot both take a member's last slot.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, func, literal, select
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


def _candidates_statement(settings: WorkflowSettings, contact_id: int | None):
    """One statement for everything routing reads: the working memberships with their users, locked, each with
    its open tickets (one grouped count), whether it is in the routing team, and the account owner and the routing
    team's manager (the same on every row)."""
    open_counts = (
        select(Ticket.assignee_id.label("user_id"), func.count(Ticket.id).label("open"))
        .where(Ticket.status != Status.CLOSED,
               Ticket.assignee_id.in_(select(Membership.user_id).where(Membership.role.in_(WORKING_ROLES),
                                                                      Membership.is_active.is_(True))))
        .group_by(Ticket.assignee_id).subquery()
    )
    owner = literal(None, Integer)
    if settings.route_to_account_owner and contact_id is not None:
        owner = (select(CustomerAccount.owner_id).join(Contact, Contact.account_id == CustomerAccount.id)
                 .where(Contact.id == contact_id).scalar_subquery())
    statement = select(Membership, func.coalesce(open_counts.c.open, 0).label("open"), owner.label("owner_id"))
    team_id = settings.routing_team_id
    if team_id is not None:
        statement = statement.add_columns(
            team_member.c.user_id.is_not(None).label("in_team"),
            select(Team.manager_id).where(Team.id == team_id).scalar_subquery().label("manager_id"),
        ).outerjoin(team_member, (team_member.c.team_id == team_id) & (team_member.c.user_id == Membership.user_id))
    else:
        statement = statement.add_columns(literal(False).label("in_team"), literal(None, Integer).label("manager_id"))
    return (
        statement.outerjoin(open_counts, open_counts.c.user_id == Membership.user_id)
        .where(Membership.role.in_(WORKING_ROLES), Membership.is_active.is_(True))
        .order_by(Membership.id)
        .options(joinedload(Membership.user))
        .with_for_update(of=Membership)
    )


def route_new_ticket(tenant: Tenant, settings: WorkflowSettings, contact_id: int | None) -> Routed:
    """Choose the assignee of a ticket opening now for ``contact_id`` (see the module's rules) and mark them
    as just assigned. One statement; the caller holds the organisation's ticket-number lock (see the module)."""
    rows = db.session.execute(_candidates_statement(settings, contact_id)).all()
    if not rows:
        return Routed(None, None)
    today = local_today(tenant)
    candidates = {row.Membership.user_id: Candidate(row.Membership, row.open, is_away(row.Membership, today))
                  for row in rows}
    owner_id, manager_id = rows[0].owner_id, rows[0].manager_id
    team_ids = {row.Membership.user_id for row in rows if row.in_team}
    eligible = [c for c in candidates.values() if c.eligible]

    chosen, rule = None, None
    owner = candidates.get(owner_id)
    if owner is not None and owner.eligible:
        chosen, rule = owner, ACCOUNT_OWNER
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
