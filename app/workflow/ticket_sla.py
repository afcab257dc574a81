"""A ticket's SLA as people read it, the notices it owes, and the pause and resume of its resolution clock.

Two clocks run one after the other. First contact runs from opening until the first attempt the SLA
settings count is logged (a call only, or a call or a personal email: :func:`stops_first_contact`); resolution runs from opening until the ticket closes. The board and the ticket page
show the clock that matters now (first contact until it is met, then resolution) as one of:

* **ok**: less than 75% of the window has gone;
* **at risk**: 75% or more of the window has gone (the window is the real time from opening to the due
  time, so the at-risk alert comes with a quarter of the window still left, even across a weekend);
* **overdue**: past the due time;
* **paused**: "Waiting on customer" stops the resolution clock. Moving the ticket on gives back the
  working time the pause took: the due time moves by the clock time (business hours and holidays
  counted as the organisation's SLA settings say) that ran while it was paused.

Each clock owes two notices, written as ``ScheduledNotice`` rows when the clock starts: at risk, at the
at-risk moment, and breached, at the breach time (for first contact, the breach time set in the SLA
settings; for resolution, its due time). Meeting a clock, pausing it and closing the ticket cancel them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Boolean, ColumnElement, and_, case, literal, literal_column, not_
from sqlalchemy.ext.compiler import compiles

from app.business_time import Calendar
from app.tickets.models import Status, Ticket
from app.timeutil import utcnow
from app.workflow import notices

AT_RISK_FRACTION = 0.75
FIRST_CONTACT_KINDS = ("first_contact_at_risk", "first_contact_breached")
RESOLUTION_KINDS = ("resolution_at_risk", "resolution_breached")


@dataclass(frozen=True)
class SlaState:
    """What a person sees: which clock, how it stands, a sentence that says so, and the due time."""

    clock: str  # "first_contact" or "resolution"
    level: str  # "ok", "at_risk", "overdue", "paused", "met" or "missed"
    text: str
    due_at: datetime | None = None
    breach_at: datetime | None = None

    @property
    def css_class(self) -> str:
        return f"sla-{self.level.replace('_', '-')}"


def stops_first_contact(stopped_by: str, kind: str) -> bool:
    """Whether logging a ``kind`` of attempt ("call" or "email") meets the first-contact clock when the
    settings say it is stopped by ``stopped_by`` ("call" or "call_or_email")."""
    return kind == "call" or stopped_by == "call_or_email"


def at_risk_moment(start: datetime, due: datetime) -> datetime:
    """When 75% of the window from ``start`` to ``due`` has gone."""
    return start + (due - start) * AT_RISK_FRACTION


def span(delta: timedelta) -> str:
    """A duration as people say it on a board: "40 min", "3 h", "5 days"."""
    minutes = max(int(delta.total_seconds() // 60), 1)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    days = round(hours / 24)
    return f"{days} days"


def sla_state(ticket: Ticket, now: datetime | None = None) -> SlaState | None:
    """How the ticket's SLA stands at ``now``, or None when the ticket has no due times. Reads only the ticket's
    status and times, so a board card (:class:`app.tickets.board.Card`) is read the same way."""
    now = now or utcnow()
    if ticket.status == Status.CLOSED:
        due, closed = ticket.resolution_due_at, ticket.closed_at
        if due is None or closed is None:
            return None
        if closed <= due:
            return SlaState("resolution", "met", "Closed within the resolution target", due)
        return SlaState("resolution", "missed", f"Closed {span(closed - due)} after the resolution target", due)
    if ticket.first_contact_at is None and ticket.first_contact_due_at is not None:
        clock, label, due = "first_contact", "First contact", ticket.first_contact_due_at
        breach = ticket.first_contact_breach_at or due
    elif ticket.paused_at is not None:
        return SlaState("resolution", "paused", "Paused — waiting on customer", ticket.resolution_due_at)
    elif ticket.resolution_due_at is not None:
        clock, label, due = "resolution", "Resolution", ticket.resolution_due_at
        breach = due
    else:
        return None
    if now >= due:
        return SlaState(clock, "overdue", f"{label} overdue by {span(now - due)}", due, breach)
    if now >= at_risk_moment(ticket.opened_at, due):
        return SlaState(clock, "at_risk", f"At risk: {label.lower()} due in {span(due - now)}", due, breach)
    return SlaState(clock, "ok", f"{label} due in {span(due - now)}", due, breach)


# The levels a working ticket can be filtered by, and what the ticket list calls them.
SLA_FILTERS = {"ok": "On time", "at_risk": "At risk", "overdue": "Breached (past due)", "paused": "Paused"}


class _Reached(ColumnElement):
    """``now`` has reached ``fraction`` of the way from ``start`` to ``due`` (SQL for :func:`at_risk_moment`)."""

    type = Boolean()
    inherit_cache = False

    def __init__(self, now: datetime, start, due, fraction: float):
        self.now, self.start, self.due, self.fraction = now, start, due, fraction


@compiles(_Reached, "postgresql")
def _reached_postgresql(element, compiler, **kw) -> str:
    start, due = compiler.process(element.start, **kw), compiler.process(element.due, **kw)
    now = compiler.process(_bind(element.now), **kw)
    return f"({now} >= {start} + ({due} - {start}) * {float(element.fraction)!r})"


@compiles(_Reached)
def _reached_other(element, compiler, **kw) -> str:
    start, due = compiler.process(element.start, **kw), compiler.process(element.due, **kw)
    now = compiler.process(_bind(element.now), **kw)
    return (f"(julianday({now}) >= julianday({start}) + (julianday({due}) - julianday({start})) "
            f"* {float(element.fraction)!r})")


def _bind(moment: datetime):
    return literal(moment, Ticket.opened_at.type)


def sla_condition(level: str, now: datetime) -> ColumnElement[bool]:
    """The SQL twin of :func:`sla_state` for a working ticket: true for the tickets whose SLA stands at
    ``level`` ("ok", "at_risk", "overdue" or "paused") at ``now``. Closed tickets match no level."""
    first_contact = and_(Ticket.first_contact_at.is_(None), Ticket.first_contact_due_at.is_not(None))
    # A constant, not a parameter, so that the planner can match it to the partial indexes of open tickets.
    working = Ticket.status != literal_column(f"'{Status.CLOSED.value}'")
    if level == "paused":
        return and_(working, not_(first_contact), Ticket.paused_at.is_not(None))
    due = case((first_contact, Ticket.first_contact_due_at),
               (Ticket.paused_at.is_(None), Ticket.resolution_due_at), else_=None)
    running = and_(working, due.is_not(None))
    if level == "overdue":
        return and_(running, due <= now)
    at_risk = _Reached(now, Ticket.opened_at, due, AT_RISK_FRACTION)
    if level == "at_risk":
        return and_(running, due > now, at_risk)
    if level == "ok":
        return and_(running, due > now, not_(at_risk))
    raise ValueError(f"unknown SLA level {level!r}")


def notice_key(ticket_id: int, kind: str) -> str:
    return f"ticket:{ticket_id}:{kind}"


def schedule_notices(ticket: Ticket, *, opening: bool = False) -> None:
    """Owe the notices of every clock that runs now: first contact until met, resolution unless paused.

    Used when a ticket opens, reopens and resumes. A notice already sent is not sent again. A ticket that
    is ``opening`` owes nothing yet, so its notices are added as new rows without looking each key up
    first: they go out with the ticket's other rows in one INSERT.
    """
    if ticket.status == Status.CLOSED:
        return
    owed = []
    if ticket.first_contact_at is None and ticket.first_contact_due_at is not None:
        owed.append(("first_contact_at_risk", at_risk_moment(ticket.opened_at, ticket.first_contact_due_at)))
        owed.append(("first_contact_breached", ticket.first_contact_breach_at or ticket.first_contact_due_at))
    if ticket.paused_at is None and ticket.resolution_due_at is not None:
        owed.append(("resolution_at_risk", at_risk_moment(ticket.opened_at, ticket.resolution_due_at)))
        owed.append(("resolution_breached", ticket.resolution_due_at))
    for kind, due_at in owed:
        if opening:
            notices.add_new(key=notice_key(ticket.id, kind), kind=kind, due_at=due_at, ticket_id=ticket.id)
        else:
            notices.schedule(key=notice_key(ticket.id, kind), kind=kind, due_at=due_at, ticket_id=ticket.id)


def cancel_notices(ticket: Ticket, kinds: tuple[str, ...]) -> None:
    for kind in kinds:
        notices.cancel(notice_key(ticket.id, kind))


def pause(ticket: Ticket, now: datetime | None = None) -> None:
    """Stop the resolution clock (the ticket waits on the customer); its notices are no longer owed."""
    if ticket.paused_at is None:
        ticket.paused_at = now or utcnow()
    cancel_notices(ticket, RESOLUTION_KINDS)


def resume(ticket: Ticket, clock: Calendar, now: datetime | None = None) -> None:
    """Restart the resolution clock: the due time moves by the clock time the pause took, and its
    notices are owed again at the new times."""
    now = now or utcnow()
    paused_at, ticket.paused_at = ticket.paused_at, None
    if paused_at is not None and ticket.resolution_due_at is not None:
        paused_for = clock.elapsed(paused_at, now)
        if paused_for > timedelta(0):
            ticket.resolution_due_at = clock.add(ticket.resolution_due_at, paused_for.total_seconds() / 3600)
    schedule_notices(ticket)
