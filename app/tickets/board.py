"""The ticket board's queries: a capped count per column and each column's cards, a keyset page at a time.

Every query reads only the rows it shows, through an index that leads with ``tenant_id`` and ``status`` (and
``assignee_id`` for Mine), so a column costs the same with 100 tickets or 100,000: the counts stop at
:data:`COUNT_CAP` ("500+"), and each column is one ``LIMIT`` branch whose "more" link carries a keyset cursor.
The number of statements is fixed: one for the counts and one for the cards of every column.

The cards are read as plain rows, not ORM objects (:class:`Card`): the ticket columns a card shows, and the
contact's, account's, assignee's and response's fields as scalar subqueries by primary key. A statement that
joins five tables costs PostgreSQL more to plan (join orders, under row-level security on each table) than to
run, and the five columns' branches share one statement (``UNION ALL``), so the board plans once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import ColumnElement, Integer, Select, bindparam, case, cast, func, null, select, true, union_all
from sqlalchemy.ext.compiler import compiles

from app.accounts.models import User
from app.contacts.models import Contact
from app.customers.models import CustomerAccount
from app.extensions import db
from app.settings.models import RootCause
from app.surveys.models import BAND_LABELS, Response, SurveyQuestion
from app.tenancy import current_tenant_id, parse_id
from app.tickets.models import STATUSES, Status, Ticket, opened_because, reference, ticket_root_cause
from app.timeutil import UTCDateTime
from app.views import encode_cursor, keyset_query
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


@dataclass(slots=True)
class Card:
    """What a board card shows of a ticket, read as a plain row. It carries the fields
    :func:`app.workflow.ticket_sla.sla_state` reads, so the card's SLA line is computed as a ticket's is."""

    id: int
    number: int
    status: str
    trigger: str
    opened_at: datetime
    first_contact_at: datetime | None
    first_contact_due_at: datetime | None
    first_contact_breach_at: datetime | None
    resolution_due_at: datetime | None
    paused_at: datetime | None
    closed_at: datetime | None
    cadence_complete_at: datetime | None
    score: int
    band: str
    question: str | None
    contact_name: str
    account_name: str | None
    assignee_name: str | None
    plan_done: int
    plan_total: int

    @property
    def reference(self) -> str:
        return reference(self.number)

    @property
    def band_label(self) -> str:
        return BAND_LABELS.get(self.band, self.band)

    @property
    def opened_because(self) -> str:
        return opened_because(self.trigger, self.score, self.band, self.question if self.trigger == "question" else None)


@dataclass
class Column:
    """One column's cards and the cursor of its next cards."""

    cards: list[Card]
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
    if status == Status.CLOSED:
        return [Ticket.closed_at, Ticket.id]
    if sort == "due":
        return [current_due(), Ticket.opened_at, Ticket.id]
    return [Ticket.opened_at, Ticket.id]


# The values a board statement takes at execution, so that a statement is built once per shape of filter
# (:func:`_counts_statement`, :func:`_cards_statement`): building one costs more than planning it.
_TENANT = bindparam("board_tenant", type_=Integer)
_ASSIGNEE = bindparam("board_assignee", type_=Integer)
_CAUSE = bindparam("board_cause", type_=Integer)


def _parameters(board: BoardFilter) -> dict[str, int | None]:
    return {"board_tenant": current_tenant_id(), "board_assignee": board.assignee_id, "board_cause": board.cause_id}


def _in_column(statement: Select, status: str, mine: bool, cause: bool) -> Select:
    # tenant_id and status are spelled out (not only left to the scoping listener) so that the planner
    # matches them to the board indexes inside subqueries too.
    statement = statement.where(Ticket.tenant_id == _TENANT, Ticket.status == status)
    if mine:
        statement = statement.where(Ticket.assignee_id == _ASSIGNEE)
    if cause and status == Status.CLOSED:
        tagged = select(ticket_root_cause.c.ticket_id).where(
            ticket_root_cause.c.tenant_id == _TENANT, ticket_root_cause.c.root_cause_id == _CAUSE)
        statement = statement.where(Ticket.id.in_(tagged))
    return statement


def _capped_count(status: str, mine: bool, cause: bool, lateral: bool) -> ColumnElement:
    """How many tickets a column holds, counting no further than ``COUNT_CAP + 1`` index entries."""
    if cause and status == Status.CLOSED and lateral:
        # Read from the root cause's index entries, each checked against its ticket by primary key: a LATERAL
        # with LIMIT 1 keeps it a nested loop. Written as a join or IN, PostgreSQL hashes every ticket tagged
        # with the cause (13,000 of 100,000) to count 501. (SQLite has no LATERAL; it counts through IN.)
        tagged = ticket_root_cause.c
        ticket = _in_column(select(Ticket.id).where(Ticket.id == tagged.ticket_id), status, mine, False)
        rows = (select(tagged.ticket_id).select_from(ticket_root_cause).join(ticket.limit(1).lateral(), true())
                .where(tagged.tenant_id == _TENANT, tagged.root_cause_id == _CAUSE))
    else:
        rows = _in_column(select(Ticket.id), status, mine, cause)
    return select(func.count()).select_from(rows.limit(COUNT_CAP + 1).subquery()).scalar_subquery()


@lru_cache(maxsize=None)
def _counts_statement(mine: bool, cause: bool, lateral: bool) -> Select:
    return select(*[_capped_count(status, mine, cause, lateral).label(status) for status in STATUSES])


