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

One statement per batch of tickets whatever the team size: the working memberships (locked, for their round-robin
times) with their open tickets counted up to a cap (index-only), joined to the routing team's membership, to the
accounts of the batch they own, and to the team's manager.

Concurrency: the caller first takes the organisation's ticket-number lock (``open_ticket`` updates the
organisation's row before routing), so tickets of one organisation are routed one after the other and the
routing statement, which starts after the previous ticket committed, counts it: two tickets opening at once
cannot both take a member's last slot.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
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


def _open_count(cap: int):
    """A member's open tickets, counted up to ``cap``: an index-only read of at most ``cap`` entries of
    ``ix_ticket_tenant_assignee_status`` per member, whatever the size of their backlog."""
    open_statuses = [status.value for status in Status if status != Status.CLOSED]
    mine = (select(literal(1)).select_from(Ticket)
            .where(Ticket.assignee_id == Membership.user_id, Ticket.status.in_(open_statuses))
            .limit(cap).correlate(Membership).subquery())
    return select(func.count()).select_from(mine).scalar_subquery()


def _candidates_statement(settings: WorkflowSettings, account_ids: list[int], cap: int):
    """One statement for everything routing reads: the working memberships with their users, locked, each with
    its open tickets (counted up to ``cap``), whether it is in the routing team, the routing team's manager (the
    same on every row) and, one row each, the accounts among ``account_ids`` it owns."""
    statement = select(Membership, _open_count(cap).label("open"))
    if settings.route_to_account_owner and account_ids:
        statement = statement.add_columns(CustomerAccount.id.label("owned_account_id")).outerjoin(
            CustomerAccount, (CustomerAccount.owner_id == Membership.user_id) & CustomerAccount.id.in_(account_ids))
    else:
        statement = statement.add_columns(literal(None, Integer).label("owned_account_id"))
    team_id = settings.routing_team_id
    if team_id is not None:
        statement = statement.add_columns(
            team_member.c.user_id.is_not(None).label("in_team"),
            select(Team.manager_id).where(Team.id == team_id).scalar_subquery().label("manager_id"),
        ).outerjoin(team_member, (team_member.c.team_id == team_id) & (team_member.c.user_id == Membership.user_id))
    else:
        statement = statement.add_columns(literal(False).label("in_team"), literal(None, Integer).label("manager_id"))
    return (
        statement
        .where(Membership.role.in_(WORKING_ROLES), Membership.is_active.is_(True))
        .order_by(Membership.id)
        .options(joinedload(Membership.user))
        .with_for_update(of=Membership)
    )


def route_new_ticket(tenant: Tenant, settings: WorkflowSettings, contact_id: int | None) -> Routed:
    """Choose the assignee of one ticket opening now for ``contact_id`` (see :func:`route_new_tickets`)."""
    contact = db.session.get(Contact, contact_id) if contact_id is not None else None
    return route_new_tickets(tenant, settings, [contact])[0]


def route_new_tickets(tenant: Tenant, settings: WorkflowSettings, contacts: list[Contact | None]) -> list[Routed]:
    """Choose the assignees of tickets opening now, one per contact of ``contacts`` and in that order (see the
    module's rules), and mark each as just assigned. One statement for the whole batch: each ticket routed
    counts towards its assignee's load and takes its turn in the round robin for the tickets after it. The
    caller holds the organisation's ticket-number lock (see the module).

    Loads are counted up to the largest capacity plus the batch's size, which decides every "has room"
    exactly; among managers past that count (rule 4) the one assigned least recently takes the ticket.
    """
    account_ids = sorted({contact.account_id for contact in contacts if contact is not None and contact.account_id})
    capacity = select(func.coalesce(func.max(Membership.capacity), 0)).where(
        Membership.role.in_(WORKING_ROLES), Membership.is_active.is_(True)).scalar_subquery()
    cap = capacity + len(contacts)
    rows = db.session.execute(_candidates_statement(settings, account_ids, cap)).all()
    if not rows:
        return [Routed(None, None) for _ in contacts]
    today = local_today(tenant)
    candidates: dict[int, Candidate] = {}
    owners: dict[int, int] = {}
    team_ids = set()
    for row in rows:
        membership = row.Membership
        candidates.setdefault(membership.user_id, Candidate(membership, row.open, is_away(membership, today)))
        if row.owned_account_id is not None:
            owners[row.owned_account_id] = membership.user_id
        if row.in_team:
            team_ids.add(membership.user_id)
    manager_id = rows[0].manager_id
    now = utcnow()
    routes = []
    for n, contact in enumerate(contacts):
        owner_id = owners.get(contact.account_id) if contact is not None and contact.account_id else None
        routed = _route(candidates, owner_id, team_ids, manager_id)
        if routed.candidate is not None:
            # Distinct times keep the round robin's order among the batch's own assignments.
            routed.candidate.membership.last_assigned_at = now + timedelta(microseconds=n)
            routed.candidate.open += 1
        routes.append(Routed(routed.candidate.membership.user if routed.candidate else None, routed.rule,
                             routed.everyone_busy))
    return routes


@dataclass
class _Choice:
    candidate: Candidate | None
    rule: str | None
    everyone_busy: bool = False


def _route(candidates: dict[int, Candidate], owner_id: int | None, team_ids: set[int],
           manager_id: int | None) -> _Choice:
    eligible = [c for c in candidates.values() if c.eligible]
    owner = candidates.get(owner_id)
    if owner is not None and owner.eligible:
        return _Choice(owner, ACCOUNT_OWNER)
    chosen = _round_robin([c for c in eligible if c.user_id in team_ids])
    if chosen is not None:
        return _Choice(chosen, TEAM)
    agents = [c for c in eligible if c.membership.role == Role.AGENT]
    chosen = _round_robin(agents or eligible)
    if chosen is not None:
        return _Choice(chosen, EVERYONE)
    manager = candidates.get(manager_id)
    if manager is None or manager.away:
        managing = [c for c in candidates.values() if c.membership.role in MANAGING_ROLES]
        manager = min(managing, key=lambda c: (c.away, c.open, *c.order()), default=None)
    return _Choice(manager, OVERFLOW, everyone_busy=True)
