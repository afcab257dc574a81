"""The ticket list: filters read from the query string, the orders it can be sorted in, and one keyset page.

Everything the list shows is in the URL (``?status=open&assignee=me&sort=due``), so a view can be bookmarked,
shared and saved (:class:`~app.tickets.models.SavedView` keeps the query string). A value the list does not
know is ignored, never an error; dates that are not dates are reported next to their field. ``GET
/api/v1/tickets`` takes the same arguments (checked strictly there), builds the same :class:`ListFilter` with
:func:`parse_filter` and reads the same :func:`ticket_page`.

A page is one statement whatever its size: the tickets after the cursor, joined to their response, contact,
assignee and account. Each order has an index that leads with ``tenant_id`` and holds the sort keys
(migration 0013; "Open" tickets have partial indexes of their own), so a page deep in the list costs what the
first does. Free text goes through :func:`app.search.matching_ids`, which the trigram indexes answer.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, false, literal_column, select, union
from sqlalchemy.orm import contains_eager, joinedload
from werkzeug.datastructures import MultiDict

from app.contacts.models import Contact
from app.customers.models import CustomerAccount
from app.extensions import db
from app.search import matching_ids
from app.surveys.models import Response
from app.tenancy import current_tenant_id, parse_id, scoped_by_hand
from app.teams.models import team_member
from app.tickets.board import _NoDue
from app.tickets.models import STATUSES, Activity, Status, Ticket, ticket_root_cause
from app.timeutil import utcnow
from app.views import KeysetPage, capped_count, keyset_page
from app.workflow.ticket_sla import SLA_FILTERS, sla_condition

SORTS = {"opened": "Opened", "due": "SLA due", "score": "Score", "status": "Status", "updated": "Last update"}
# The direction each order starts in when its column heading is chosen.
FIRST_DIRECTION = {"opened": "desc", "due": "asc", "score": "asc", "status": "asc", "updated": "desc"}
BANDS = {"detractor": "Detractor", "passive": "Passive", "promoter": "Promoter"}
TRIGGERS = {"score": "Low score", "question": "Trigger question answered No"}
OPEN = "open"
COUNT_CAP = 500
SEARCH_MAX = 200
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
# The condition of the partial indexes of open tickets, written as a constant (not a parameter) so that the
# planner can match it to them.
_NOT_CLOSED = literal_column(f"'{Status.CLOSED.value}'")


@dataclass
class ListFilter:
    """What the list shows and in which order; each field is a query-string argument of the same name
    (``opened_from`` / ``opened_to`` are ISO dates in the organisation's timezone)."""

    status: str = ""
    band: str = ""
    trigger: str = ""
    assignee: str = ""  # "me", "none" or a member's id
    team: str = ""  # "mine" (any team I am in) or a team's id
    account: str = ""  # part of the account's name
    account_id: str = ""  # one account, by id
    contact_id: str = ""  # one contact, by id
    sla: str = ""
    cause: str = ""
    opened_from: str = ""
    opened_to: str = ""
    updated_since: str = ""  # an ISO 8601 time (UTC unless it says its offset)
    q: str = ""
    sort: str = "opened"
    dir: str = "desc"
    errors: dict[str, str] = field(default_factory=dict)
    team_ids: list[int] | None = field(default=None, repr=False)  # the team's members, once read

    def args(self, **changes) -> dict[str, str]:
        """The query-string arguments that say this filter (defaults left out), with ``changes`` applied."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("errors", "team_ids")}
        values.update(changes)
        if values.get("sort") == "opened" and values.get("dir") == "desc":
            values.pop("sort"), values.pop("dir")
        return {name: value for name, value in values.items() if value}

    @property
    def narrowed(self) -> bool:
        """Whether any filter (not only an order) is chosen."""
        return any(value for name, value in self.args().items() if name not in ("sort", "dir"))


def _choice(value: str | None, allowed) -> str:
    return value if value in allowed else ""


def _member_choice(value: str | None, words: tuple[str, ...]) -> str:
    if value in words:
        return value
    number = parse_id(value)
    return str(number) if number is not None else ""


def parse_filter(args: MultiDict) -> ListFilter:
    """The list's filter from query-string (or form) arguments; unknown values mean "any"."""
    chosen = ListFilter(
        status=_choice(args.get("status"), {OPEN, *STATUSES}),
        band=_choice(args.get("band"), BANDS),
        trigger=_choice(args.get("trigger"), TRIGGERS),
        assignee=_member_choice(args.get("assignee"), ("me", "none")),
        team=_member_choice(args.get("team"), ("mine",)),
        account=(args.get("account") or "").strip()[:SEARCH_MAX],
        account_id=_member_choice(args.get("account_id"), ()),
        contact_id=_member_choice(args.get("contact_id"), ()),
        sla=_choice(args.get("sla"), SLA_FILTERS),
        cause=_member_choice(args.get("cause"), ()),
        q=(args.get("q") or "").strip()[:SEARCH_MAX],
        sort=_choice(args.get("sort"), SORTS) or "opened",
    )
    chosen.dir = _choice(args.get("dir"), ("asc", "desc")) or FIRST_DIRECTION[chosen.sort]
    for name in ("opened_from", "opened_to"):
        raw = (args.get(name) or "").strip()
        if not raw:
            continue
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            chosen.errors[name] = "Enter a date as YYYY-MM-DD."
            continue
        if not FIRST_DAY <= day <= LAST_DAY:
            chosen.errors[name] = f"Enter a date between {FIRST_DAY.year} and {LAST_DAY.year}."
            continue
        setattr(chosen, name, raw)
    raw = (args.get("updated_since") or "").strip()
    if raw:
        if _moment(raw) is None:
            chosen.errors["updated_since"] = "Enter a time as ISO 8601, e.g. 2026-11-30T09:00:00Z."
        else:
            chosen.updated_since = raw
    return chosen


def _moment(raw: str) -> datetime | None:
    """An ISO 8601 time, in UTC when it gives no offset; None when it is not one."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt_timezone.utc)


def _local_midnight(day: str, timezone: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(0), ZoneInfo(timezone))


def team_members(chosen: ListFilter, user_id: int) -> list[int]:
    """The ids of the members of the team the filter names ("mine": every team ``user_id`` is in), read once
    per filter: one statement."""
    if chosen.team_ids is None:
        tenant_id = current_tenant_id()
        members = select(team_member.c.user_id).where(team_member.c.tenant_id == tenant_id).distinct()
        if chosen.team == "mine":
            mine = select(team_member.c.team_id).where(team_member.c.tenant_id == tenant_id,
                                                       team_member.c.user_id == user_id)
            members = members.where(team_member.c.team_id.in_(mine))
        else:
            members = members.where(team_member.c.team_id == int(chosen.team))
        chosen.team_ids = sorted(db.session.execute(scoped_by_hand(members)).scalars())
    return chosen.team_ids


def conditions(chosen: ListFilter, user_id: int, timezone: str, now: datetime | None = None) -> list[ColumnElement]:
    """The WHERE conditions of ``chosen`` for the member ``user_id``; dates are days in ``timezone``."""
    tenant_id = current_tenant_id()
    # tenant_id is spelled out (not only left to the scoping listener) so that the planner matches it to the
    # list's indexes inside subqueries too.
    where: list[ColumnElement] = [Ticket.tenant_id == tenant_id]
    if chosen.status == OPEN:
        where.append(Ticket.status != _NOT_CLOSED)
    elif chosen.status:
        where.append(Ticket.status == chosen.status)
    if chosen.band:
        where.append(Response.band == chosen.band)
    if chosen.trigger:
        where.append(Ticket.trigger == chosen.trigger)
    if chosen.assignee == "me":
        where.append(Ticket.assignee_id == user_id)
    elif chosen.assignee == "none":
        where.append(Ticket.assignee_id.is_(None))
    elif chosen.assignee:
        where.append(Ticket.assignee_id == int(chosen.assignee))
    if chosen.team:
        # The members are written into the statement as constants: the planner then counts each one's tickets
        # from the column's statistics, where a subquery would be guessed at a few rows and a plan chosen that
        # reads every one of a large team's tickets to show one page.
        members = team_members(chosen, user_id)
        where.append(Ticket.assignee_id.in_([literal_column(str(int(i))) for i in members]) if members else false())
    if chosen.account:
        where.append(Ticket.account_id.in_(matching_ids(CustomerAccount, ["name"], chosen.account)))
    if chosen.account_id:
        where.append(Ticket.account_id == int(chosen.account_id))
    if chosen.contact_id:
        where.append(Ticket.contact_id == int(chosen.contact_id))
    if chosen.updated_since:
        where.append(Ticket.updated_at >= _moment(chosen.updated_since))
    if chosen.sla:
        where.append(sla_condition(chosen.sla, now or utcnow()))
    if chosen.cause:
        where.append(Ticket.id.in_(select(ticket_root_cause.c.ticket_id).where(
            ticket_root_cause.c.tenant_id == tenant_id, ticket_root_cause.c.root_cause_id == int(chosen.cause))))
    if chosen.opened_from:
        where.append(Ticket.opened_at >= _local_midnight(chosen.opened_from, timezone))
    if chosen.opened_to:
        where.append(Ticket.opened_at < _local_midnight(chosen.opened_to, timezone) + timedelta(days=1))
    if chosen.q:
        # One set of ticket ids, each part read through an index: an OR of the three would be checked row by
        # row over every ticket of the organisation.
        matches = union(
            select(Ticket.id).where(Ticket.tenant_id == tenant_id,
                                    Ticket.contact_id.in_(matching_ids(Contact, ["name"], chosen.q))),
            select(Ticket.id).where(Ticket.tenant_id == tenant_id,
                                    Ticket.response_id.in_(matching_ids(Response, ["comment"], chosen.q))),
            select(Activity.ticket_id).where(Activity.tenant_id == tenant_id,
                                             Activity.id.in_(matching_ids(Activity, ["body"], chosen.q))),
        )
        where.append(Ticket.id.in_(matches))
    return where


def due_key() -> ColumnElement:
    """The SLA due time a ticket races (:func:`app.tickets.board.current_due`: first contact until it is met,
    then resolution; undated last), written with CASE alone. Under row-level security PostgreSQL starts an
    index scan at a cursor only through conditions it knows leak nothing, and it does not know that of
    COALESCE: with it, a page deep in the SLA order would read every ticket before it."""
    return case(
        (Ticket.first_contact_at.is_(None),
         case((Ticket.first_contact_due_at.is_(None), _NoDue()), else_=Ticket.first_contact_due_at)),
        else_=case((Ticket.resolution_due_at.is_(None), _NoDue()), else_=Ticket.resolution_due_at),
    )


def sort_keys(sort: str) -> list[ColumnElement]:
    """The keyset of an order, ending with a unique column: each is the key list of one of the list's indexes.

    Status sorts by the stored name, which is also the order of the statuses' labels (Action plan, Closed,
    Contacted, New, Waiting on customer); score by the response's score (one response per ticket).
    """
    if sort == "due":
        return [due_key(), Ticket.opened_at, Ticket.id]
    if sort == "score":
        return [Response.score, Response.id]
    if sort == "status":
        return [Ticket.status, Ticket.opened_at, Ticket.id]
    if sort == "updated":
        return [Ticket.updated_at, Ticket.id]
    return [Ticket.opened_at, Ticket.id]


def ticket_page(chosen: ListFilter, user_id: int, timezone: str, *, after: str | None = None,
                limit: int = 25) -> KeysetPage:
    """``limit`` tickets after the cursor ``after``, with response, contact, assignee and account: one statement."""
    statement = (
        select(Ticket).join(Ticket.response)
        .options(contains_eager(Ticket.response), joinedload(Ticket.contact), joinedload(Ticket.assignee),
                 joinedload(Ticket.account))
        .where(*conditions(chosen, user_id, timezone))
    )
    return keyset_page(statement, sort_keys(chosen.sort), after=after, limit=limit, descending=chosen.dir == "desc")


def match_count(chosen: ListFilter, user_id: int, timezone: str) -> int:
    """How many tickets the filter matches, counting no further than ``COUNT_CAP + 1``: one statement."""
    statement = select(Ticket.id).where(*conditions(chosen, user_id, timezone))
    if chosen.band:
        statement = statement.join(Ticket.response)
    return capped_count(statement, COUNT_CAP)


def count_label(count: int) -> str:
    return f"{COUNT_CAP}+" if count > COUNT_CAP else f"{count:,}"


def ids_in_order(ticket_ids: list[int]) -> list[Ticket]:
    """The current tenant's tickets among ``ticket_ids``, by number (ids of other organisations find nothing)."""
    return list(db.session.execute(
        select(Ticket).where(Ticket.id.in_(ticket_ids)).options(joinedload(Ticket.assignee)).order_by(Ticket.number)
    ).scalars())
