"""Every report figure, defined once: the pages, the digest, the export and the API all read them from here.

Each metric is one function taking a :class:`Period` (local dates in the organisation's timezone) and running
a fixed number of aggregate statements in the database, scoped to the current tenant by the ORM criteria
(:mod:`app.tenancy`); the number of statements never depends on how many rows there are. Python only
arranges the few aggregate rows that come back (one per band, per week, per root cause…).

A moment belongs to a period when it falls between local midnight of the period's first day and local midnight
after its last day, in the organisation's timezone; the bounds are turned into UTC instants once, so every range
condition can use an index leading with ``tenant_id``.

Responses, invitations and closed tickets are read from the daily rollups (:mod:`app.reports.rollup`, kept by
the sweep) for the days before today, and live for today (on SQLite: live throughout), so a two-year period
costs about the same as a week. Past days therefore show changes up to the last sweep.

Sections: periods · NPS (responses and invitations) · follow-up (tickets) · root causes · recovery and the
weekly digest.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import Float, and_, case, cast, func, literal, or_, select, union_all
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import aliased

from app.accounts.models import Membership, User
from app.contacts.models import Contact, RecipientRole, contact_role
from app.customers.models import CustomerAccount
from app.extensions import db
from app.reports.models import (AccountDaily, AccountMonthly, CauseDaily, InvitationDaily, ResponseDaily, RoleDaily,
                                TicketDaily, TicketMinutesMonthly)
from app.reports.rollup import rollups_enabled
from app.rules import RuleError
from app.settings.models import RootCause
from app.surveys.models import Response, SurveyInvitation, source_label
from app.teams.models import Team, team_member
from app.tenancy import WORKING_ROLES, current_tenant_id
from app.tickets.models import Status, Ticket, ticket_root_cause
from app.timeutil import utcnow
from app.workflow.models import ActionPlanItem

# --- Periods -----------------------------------------------------------------------------------------

PERIOD_CHOICES = {"7": "Last 7 days", "30": "Last 30 days", "90": "Last 90 days", "quarter": "This quarter",
                  "custom": "Custom dates"}
MAX_PERIOD_DAYS = 3 * 366


@dataclass(frozen=True)
class Period:
    """Local calendar days ``first`` … ``last`` (both included) in the timezone ``tz``."""

    first: date
    last: date
    tz: str = "UTC"

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start(self) -> datetime:
        """The period's first instant (local midnight of ``first``), in UTC."""
        return _local_midnight(self.first, self.tz)

    @property
    def end(self) -> datetime:
        """The instant just after the period (local midnight after ``last``), in UTC."""
        return _local_midnight(self.last + timedelta(days=1), self.tz)

    def previous(self) -> Period:
        """The period of the same length that ends the day before this one starts."""
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1), self.tz)

    @property
    def grain(self) -> str:
        """The trend's step: weeks up to about four months, months beyond."""
        return "week" if self.days <= 126 else "month"

    def contains(self, column):
        return and_(column >= self.start, column < self.end)

    def has_day(self, column):
        return and_(column >= self.first, column <= self.last)

    def split(self, today: date) -> tuple[Period | None, Period | None]:
        """The days read from the rollups (before ``today``) and the days read live (from ``today``), each
        None when empty. Without rollups every day is live."""
        if not rollups_enabled():
            return None, self
        rolled = Period(self.first, min(self.last, today - timedelta(days=1)), self.tz)
        live = Period(max(self.first, today), self.last, self.tz)
        return (rolled if rolled.first <= rolled.last else None), (live if live.first <= live.last else None)


def _local_midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(tz)).astimezone(timezone.utc)


def local_today(tz: str, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ZoneInfo(tz)).date()


def period_for(choice: str | None, first: str | None, last: str | None, tz: str,
               today: date | None = None) -> Period:
    """The period a report asks for: ``choice`` is a key of :data:`PERIOD_CHOICES` (anything else: the last 30
    days); ``custom`` takes ISO dates ``first`` and ``last`` and raises ``RuleError`` naming the bad one."""
    today = today or local_today(tz)
    if choice in ("7", "30", "90"):
        return Period(today - timedelta(days=int(choice) - 1), today, tz)
    if choice == "quarter":
        return Period(date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), today, tz)
    if choice == "custom":
        start = _parse_day(first, "from", "Enter the first day as a date, e.g. 2026-01-31.")
        end = _parse_day(last, "to", "Enter the last day as a date, e.g. 2026-03-31.")
        if end < start:
            raise RuleError("The last day must not be before the first day.", "to")
        if (end - start).days + 1 > MAX_PERIOD_DAYS:
            raise RuleError("Choose a period of at most three years.", "to")
        return Period(start, end, tz)
    return Period(today - timedelta(days=29), today, tz)


def _parse_day(raw: str | None, name: str, message: str) -> date:
    try:
        day = date.fromisoformat((raw or "").strip())
    except ValueError:
        raise RuleError(message, name) from None
    if not date(2000, 1, 1) <= day <= date(2100, 12, 31):
        raise RuleError(message, name)
    return day


def _is_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _local_bucket(column, grain: str, tz: str):
    """The local date that starts the week (Monday) or month ``column`` falls in, as SQL."""
    if _is_postgresql():
        return func.date(func.date_trunc(grain, func.timezone(tz, column)))
    # SQLite has no timezones: shift by the zone's offset today (an hour off across daylight saving at most).
    offset = datetime.now(ZoneInfo(tz)).utcoffset() or timedelta(0)
    shift = f"{int(offset.total_seconds() // 60):+d} minutes"
    if grain == "month":
        return func.strftime("%Y-%m-01", column, shift)
    return func.date(column, shift, "-6 days", "weekday 1")


