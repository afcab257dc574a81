"""Every metric's definition, in one place, used by the pages, the digest, the export and the API alike."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import aliased

from app.accounts.models import User
from app.extensions import db
from app.settings.models import RootCause
from app.surveys.models import Response, SurveyInvitation
from app.tickets.models import Status, Ticket, ticket_root_cause

# Recovery and the weekly digest.
#
# A *re-surveyed detractor* is a ticket whose opening response was in the detractor band and whose recovery
# re-survey (an invitation carrying the ticket in ``followup_ticket_id``) has been answered; the period is
# the time the follow-up answer was recorded (``Response.created_at`` of the follow-up), [start, end).


@dataclass(frozen=True)
class Recovery:
    """Re-surveyed detractors and how they answer now."""

    resurveyed: int
    now_passive: int
    now_promoter: int
    average_change: float | None

    @property
    def recovered(self) -> int:
        return self.now_passive + self.now_promoter

    @property
    def rate(self) -> float | None:
        """Recovery rate: re-surveyed detractors who now answer in the passive (7–8) or promoter (9–10) band,
        as a share of all re-surveyed detractors (None when there are none)."""
        return self.recovered / self.resurveyed if self.resurveyed else None


def _recovery_rows(start: datetime | None, end: datetime | None):
    """(ticket, original response, follow-up response) for re-surveyed detractors answered in the period."""
    original, followup = aliased(Response), aliased(Response)
    statement = (
        select(Ticket.id.label("ticket_id"), Ticket.assignee_id.label("assignee_id"),
               original.score.label("before"), followup.score.label("after"), followup.band.label("band"))
        .select_from(Ticket)
        .join(original, original.id == Ticket.response_id)
        .join(SurveyInvitation, SurveyInvitation.followup_ticket_id == Ticket.id)
        .join(followup, followup.invitation_id == SurveyInvitation.id)
        .where(original.band == "detractor")
    )
    if start is not None:
        statement = statement.where(followup.created_at >= start)
    if end is not None:
        statement = statement.where(followup.created_at < end)
    return statement


def _recovery_columns(rows):
    return (func.count().label("resurveyed"),
            func.count().filter(rows.c.band == "passive").label("now_passive"),
            func.count().filter(rows.c.band == "promoter").label("now_promoter"),
            func.avg(rows.c.after - rows.c.before).label("average_change"))


def _recovery(row) -> Recovery:
    return Recovery(row.resurveyed, row.now_passive, row.now_promoter,
                    float(row.average_change) if row.average_change is not None else None)


def recovery(start: datetime | None = None, end: datetime | None = None) -> Recovery:
    """The recovery figures: how many detractors answered their re-survey in [start, end), how many of them
    now answer passive (7–8) or promoter (9–10), and the average score change (follow-up score minus the
    score that opened the ticket) over those re-surveyed detractors. One aggregate statement."""
    rows = _recovery_rows(start, end).subquery()
    return _recovery(db.session.execute(select(*_recovery_columns(rows))).one())


def recovery_by_root_cause(start: datetime | None = None, end: datetime | None = None) -> list[tuple[str, Recovery]]:
    """:func:`recovery` per root cause of the re-surveyed tickets, by root-cause label (a ticket with two root
    causes counts under each)."""
    rows = _recovery_rows(start, end).subquery()
    statement = (select(RootCause.label, *_recovery_columns(rows))
                 .select_from(rows)
                 .join(ticket_root_cause, ticket_root_cause.c.ticket_id == rows.c.ticket_id)
                 .join(RootCause, RootCause.id == ticket_root_cause.c.root_cause_id)
                 .group_by(RootCause.label).order_by(RootCause.label))
    return [(row.label, _recovery(row)) for row in db.session.execute(statement)]


def recovery_by_member(start: datetime | None = None, end: datetime | None = None) -> list[tuple[str, Recovery]]:
    """:func:`recovery` per member the re-surveyed ticket is assigned to, by name ("Unassigned" last)."""
    rows = _recovery_rows(start, end).subquery()
    statement = (select(User.name, *_recovery_columns(rows))
                 .select_from(rows).outerjoin(User, User.id == rows.c.assignee_id)
                 .group_by(User.name).order_by(User.name.is_(None), User.name))
    return [(row.name or "Unassigned", _recovery(row)) for row in db.session.execute(statement)]


@dataclass(frozen=True)
class NpsCount:
    promoters: int
    passives: int
    detractors: int

    @property
    def responses(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def nps(self) -> int | None:
        """Net Promoter Score: % promoters − % detractors, rounded to a whole number (None without responses)."""
        if not self.responses:
            return None
        return round(100 * (self.promoters - self.detractors) / self.responses)


def nps_between(start: datetime, end: datetime) -> NpsCount:
    """The responses recorded in [start, end) by band (each response counts once, with its latest score: an
    amended answer updates its row in place). One aggregate statement."""
    row = db.session.execute(
        select(func.count().filter(Response.band == "promoter"), func.count().filter(Response.band == "passive"),
               func.count().filter(Response.band == "detractor"))
        .where(Response.created_at >= start, Response.created_at < end)
    ).one()
    return NpsCount(*row)


@dataclass(frozen=True)
class Digest:
    """The weekly digest's figures for the week [start, end)."""

    nps: NpsCount
    previous: NpsCount
    new_detractors: list[tuple[int, str]]  # (ticket number, status) of tickets opened in the week
    new_detractors_total: int
    breaching: list[int]  # numbers of open tickets past a due time now
    breaching_total: int
    top_root_causes: list[tuple[str, int]]
    recovery: Recovery

    @property
    def nps_change(self) -> int | None:
        """This week's NPS minus the previous week's (None when either week had no responses)."""
        if self.nps.nps is None or self.previous.nps is None:
            return None
        return self.nps.nps - self.previous.nps


