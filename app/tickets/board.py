"""The ticket board's queries: a capped count per column and each column's cards, a keyset page at a time.

Every query reads only the rows it shows, through an index that leads with ``tenant_id`` and ``status`` (and
``assignee_id`` for Mine), so a column costs the same with 100 tickets or 100,000: the counts stop at
:data:`COUNT_CAP` ("500+"), and each column is one ``LIMIT`` query whose "more" link carries a keyset cursor.
The number of statements is fixed: one for the counts and one per column.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import defer, joinedload

from app.accounts.models import User
from app.contacts.models import Contact
from app.customers.models import CustomerAccount
from app.extensions import db
from app.settings.models import RootCause
from app.surveys.models import Response, SurveyQuestion
from app.tenancy import current_tenant_id, parse_id
from app.tickets.models import STATUSES, Ticket, ticket_root_cause
from app.timeutil import UTCDateTime
from app.views import keyset_page
from app.workflow.models import ActionPlanItem

COLUMN_LIMIT = 20
COUNT_CAP = 500


class _NoDue(ColumnElement):
    """The far-future due time that tickets without one sort by (a keyset needs sort keys without NULLs).

    Written into the SQL as a constant, not a parameter, so that the expression is the one the
    ``ix_ticket_board_due`` index of migration 0006 holds.
    """

    type = UTCDateTime()
    # No state: the class alone is the cache key, so statements using it keep SQLAlchemy's compiled cache.
    _traverse_internals = []
    inherit_cache = True


@compiles(_NoDue)
def _no_due(element, compiler, **kw) -> str:
    return "'9999-12-31 00:00:00.000000'"


@compiles(_NoDue, "postgresql")
def _no_due_postgresql(element, compiler, **kw) -> str:
    return "CAST('9999-12-31 00:00:00+00' AS TIMESTAMP WITH TIME ZONE)"


@dataclass
class BoardFilter:
    """What the board shows: one assignee's tickets or all, closed ones of one root cause, and the order."""

    assignee_id: int | None = None
    cause_id: int | None = None
    sort: str = "oldest"


@dataclass
class Column:
    """One column's cards (each with ``plan_done`` / ``plan_total``) and the cursor of its next cards."""

    cards: list[Ticket]
    next_cursor: str | None


def root_cause_or_none(raw: str | None) -> RootCause | None:
    """The current tenant's root cause named by a ``?cause=`` argument; anything else means no filter."""
    cause_id = parse_id(raw)
    if cause_id is None:
        return None
    return db.session.execute(select(RootCause).where(RootCause.id == cause_id)).scalar_one_or_none()


def current_due():
    """The SLA due time a working ticket is racing: first contact until it is met, then resolution."""
    return func.coalesce(
        case((Ticket.first_contact_at.is_(None), Ticket.first_contact_due_at), else_=Ticket.resolution_due_at),
        _NoDue(),
    )


def order_columns(status: str, sort: str) -> list[ColumnElement]:
    """A column's sort keys: the closed column newest closed first (read descending), working columns the
    longest waiting first, or with ``sort="due"`` the soonest SLA due time first."""
    if status == "closed":
        return [Ticket.closed_at, Ticket.id]
    if sort == "due":
        return [current_due(), Ticket.opened_at, Ticket.id]
    return [Ticket.opened_at, Ticket.id]


def _in_column(statement: Select, status: str, board: BoardFilter) -> Select:
    # tenant_id and status are spelled out (not only left to the scoping listener) so that the planner
    # matches them to the board indexes inside subqueries too.
    statement = statement.where(Ticket.tenant_id == current_tenant_id(), Ticket.status == status)
    if board.assignee_id is not None:
        statement = statement.where(Ticket.assignee_id == board.assignee_id)
    if board.cause_id is not None and status == "closed":
        tagged = select(ticket_root_cause.c.ticket_id).where(
            ticket_root_cause.c.tenant_id == current_tenant_id(), ticket_root_cause.c.root_cause_id == board.cause_id)
        statement = statement.where(Ticket.id.in_(tagged))
    return statement


def column_counts(board: BoardFilter) -> dict[str, int]:
    """How many tickets each column holds, counting no further than ``COUNT_CAP + 1``, in one statement."""
    capped = [
        select(func.count()).select_from(
            _in_column(select(Ticket.id), status, board).limit(COUNT_CAP + 1).subquery()
        ).scalar_subquery().label(status)
        for status in STATUSES
    ]
    row = db.session.execute(select(*capped)).one()
    return dict(zip(STATUSES, row))


def count_label(count: int) -> str:
    """A column count as the board shows it: "500+" past the cap."""
    return f"{COUNT_CAP}+" if count > COUNT_CAP else str(count)


# What a card shows, and no more: a card is built ~100 times per board, so every column loaded counts.
CARD_LOADING = (
    defer(Ticket.closing_note), defer(Ticket.updated_at),
    joinedload(Ticket.contact).load_only(Contact.name),
    joinedload(Ticket.account).load_only(CustomerAccount.name, CustomerAccount.status),
    joinedload(Ticket.response).load_only(Response.score, Response.band),
    joinedload(Ticket.assignee).load_only(User.name),
    joinedload(Ticket.trigger_question).load_only(SurveyQuestion.prompt),
)


def column(status: str, board: BoardFilter, after: str | None = None, limit: int = COLUMN_LIMIT) -> Column:
    """``limit`` cards of one column after the cursor ``after``, with contact, response, assignee, trigger
    question (why it opened) and action-plan progress, in one statement."""
    items = select(func.count(ActionPlanItem.id)).where(ActionPlanItem.ticket_id == Ticket.id)
    plan_total = items.correlate(Ticket).scalar_subquery()
    plan_done = items.where(ActionPlanItem.done_at.is_not(None)).correlate(Ticket).scalar_subquery()
    statement = _in_column(
        select(Ticket, plan_done, plan_total).options(*CARD_LOADING),
        status, board,
    )
    page = keyset_page(statement, order_columns(status, board.sort), after=after, limit=limit,
                       descending=status == "closed")
    cards = []
    for ticket, done, total in page.items:
        ticket.plan_done, ticket.plan_total = done or 0, total or 0
        cards.append(ticket)
    return Column(cards=cards, next_cursor=page.next_cursor)


def columns(board: BoardFilter) -> dict[str, Column]:
    """The first cards of every column: one statement per column."""
    return {status: column(status, board) for status in STATUSES}