def column_counts(board: BoardFilter) -> dict[str, int]:
    """How many tickets each column holds, counting no further than ``COUNT_CAP + 1``, in one statement."""
    lateral = db.session.get_bind().dialect.name == "postgresql"
    statement = _counts_statement(board.assignee_id is not None, board.cause_id is not None, lateral)
    row = db.session.execute(statement, _parameters(board)).one()
    return dict(zip(STATUSES, row))


def count_label(count: int) -> str:
    """A column count as the board shows it: "500+" past the cap."""
    return f"{COUNT_CAP}+" if count > COUNT_CAP else str(count)


# The ticket columns a card shows (in :class:`Card`'s order), and the ids its other fields are read by.
CARD_TICKET_COLUMNS = (
    Ticket.id, Ticket.number, Ticket.status, Ticket.trigger, Ticket.opened_at, Ticket.first_contact_at,
    Ticket.first_contact_due_at, Ticket.first_contact_breach_at, Ticket.resolution_due_at, Ticket.paused_at,
    Ticket.closed_at, Ticket.cadence_complete_at,
)
CARD_REFERENCES = (Ticket.response_id, Ticket.trigger_question_id, Ticket.contact_id, Ticket.account_id,
                   Ticket.assignee_id)
# Every branch carries this many sort keys, the shorter orders padded in front with NULLs, so that the
# branches of one statement have the same columns; the cursor is the last ``len(order_columns)`` of them.
SORT_KEYS = 3


def _branch(status: str, sort: str, mine: bool, cause: bool, after: str | None, limit: int) -> Select:
    """One column's next ``limit + 1`` tickets: the card's ticket columns, the ids of its other rows and the
    sort keys, through the column's index."""
    order = order_columns(status, sort)
    padding = [cast(null(), UTCDateTime()) for _ in range(SORT_KEYS - len(order))]
    keys = [key.label(f"sort_{i}") for i, key in enumerate([*padding, *order])]
    statement = _in_column(select(*CARD_TICKET_COLUMNS, *CARD_REFERENCES, *keys), status, mine, cause)
    return keyset_query(statement, order, after=after, limit=limit, descending=status == Status.CLOSED)


def _build_cards_statement(pages: tuple[tuple[str, str | None], ...], sort: str, mine: bool, cause: bool,
                           limit: int) -> Select:
    """The cards of each column in ``pages`` ((status, cursor) pairs): each column's branch, then for the
    rows they found the response, trigger question, contact, account, assignee and action-plan progress."""
    branches = [_branch(status, sort, mine, cause, after, limit) for status, after in pages]
    page = (branches[0] if len(branches) == 1 else union_all(*[select(b.subquery()) for b in branches])).subquery()
    plan = select(func.count(ActionPlanItem.id)).where(ActionPlanItem.ticket_id == page.c.id)
    return select(
        *[page.c[column.key] for column in CARD_TICKET_COLUMNS],
        select(Response.score).where(Response.id == page.c.response_id).scalar_subquery(),
        select(Response.band).where(Response.id == page.c.response_id).scalar_subquery(),
        select(SurveyQuestion.prompt).where(SurveyQuestion.id == page.c.trigger_question_id).scalar_subquery(),
        select(Contact.name).where(Contact.id == page.c.contact_id).scalar_subquery(),
        select(CustomerAccount.name).where(CustomerAccount.id == page.c.account_id).scalar_subquery(),
        select(User.name).where(User.id == page.c.assignee_id).scalar_subquery(),
        plan.where(ActionPlanItem.done_at.is_not(None)).scalar_subquery(),
        plan.scalar_subquery(),
        *[page.c[f"sort_{i}"] for i in range(SORT_KEYS)],
    )


# First pages (no cursor) are the board's every request: their statements are kept, one per shape.
_first_cards_statement = lru_cache(maxsize=None)(_build_cards_statement)


def _cards(pages: dict[str, str | None], board: BoardFilter, limit: int) -> dict[str, Column]:
    """The cards of each column in ``pages`` (status → cursor), in one statement."""
    shape = (tuple(pages.items()), board.sort, board.assignee_id is not None, board.cause_id is not None, limit)
    build = _first_cards_statement if not any(pages.values()) else _build_cards_statement
    rows: dict[str, list] = {status: [] for status in pages}
    for row in db.session.execute(build(*shape), _parameters(board)):
        rows[row.status].append(row)
    columns = {}
    for status, found in rows.items():
        width = len(order_columns(status, board.sort))
        next_cursor = encode_cursor(found[limit - 1][-width:]) if len(found) > limit else None
        cards = [Card(*row[:-SORT_KEYS - 2], row[-SORT_KEYS - 2] or 0, row[-SORT_KEYS - 1] or 0)
                 for row in found[:limit]]
        columns[status] = Column(cards=cards, next_cursor=next_cursor)
    return columns


def column(status: str, board: BoardFilter, after: str | None = None, limit: int = COLUMN_LIMIT) -> Column:
    """``limit`` cards of one column after the cursor ``after``, with contact, response, account, assignee,
    trigger question (why it opened) and action-plan progress, in one statement."""
    return _cards({status: after}, board, limit)[status]


def columns(board: BoardFilter) -> dict[str, Column]:
    """The first cards of every column, in one statement."""
    return _cards(dict.fromkeys(STATUSES), board, COLUMN_LIMIT)