DIGEST_LIST_LIMIT = 20


def weekly_digest(start: datetime, end: datetime, previous_start: datetime, now: datetime) -> Digest:
    """The digest's figures: NPS for [start, end) and for [previous_start, start); the tickets opened in the
    week and their status now (detractors that opened a ticket); the open tickets past their first-contact or
    resolution due time at ``now``; the five most frequent root causes of tickets closed in the week (by
    count, then label); and :func:`recovery` for the week. A fixed number of statements; lists stop at
    :data:`DIGEST_LIST_LIMIT` with the totals alongside."""
    opened = select(Ticket.number, Ticket.status).where(Ticket.opened_at >= start, Ticket.opened_at < end)
    overdue = and_(Ticket.status != Status.CLOSED, case(
        (Ticket.first_contact_at.is_(None), Ticket.first_contact_due_at), else_=Ticket.resolution_due_at) < now)
    breaching = select(Ticket.number).where(overdue)
    causes = db.session.execute(
        select(RootCause.label, func.count().label("tickets"))
        .select_from(Ticket)
        .join(ticket_root_cause, ticket_root_cause.c.ticket_id == Ticket.id)
        .join(RootCause, RootCause.id == ticket_root_cause.c.root_cause_id)
        .where(Ticket.closed_at >= start, Ticket.closed_at < end)
        .group_by(RootCause.label).order_by(func.count().desc(), RootCause.label).limit(5)
    ).all()
    return Digest(
        nps=nps_between(start, end), previous=nps_between(previous_start, start),
        new_detractors=[(n, s) for n, s in db.session.execute(opened.order_by(Ticket.number).limit(DIGEST_LIST_LIMIT))],
        new_detractors_total=db.session.execute(select(func.count()).select_from(opened.subquery())).scalar_one(),
        breaching=list(db.session.execute(breaching.order_by(Ticket.number).limit(DIGEST_LIST_LIMIT)).scalars()),
        breaching_total=db.session.execute(select(func.count()).select_from(breaching.subquery())).scalar_one(),
        top_root_causes=[(label, count) for label, count in causes],
        recovery=recovery(start, end),
    )