def buckets(period: Period, grain: str) -> list[date]:
    """Every week (starting Monday) or month start that overlaps the period, in order."""
    if grain == "month":
        day = period.first.replace(day=1)
    else:
        day = period.first - timedelta(days=period.first.weekday())
    out = []
    while day <= period.last:
        out.append(day)
        day = (day.replace(year=day.year + day.month // 12, month=day.month % 12 + 1)
               if grain == "month" else day + timedelta(days=7))
    return out


def _as_date(value) -> date:
    return value if isinstance(value, date) and not isinstance(value, datetime) else date.fromisoformat(str(value)[:10])


def _percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


# --- NPS: responses and invitations ----------------------------------------------------------------------

BANDS = ("promoter", "passive", "detractor")


@dataclass
class NpsFigures:
    """Responses of one period split by band, and the NPS they make."""

    responses: int = 0
    promoters: int = 0
    passives: int = 0
    detractors: int = 0

    @property
    def nps(self) -> float | None:
        """% promoters − % detractors (−100 … 100, one decimal), None without responses."""
        if not self.responses:
            return None
        return round(100.0 * (self.promoters - self.detractors) / self.responses, 1)

    def percent(self, band: str) -> float | None:
        return _percent(getattr(self, band + "s"), self.responses)


def _band_counts(where):
    return (func.count(Response.id).filter(where),
            func.count(Response.id).filter(where, Response.band == "promoter"),
            func.count(Response.id).filter(where, Response.band == "passive"),
            func.count(Response.id).filter(where, Response.band == "detractor"))


def _rolled_band_counts(where):
    def total(*conditions):
        return func.coalesce(func.sum(ResponseDaily.responses).filter(where, *conditions), 0)
    return (total(), total(ResponseDaily.band == "promoter"), total(ResponseDaily.band == "passive"),
            total(ResponseDaily.band == "detractor"))


_NEVER = literal(False)


def _band_totals(periods: list[Period], today: date) -> list[NpsFigures]:
    """Band counts of responses answered in each of ``periods``: two statements (rollups, live) in all."""
    parts = [period.split(today) for period in periods]
    rolled = [r for r, _ in parts if r is not None]
    live = [lv for _, lv in parts if lv is not None]
    rolled_rows = live_rows = None
    if rolled:
        rolled_rows = db.session.execute(
            select(*(c for r, _ in parts for c in _rolled_band_counts(r.has_day(ResponseDaily.day) if r else _NEVER)))
            .where(ResponseDaily.day >= min(r.first for r in rolled), ResponseDaily.day <= max(r.last for r in rolled))
        ).one()
    if live:
        live_rows = db.session.execute(
            select(*(c for _, lv in parts for c in _band_counts(lv.contains(Response.created_at) if lv else _NEVER)))
            .where(Response.created_at >= min(lv.start for lv in live), Response.created_at < max(lv.end for lv in live))
        ).one()
    out = []
    for i in range(len(periods)):
        counts = [0, 0, 0, 0]
        for rows in (rolled_rows, live_rows):
            if rows is not None:
                counts = [a + int(b or 0) for a, b in zip(counts, rows[4 * i:4 * i + 4])]
        out.append(NpsFigures(*counts))
    return out


@dataclass
class NpsOverview:
    period: Period
    current: NpsFigures
    previous: NpsFigures

    @property
    def change(self) -> float | None:
        """The NPS of the period minus that of the previous period of the same length."""
        if self.current.nps is None or self.previous.nps is None:
            return None
        return round(self.current.nps - self.previous.nps, 1)


def nps_overview(period: Period, now: datetime | None = None) -> NpsOverview:
    """**NPS** of the responses answered in the period, and of the previous period of the same length.

    Counts ``response`` rows whose ``created_at`` (the moment the answer arrived; an imported response keeps its
    answer date) falls in the period in the organisation's timezone. A response amended within its window is
    the same row with its latest score and band, so it counts once, in its latest band. Bands are the ones
    stored with the response (the survey's thresholds when it was answered). NPS = % promoters − % detractors.
    Days before today come from ``response_daily``. Two statements.
    """
    current, previous = _band_totals([period, period.previous()], local_today(period.tz, now))
    return NpsOverview(period, current, previous)


@dataclass
class ResponseRate:
    sent: int
    answered: int
    still_open: int

    @property
    def rate(self) -> float | None:
        """Invitations answered ÷ invitations sent, as a percentage."""
        return _percent(self.answered, self.sent)


def response_rate(period: Period, now: datetime | None = None) -> ResponseRate:
    """**Response rate**: of the invitations sent in the period (``survey_invitation.created_at`` in the period),
    the share that has a response (whenever it came). ``still_open`` counts the unanswered ones whose link has
    not expired yet: they may still be answered, so they are shown apart. Responses without an invitation
    (imports, integrations) are not in it.

    Days before today come from ``invitation_daily``. A link lives ``INVITATION_LIFETIME`` from sending, so
    every unanswered invitation of a whole day after the day it began to be possible to still be open is open:
    those days' open links come from the rollup too, and only that first day and today are read live. Two
    statements.
    """
    from app.surveys.services import INVITATION_LIFETIME

    now = now or utcnow()
    today = local_today(period.tz, now)
    rolled, live = period.split(today)
    oldest_open = Period(local_today(period.tz, now - INVITATION_LIFETIME), today, period.tz)
    sent = answered = still_open = 0
    if rolled is not None:
        row = db.session.execute(
            select(func.coalesce(func.sum(InvitationDaily.sent), 0), func.coalesce(func.sum(InvitationDaily.answered), 0),
                   func.coalesce(func.sum(InvitationDaily.sent - InvitationDaily.answered)
                                 .filter(InvitationDaily.day > oldest_open.first), 0))
            .where(rolled.has_day(InvitationDaily.day))
        ).one()
        sent, answered, still_open = (int(v) for v in row)
        first_day = Period(oldest_open.first, oldest_open.first, period.tz)
        read_live = or_(first_day.contains(SurveyInvitation.created_at),
                        live.contains(SurveyInvitation.created_at) if live is not None else _NEVER)
        open_live = first_day.contains(SurveyInvitation.created_at)
        if live is not None:
            open_live = or_(open_live, live.contains(SurveyInvitation.created_at))
    else:
        read_live = open_live = SurveyInvitation.created_at >= now - INVITATION_LIFETIME
    live_range = live.contains(SurveyInvitation.created_at) if live is not None else _NEVER
    row = db.session.execute(
        select(func.count(SurveyInvitation.id).filter(live_range), func.count(Response.id).filter(live_range),
               func.count(SurveyInvitation.id).filter(open_live, Response.id.is_(None),
                                                      SurveyInvitation.expires_at > now))
        .select_from(SurveyInvitation)
        .outerjoin(Response, Response.invitation_id == SurveyInvitation.id)
        .where(period.contains(SurveyInvitation.created_at), or_(read_live, live_range))
    ).one()
    return ResponseRate(sent + row[0], answered + row[1], still_open + row[2])


@dataclass
class SeriesPoint:
    starts: date
    figures: NpsFigures


def nps_series(period: Period, grain: str | None = None, now: datetime | None = None) -> list[SeriesPoint]:
    """**NPS trend**: the responses of the period grouped by the local week (Monday first) or month they were
    answered in, each with its counts and NPS, as :func:`nps_overview` counts them. Every week or month of the
    period is listed, empty ones with no responses (the first and last may be partly outside the period, but
    only the period's responses count). Two statements (rollups, live)."""
    grain = grain or period.grain
    rolled, live = period.split(local_today(period.tz, now))
    found: dict[date, list[int]] = {}
    queries = []
    if rolled is not None:
        bucket = _day_bucket(ResponseDaily.day, grain).label("bucket")
        queries.append(select(bucket, *_rolled_band_counts(literal(True))).where(rolled.has_day(ResponseDaily.day))
                       .group_by(bucket))
    if live is not None:
        bucket = _local_bucket(Response.created_at, grain, period.tz).label("bucket")
        queries.append(select(bucket, *_band_counts(literal(True))).where(live.contains(Response.created_at))
                       .group_by(bucket))
    for query in queries:
        for row in db.session.execute(query).all():
            day = _as_date(row[0])
            found[day] = [a + int(b or 0) for a, b in zip(found.get(day, [0, 0, 0, 0]), row[1:])]
    return [SeriesPoint(day, NpsFigures(*found.get(day, [0, 0, 0, 0]))) for day in buckets(period, grain)]


def _day_bucket(column, grain: str):
    """The week (Monday) or month start of a date column, as SQL (rollups exist only on PostgreSQL)."""
    return func.date(func.date_trunc(grain, cast(column, db.DateTime)))


BREAKDOWNS = {"account": "Account", "role": "Recipient role", "source": "Survey source", "owner": "Account owner",
              "team": "Account owner's team"}
BREAKDOWN_SORTS = ("responses", "nps", "name")
BREAKDOWN_LIMIT = 50


@dataclass
class BreakdownRow:
    key: object
    name: str
    figures: NpsFigures = field(default_factory=NpsFigures)


def _live_band_sums(where):
    _, promoters, passives, detractors = _band_counts(where)
    return promoters.label("promoters"), passives.label("passives"), detractors.label("detractors")


def _full_months(period: Period) -> tuple[date, date] | None:
    """The first days of the first and last calendar months lying wholly inside the period, None if none."""
    first = period.first if period.first.day == 1 else (period.first.replace(day=28) + timedelta(days=4)).replace(day=1)
    after = period.last + timedelta(days=1)
    last = after.replace(day=1) - timedelta(days=1)
    last = last.replace(day=1)
    return (first, last) if first <= last else None


def _per_account(period: Period, now: datetime | None):
    """Band counts of the period's responses per responding contact's account id (0 or None: without one), as
    rows of a UNION ALL: whole months from ``response_account_monthly``, the other past days from
    ``response_account_daily``, today live."""
    rolled, live = period.split(local_today(period.tz, now))
    parts = []
    if rolled is not None:
        months = _full_months(rolled)
        day_ranges = [(rolled.first, rolled.last)]
        if months is not None:
            parts.append(select(AccountMonthly.account_id.label("key"), AccountMonthly.promoters,
                                AccountMonthly.passives, AccountMonthly.detractors)
                         .where(AccountMonthly.month >= months[0], AccountMonthly.month <= months[1]))
            after = (months[1].replace(day=28) + timedelta(days=4)).replace(day=1)
            day_ranges = [(rolled.first, months[0] - timedelta(days=1)), (after, rolled.last)]
        # Each range of days apart, so each reads only its own stretch of the index.
        parts += [select(AccountDaily.account_id.label("key"), AccountDaily.promoters, AccountDaily.passives,
                         AccountDaily.detractors).where(AccountDaily.day >= first, AccountDaily.day <= last)
                  for first, last in day_ranges if first <= last]
    if live is not None:
        # The account of each of today's few responses, looked up by its contact's key rather than by reading
        # every contact of the organisation.
        account = (select(Contact.account_id).where(Contact.id == Response.contact_id).scalar_subquery()
                   .label("key"))
        parts.append(select(account, *_live_band_sums(literal(True)))
                     .where(live.contains(Response.created_at)).group_by(account))
    return union_all(*parts).subquery("per_account") if len(parts) > 1 else parts[0].subquery("per_account")


def _per_role(period: Period, now: datetime | None):
    """Band counts of the period's responses per recipient role of the responding contact (0 or None: without
    one; a contact with two roles counts under each): past days from ``response_role_daily``, today live."""
    rolled, live = period.split(local_today(period.tz, now))
    parts = []
    if rolled is not None:
        parts.append(select(RoleDaily.role_id.label("key"), RoleDaily.promoters, RoleDaily.passives,
                            RoleDaily.detractors).where(rolled.has_day(RoleDaily.day)))
    if live is not None:
        parts.append(select(contact_role.c.role_id.label("key"), *_live_band_sums(literal(True)))
                     .select_from(Response)
                     .outerjoin(contact_role, and_(contact_role.c.contact_id == Response.contact_id,
                                                   contact_role.c.tenant_id == current_tenant_id()))
                     .where(live.contains(Response.created_at)).group_by(contact_role.c.role_id))
    return union_all(*parts).subquery("per_role") if len(parts) > 1 else parts[0].subquery("per_role")


def nps_breakdown(period: Period, by: str, sort: str = "responses", descending: bool = True,
                  limit: int = BREAKDOWN_LIMIT, now: datetime | None = None) -> list[BreakdownRow]:
    """**NPS by account, recipient role, survey source, account owner or team**: the period's responses (as
    :func:`nps_overview`) grouped by the responding contact's account as it is now, each of the contact's
    recipient roles (a contact with two roles counts in both), the response's ``source``, the owner of the
    contact's account, or each team that owner belongs to (an owner in two teams counts in both). Responses
    without an account / role / owner / team make one row of their own (key None), listed last.

    Sorted in SQL by responses, NPS or name, at most ``limit`` rows. Days before today come from the rollups
    (``response_account_monthly`` for whole months and ``response_account_daily`` for the other days, joined
    to the accounts, owners and teams as they are now; ``response_role_daily``; ``response_daily`` by
    source), today live: one statement (by source two, the handful of sources sorted here). A contact moved to
    another account or given other roles counts under the new ones after the next sweep."""
    if by not in BREAKDOWNS:
        raise ValueError(by)
    if by == "source":
        return _source_breakdown(period, sort, descending, now)[:limit]
    if by == "role":
        counts = _per_role(period, now)
        key, name = RecipientRole.id, RecipientRole.name
        query = select().select_from(counts).outerjoin(RecipientRole, RecipientRole.id == counts.c.key)
    else:
        counts = _per_account(period, now)
        query = select().select_from(counts).outerjoin(CustomerAccount, CustomerAccount.id == counts.c.key)
        if by == "account":
            key, name = CustomerAccount.id, CustomerAccount.name
        elif by == "owner":
            key, name = User.id, User.name
            query = query.outerjoin(User, User.id == CustomerAccount.owner_id)
        else:
            key, name = Team.id, Team.name
            query = (query.outerjoin(team_member, and_(team_member.c.user_id == CustomerAccount.owner_id,
                                                       team_member.c.tenant_id == current_tenant_id()))
                     .outerjoin(Team, Team.id == team_member.c.team_id))
    promoters, passives, detractors = (func.coalesce(func.sum(counts.c[band]), 0)
                                       for band in ("promoters", "passives", "detractors"))
    total = promoters + passives + detractors
    nps = (cast(promoters - detractors, Float) * 100 / func.nullif(total, 0))
    order = {"responses": total, "nps": nps, "name": func.coalesce(name, "")}[sort if sort in BREAKDOWN_SORTS else "responses"]
    order = order.desc() if descending else order.asc()
    if sort == "nps":
        order = order.nulls_last()
    rows = db.session.execute(
        query.add_columns(key.label("key"), name.label("name"), total, promoters, passives, detractors)
        .group_by(key, name).having(total > 0)
        .order_by(key.is_(None), order, func.coalesce(name, "")).limit(limit)
    ).all()
    return [BreakdownRow(row.key, row.name or _NO_NAME[by], NpsFigures(*(int(v) for v in row[2:]))) for row in rows]


def _source_breakdown(period: Period, sort: str, descending: bool, now: datetime | None) -> list[BreakdownRow]:
    rolled, live = period.split(local_today(period.tz, now))
    found: dict[str, list[int]] = {}
    queries = []
    if rolled is not None:
        queries.append(select(ResponseDaily.source, *_rolled_band_counts(literal(True)))
                       .where(rolled.has_day(ResponseDaily.day)).group_by(ResponseDaily.source))
    if live is not None:
        queries.append(select(Response.source, *_band_counts(literal(True)))
                       .where(live.contains(Response.created_at)).group_by(Response.source))
    for query in queries:
        for row in db.session.execute(query).all():
            found[row[0]] = [a + int(b or 0) for a, b in zip(found.get(row[0], [0, 0, 0, 0]), row[1:])]
    rows = [BreakdownRow(source, source_label(source), NpsFigures(*counts))
            for source, counts in found.items() if counts[0]]
    rows.sort(key=lambda r: r.name)
    if sort == "nps":
        rows.sort(key=lambda r: (r.figures.nps is None, -(r.figures.nps or 0) if descending else (r.figures.nps or 0)))
    elif sort == "name":
        rows.sort(key=lambda r: r.name, reverse=descending)
    else:
        rows.sort(key=lambda r: r.figures.responses, reverse=descending)
    return rows


_NO_NAME = {"account": "No account", "owner": "No owner", "role": "No recipient role", "source": "Unknown",
            "team": "No team"}


# --- Follow-up: tickets ------------------------------------------------------------------------------------

OUTCOME_ORDER = ("resolved", "not_resolved", "no_response")


@dataclass
class FollowUp:
    opened: int
    closed: int
    open_now: int
    contacted: int
    median_first_contact_minutes: int | None
    p90_first_contact_minutes: int | None
    first_contact_within_target: int
    resolved_within_target: int
    first_contact_breaches: int
    resolution_breaches: int
    items_overdue: int
    outcomes: dict[str, int]

    @property
    def first_contact_within_target_percent(self) -> float | None:
        return _percent(self.first_contact_within_target, self.contacted)

    @property
    def resolved_within_target_percent(self) -> float | None:
        return _percent(self.resolved_within_target, self.closed)


def _percentile_minutes(fractions: tuple[float, ...], where) -> list:
    """Columns giving the ``fractions`` percentiles (nearest rank: the smallest value with at least that share
    of values at or below it) of ``ticket.first_contact_minutes`` over the tickets matching ``where``; read them
    back with :func:`_percentiles`. On PostgreSQL one subquery gives them all as an array (one read of the
    covering index); elsewhere one subquery each."""
    if _is_postgresql():
        return [select(func.percentile_disc(postgresql.array(fractions)).within_group(Ticket.first_contact_minutes))
                .where(where, Ticket.first_contact_minutes.is_not(None)).scalar_subquery().label("percentiles")]
    counted = (select(func.count(Ticket.id)).where(where, Ticket.first_contact_minutes.is_not(None))
               .scalar_subquery())
    return [select(Ticket.first_contact_minutes).where(where, Ticket.first_contact_minutes.is_not(None))
            .order_by(Ticket.first_contact_minutes)
            .offset(cast(counted * fraction + 0.999999, db.Integer) - 1)
            .limit(1).scalar_subquery().label(f"percentile_{i}") for i, fraction in enumerate(fractions)]


def _percentiles(row, count: int) -> list[int | None]:
    if "percentiles" in row._fields:
        return list(row.percentiles or [None] * count)
    return [getattr(row, f"percentile_{i}") for i in range(count)]


def _ticket_parts(period: Period, now: datetime, rollups: bool):
    """What the follow-up figures read live: the days of ``period`` read from ``ticket_daily`` (None: every day
    live, always so when ``rollups`` is false), the live days, the tickets to read (a subquery: every open
    ticket, and the closed ones dated on a live day or never contacted with their breach time still ahead) and
    a function giving, for one of its date columns, the condition under which a ticket counts by that date:
    the date is in the period and either on a live day or the ticket is still open (the rollup holds closed
    tickets only). Open and closed tickets are read apart, so each part has a plain index condition."""
    rolled, live = period.split(local_today(period.tz, now)) if rollups else (None, period)
    columns = (Ticket.id, Ticket.status, Ticket.assignee_id, Ticket.opened_at, Ticket.closed_at,
               Ticket.first_contact_at, Ticket.first_contact_due_at, Ticket.first_contact_breach_at,
               Ticket.resolution_due_at, Ticket.outcome)
    closed_when = [live.contains(Ticket.opened_at), live.contains(Ticket.closed_at),
                   live.contains(Ticket.first_contact_at)] if live is not None else []
    if rolled is not None:
        closed_when.append(and_(Ticket.first_contact_at.is_(None), Ticket.first_contact_breach_at >= now,
                                rolled.contains(Ticket.opened_at)))
    parts = [select(*columns).where(Ticket.status != Status.CLOSED)]
    if closed_when:
        parts.append(select(*columns).where(Ticket.status == Status.CLOSED, or_(*closed_when)))
    tickets = (union_all(*parts) if len(parts) > 1 else parts[0]).subquery("tickets")

    def dated(column):
        if rolled is None:
            return period.contains(column)
        return and_(period.contains(column),
                    or_(live.contains(column), tickets.c.status != Status.CLOSED) if live is not None
                    else tickets.c.status != Status.CLOSED)
    return rolled, live, tickets, dated


def _rolled_sums(*names: str):
    return [func.coalesce(func.sum(getattr(TicketDaily, name)), 0).label(name) for name in names]


def _month_after(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def _minutes_histogram(period: Period, rolled: Period | None):
    """(assignee 0 for nobody, minutes to first contact, tickets) of the tickets first contacted in the period,
    as rows of a UNION ALL: closed tickets of whole months before today from ``ticket_minutes_monthly``, every
    other ticket live (through the covering index on first contact)."""
    minutes, contacted_at = Ticket.first_contact_minutes, Ticket.first_contact_at
    assignee = func.coalesce(Ticket.assignee_id, 0)

    def live_part(*where):
        return (select(assignee.label("assignee"), minutes.label("minutes"), func.count().label("n"))
                .where(minutes.is_not(None), *where).group_by(assignee, minutes))

    months = _full_months(rolled) if rolled is not None else None
    if months is None:
        return live_part(period.contains(contacted_at)).subquery("minutes_histogram")
    starts, ends = _local_midnight(months[0], period.tz), _local_midnight(_month_after(months[1]), period.tz)
    # Apart, so each reads its own stretch of an index: the days before and after the whole months, and the
    # open tickets first contacted within them.
    parts = [select(TicketMinutesMonthly.assignee_id.label("assignee"), TicketMinutesMonthly.minutes,
                    TicketMinutesMonthly.tickets.label("n"))
             .where(TicketMinutesMonthly.month >= months[0], TicketMinutesMonthly.month <= months[1]),
             live_part(contacted_at >= period.start, contacted_at < starts),
             live_part(contacted_at >= ends, contacted_at < period.end),
             live_part(Ticket.status != Status.CLOSED, contacted_at >= starts, contacted_at < ends)]
    return union_all(*parts).subquery("minutes_histogram")


def _nearest_rank(histogram, fractions: tuple[float, ...], per_member: bool):
    """The ``fractions`` percentiles of a histogram of minutes (nearest rank, as ``percentile_disc`` takes it:
    the value at position ceil(fraction × count) in order), overall or per member (``user_id``)."""
    keys = [histogram.c.assignee] if per_member else []
    values = (select(*keys, histogram.c.minutes, func.sum(histogram.c.n).label("n"))
              .group_by(*keys, histogram.c.minutes).subquery("minute_values"))
    partition = [values.c.assignee] if per_member else None
    ranked = select(*([values.c.assignee] if per_member else []), values.c.minutes,
                    func.sum(values.c.n).over(partition_by=partition, order_by=values.c.minutes).label("running"),
                    func.sum(values.c.n).over(partition_by=partition).label("total")).subquery("ranked")
    columns = [func.min(ranked.c.minutes).filter(ranked.c.running >= func.ceil(cast(fraction, Float) * ranked.c.total))
               .label(f"percentile_{i}") for i, fraction in enumerate(fractions)]
    if per_member:
        return select(ranked.c.assignee.label("user_id"), *columns).group_by(ranked.c.assignee)
    return select(*columns)


def _histograms(rollups: bool) -> bool:
    return rollups and rollups_enabled()


_TICKET_FIGURES = ("opened", "first_contact_breaches", "resolution_breaches", "closed", "resolved_within",
                   *OUTCOME_ORDER, "contacted", "contacted_within")


def follow_up(period: Period, now: datetime | None = None, *, rollups: bool = True) -> FollowUp:
    """**Follow-up performance** of the period (three statements).

    - ``opened``: tickets whose ``opened_at`` is in the period; ``closed``: tickets whose ``closed_at`` is in it;
      ``open_now``: tickets not closed at the moment of asking, whenever they opened.
    - ``contacted``: tickets whose first contact (``first_contact_at``) was logged in the period. Their
      **time to first contact** is the SLA clock time from opening to that first contact (opening hours only
      when the organisation counts business hours; stored on the ticket as ``first_contact_minutes`` when the
      contact is logged): ``median`` and ``p90`` are nearest-rank percentiles in minutes.
      ``first_contact_within_target``: of those, the ones contacted no later than their first-contact due time.
    - ``resolved_within_target``: of the tickets closed in the period, those closed no later than their
      resolution due time (the due time moves on while a ticket waits on the customer).
    - ``first_contact_breaches``: tickets opened in the period that passed their first-contact breach time
      without contact (contacted after it, or still uncontacted now); ``resolution_breaches``: tickets opened
      in the period closed after their resolution due time or still open past it now.
    - ``items_overdue``: action-plan items not done whose due date is before today (local) on tickets still open,
      now, whatever the period.
    - ``outcomes``: tickets closed in the period by outcome (resolved / not resolved / no response).

    Closed tickets dated on days before today are counted from ``ticket_daily`` (kept by the sweep, so a
    ticket closed or reopened shows there after the next sweep); open tickets and today are read live. A closed
    ticket never contacted is in the rollup's breaches already: those whose breach time is still ahead of
    ``now`` are taken back, live. The percentiles add the histogram of closed tickets' minutes of whole months
    before today (``ticket_minutes_monthly``) to the other tickets' minutes read live, and take the nearest rank
    from it, so they equal ``percentile_disc`` over every ticket. ``rollups=False`` reads every day live (the
    definition the rollups are tested against).
    """
    now = now or utcnow()
    today = local_today(period.tz, now)
    rolled, live, tickets, dated = _ticket_parts(period, now, rollups)
    t = tickets.c
    opened, closed, contacted = dated(t.opened_at), dated(t.closed_at), dated(t.first_contact_at)
    not_yet_breached = (and_(t.status == Status.CLOSED, t.first_contact_at.is_(None),
                             t.first_contact_breach_at >= now, rolled.contains(t.opened_at))
                        if rolled is not None else _NEVER)
    count = func.count(t.id)
    counts = select(
        count.filter(opened).label("opened"),
        count.filter(closed).label("closed"),
        count.filter(t.status != Status.CLOSED).label("open_now"),
        count.filter(contacted).label("contacted"),
        count.filter(contacted, t.first_contact_at <= t.first_contact_due_at).label("fc_within"),
        count.filter(closed, t.closed_at <= t.resolution_due_at).label("res_within"),
        count.filter(opened, t.first_contact_breach_at.is_not(None),
                     func.coalesce(t.first_contact_at, now) > t.first_contact_breach_at).label("fc_breach"),
        count.filter(opened, t.resolution_due_at.is_not(None),
                     func.coalesce(t.closed_at, now) > t.resolution_due_at).label("res_breach"),
        count.filter(not_yet_breached).label("not_yet_breached"),
        *(count.filter(closed, t.outcome == outcome).label(outcome) for outcome in OUTCOME_ORDER),
        *([] if _histograms(rollups) else _percentile_minutes((0.5, 0.9), period.contains(Ticket.first_contact_at))),
    ).select_from(tickets)
    row = db.session.execute(counts).one()
    if _histograms(rollups):
        median, p90 = db.session.execute(
            _nearest_rank(_minutes_histogram(period, rolled), (0.5, 0.9), per_member=False)).one()
    else:
        median, p90 = _percentiles(row, 2)
    figures = {name: 0 for name in _TICKET_FIGURES}
    if rolled is not None:
        figures = db.session.execute(
            select(*_rolled_sums(*_TICKET_FIGURES)).where(rolled.has_day(TicketDaily.day))
        ).one()._asdict()
    overdue = db.session.execute(
        select(func.count(ActionPlanItem.id)).join(Ticket, Ticket.id == ActionPlanItem.ticket_id)
        .where(ActionPlanItem.done_at.is_(None), ActionPlanItem.due_date < today, Ticket.status != Status.CLOSED)
    ).scalar_one()
    return FollowUp(
        opened=row.opened + int(figures["opened"]), closed=row.closed + int(figures["closed"]),
        open_now=row.open_now, contacted=row.contacted + int(figures["contacted"]),
        median_first_contact_minutes=median, p90_first_contact_minutes=p90,
        first_contact_within_target=row.fc_within + int(figures["contacted_within"]),
        resolved_within_target=row.res_within + int(figures["resolved_within"]),
        first_contact_breaches=row.fc_breach + int(figures["first_contact_breaches"]) - row.not_yet_breached,
        resolution_breaches=row.res_breach + int(figures["resolution_breaches"]), items_overdue=overdue,
        outcomes={outcome: getattr(row, outcome) + int(figures[outcome]) for outcome in OUTCOME_ORDER},
    )


@dataclass
class MemberLoad:
    user_id: int
    name: str
    capacity: int
    open_now: int
    closed: int
    contacted: int
    median_first_contact_minutes: int | None

    @property
    def load_percent(self) -> float | None:
        return _percent(self.open_now, self.capacity)


def member_load(period: Period, now: datetime | None = None, *, rollups: bool = True) -> list[MemberLoad]:
    """**Per member** (active members who work tickets): tickets assigned to them and open now against their
    capacity (``membership.capacity``), tickets they hold that closed in the period, and the median time to
    first contact (as :func:`follow_up`) of their tickets first contacted in the period. Closed tickets of days
    before today are counted from ``ticket_daily`` and ``ticket_minutes_monthly`` under the member holding them
    when they closed, as :func:`follow_up` does. On SQLite the median is the average (no ordered-set aggregates
    there). One statement."""
    now = now or utcnow()
    rolled, live, tickets, dated = _ticket_parts(period, now, rollups)
    t = tickets.c
    closed, contacted = dated(t.closed_at), dated(t.first_contact_at)
    if _is_postgresql():
        middle = func.percentile_disc(0.5).within_group(Ticket.first_contact_minutes)
    else:
        middle = cast(func.avg(Ticket.first_contact_minutes), db.Integer)
    per_member = (
        select(t.assignee_id.label("user_id"),
               func.count(t.id).filter(t.status != Status.CLOSED).label("open_now"),
               func.count(t.id).filter(closed).label("closed"),
               func.count(t.id).filter(contacted).label("contacted"))
        .where(t.assignee_id.is_not(None))
        .group_by(t.assignee_id).subquery()
    )
    if rolled is not None:
        rolled_member = (
            select(TicketDaily.assignee_id.label("user_id"), *_rolled_sums("closed", "contacted"))
            .where(rolled.has_day(TicketDaily.day)).group_by(TicketDaily.assignee_id).subquery())
        rolled_closed, rolled_contacted = rolled_member.c.closed, rolled_member.c.contacted
    else:
        rolled_member, rolled_closed, rolled_contacted = None, literal(0), literal(0)
    if _histograms(rollups):
        medians = _nearest_rank(_minutes_histogram(period, rolled), (0.5,), per_member=True).subquery()
        median = medians.c.percentile_0
    else:
        # Apart from the counts, so they need no sort, and read from the covering index on first contact.
        medians = (
            select(Ticket.assignee_id.label("user_id"), middle.label("median"))
            .where(period.contains(Ticket.first_contact_at), Ticket.assignee_id.is_not(None),
                   Ticket.first_contact_minutes.is_not(None))
            .group_by(Ticket.assignee_id).subquery()
        )
        median = medians.c.median
    statement = (
        select(User.id, User.name, Membership.capacity, per_member.c.open_now,
               func.coalesce(per_member.c.closed, 0) + func.coalesce(rolled_closed, 0),
               func.coalesce(per_member.c.contacted, 0) + func.coalesce(rolled_contacted, 0), median)
        .join(Membership, Membership.user_id == User.id)
        .outerjoin(per_member, per_member.c.user_id == User.id)
        .outerjoin(medians, medians.c.user_id == User.id)
    )
    if rolled_member is not None:
        statement = statement.outerjoin(rolled_member, rolled_member.c.user_id == User.id)
    rows = db.session.execute(
        statement.where(Membership.is_active.is_(True), Membership.role.in_(WORKING_ROLES))
        .order_by(func.coalesce(per_member.c.open_now, 0).desc(), User.name)
    ).all()
    return [MemberLoad(r[0], r[1], r[2], r[3] or 0, int(r[4] or 0), int(r[5] or 0), r[6]) for r in rows]


# --- Root causes -------------------------------------------------------------------------------------------

@dataclass
class CauseCount:
    cause_id: int
    label: str
    tickets: int
    cumulative_percent: float


def _cause_counts(period: Period, bucket_grain: str | None = None, now: datetime | None = None) -> dict:
    """Tickets closed in the period per root cause (0: without one), optionally per local month too:
    ``{cause_id: n}`` or ``{(cause_id, month): n}``. Days before today come from ``cause_daily``, today live.
    Two statements."""
    rolled, live = period.split(local_today(period.tz, now))
    found: dict = {}
    queries = []
    if rolled is not None:
        keys = [CauseDaily.root_cause_id]
        if bucket_grain:
            keys.append(_day_bucket(CauseDaily.day, bucket_grain))
        queries.append(select(*keys, func.sum(CauseDaily.tickets)).where(rolled.has_day(CauseDaily.day))
                       .group_by(*keys))
    if live is not None:
        cause = func.coalesce(ticket_root_cause.c.root_cause_id, 0)
        keys = [cause]
        if bucket_grain:
            keys.append(_local_bucket(Ticket.closed_at, bucket_grain, period.tz))
        queries.append(
            select(*keys, func.count())
            .select_from(Ticket)
            .outerjoin(ticket_root_cause, and_(ticket_root_cause.c.ticket_id == Ticket.id,
                                               ticket_root_cause.c.tenant_id == current_tenant_id()))
            .where(live.contains(Ticket.closed_at)).group_by(*keys))
    for query in queries:
        for row in db.session.execute(query).all():
            key = (row[0], _as_date(row[1])) if bucket_grain else row[0]
            found[key] = found.get(key, 0) + int(row[-1])
    return found


def root_cause_pareto(period: Period, now: datetime | None = None) -> tuple[list[CauseCount], int]:
    """**Root-cause Pareto**: for tickets closed in the period (``closed_at``), how many carry each root cause,
    most frequent first (ties by label), with the cumulative share of all cause tags so far. A ticket with two
    causes counts once under each, so the cumulative share is of cause tags, reaching 100 % at the last bar.
    Also returns how many tickets closed in the period carry no root cause. Days before today come from
    ``cause_daily``. Three statements (rollup, live, the causes' labels)."""
    counts = _cause_counts(period, now=now)
    untagged = counts.pop(0, 0)
    labels = dict(db.session.execute(select(RootCause.id, RootCause.label).where(RootCause.id.in_(list(counts))))
                  .all()) if counts else {}
    ordered = sorted(((cause_id, labels[cause_id], n) for cause_id, n in counts.items() if cause_id in labels),
                     key=lambda c: (-c[2], c[1]))
    total = sum(n for _, _, n in ordered)
    out, running = [], 0
    for cause_id, label, n in ordered:
        running += n
        out.append(CauseCount(cause_id, label, n, round(100.0 * running / total, 1)))
    return out, untagged


@dataclass
class CauseTrend:
    cause_id: int
    label: str
    counts: list[int]


def root_cause_trend(period: Period, causes: list[CauseCount], top: int = 5,
                     now: datetime | None = None) -> tuple[list[date], list[CauseTrend]]:
    """**Top causes month by month**: for the ``top`` causes of :func:`root_cause_pareto`, how many tickets
    closed in each local month of the period carry the cause. Two statements (rollup, live)."""
    chosen = causes[:top]
    months = buckets(period, "month")
    if not chosen:
        return months, []
    found = _cause_counts(period, "month", now)
    return months, [CauseTrend(c.cause_id, c.label, [found.get((c.cause_id, m), 0) for m in months]) for c in chosen]


__all__ = [
    "BANDS", "BREAKDOWNS", "PERIOD_CHOICES", "Period", "period_for", "nps_overview", "response_rate", "nps_series",
    "nps_breakdown", "follow_up", "member_load", "root_cause_pareto", "root_cause_trend"
]


# --- Recovery and the weekly digest ----------------------------------------------------------------------
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

    @property
    def percent(self) -> float | None:
        """The recovery rate as a percentage, one decimal."""
        return _percent(self.recovered, self.resurveyed)


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
        # Said outright, so the planner starts from the few re-survey invitations (a partial index) rather
        # than from every ticket and its response.
        .where(original.band == "detractor", SurveyInvitation.followup_ticket_id.is_not(None))
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


def nps_between(start: datetime, end: datetime) -> NpsFigures:
    """The responses recorded in [start, end) by band, as :class:`NpsFigures` — the one NPS definition — read
    live (each response counts once, with its latest score: an amended answer updates its row in place). One
    aggregate statement."""
    where = and_(Response.created_at >= start, Response.created_at < end)
    return NpsFigures(*db.session.execute(select(*_band_counts(where))).one())


@dataclass(frozen=True)
class Digest:
    """The weekly digest's figures for the week [start, end)."""

    nps: NpsFigures
    previous: NpsFigures
    new_detractors: list[tuple[int, str]]  # (ticket number, status) of tickets opened in the week
    new_detractors_total: int
    breaching: list[int]  # numbers of open tickets past a due time now
    breaching_total: int
    top_root_causes: list[tuple[str, int]]
    recovery: Recovery

    @property
    def nps_change(self) -> float | None:
        """This week's NPS minus the previous week's (None when either week had no responses)."""
        if self.nps.nps is None or self.previous.nps is None:
            return None
        return round(self.nps.nps - self.previous.nps, 1)


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
