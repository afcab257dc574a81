"""Daily rollups for the report pages, kept by the periodic sweep.

Aggregating a million responses live takes too long for a two-year period, so the sweep keeps one
``response_daily`` row per (organisation, local day, source, band), one ``invitation_daily`` row per
(organisation, local day), one ``response_account_daily`` row per (organisation, local day, the responding
contact's account), one ``response_role_daily`` row per (organisation, local day, recipient role of the
responding contact), and one ``cause_daily`` row per (organisation, local day a ticket closed, root cause);
``response_account_monthly`` sums the account rows by local month, so two years read 24 rows per account.
Each sweep recomputes only the (organisation, day) pairs whose source rows changed since the stored
watermark: responses created or amended (``response.updated_at``), invitations sent, the invitations whose
response changed, the days answered by contacts whose account or roles changed (``contact.updated_at``),
tickets closed, and the moments noted in ``report_recount`` when rows counted there were deleted (a contact
deleted with their answers and tickets: :func:`note_deletion_of_contact`); then the months of those days.

``ticket_daily`` holds closed tickets per (organisation, local day, holder), each counted on the days the
follow-up report dates its figures by (opened, first contact, closed): a ticket changed since the watermark
(``ticket.updated_at``) re-counts those days, and a reopened one also the day it had closed on (its
reopening's timeline entry keeps that moment), which ``cause_daily`` re-counts too. ``ticket_minutes_monthly``
is the histogram of those closed tickets' minutes to first contact per local month of first contact and
holder, recomputed for the months of the changed days. That is a fixed number of statements whatever the volume:
find the pairs into a temporary table (and each organisation's span of changed days into another), delete and
re-insert the rollups for them (in key order, so a tenant's rows for a stretch of days lie together on disk
and a long period reads few pages), move the watermark.

The account and role rows keep the account and roles a contact had when its day was rolled up; the pages join
them to the accounts, owners and teams as they are now, so an account deleted since (its contacts now have
none) reads as "No account", exactly as the live query sees it.

The watermark is taken back by :data:`OVERLAP` each time, so a row written by a transaction that committed
late (its ``updated_at`` a little older than its commit) is still picked up by the next sweep; re-counting a
day twice is harmless because a day is always recomputed whole.

PostgreSQL only: on SQLite the pages aggregate live (a newcomer's data set is small).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, text

from app.extensions import db
from app.reports.models import RollupState
from app.tenancy import all_tenants, unscoped
from app.timeutil import utcnow

OVERLAP = timedelta(minutes=10)
EPOCH = datetime(1970, 1, 1).astimezone()

_LOCAL_DAY = "(({alias}.created_at AT TIME ZONE t.timezone)::date)"
_DAY_START = "((c.day::timestamp) AT TIME ZONE t.timezone)"
_DAY_END = "(((c.day + 1)::timestamp) AT TIME ZONE t.timezone)"


_CHANGED = f"""
CREATE TEMPORARY TABLE rollup_changed ON COMMIT DROP AS
SELECT r.tenant_id, {_LOCAL_DAY.format(alias='r')} AS day
  FROM response r JOIN tenant t ON t.id = r.tenant_id WHERE r.updated_at > :since
UNION
SELECT i.tenant_id, {_LOCAL_DAY.format(alias='i')}
  FROM survey_invitation i JOIN tenant t ON t.id = i.tenant_id WHERE i.created_at > :since
UNION
SELECT i.tenant_id, {_LOCAL_DAY.format(alias='i')}
  FROM response r JOIN survey_invitation i ON i.id = r.invitation_id JOIN tenant t ON t.id = i.tenant_id
 WHERE r.updated_at > :since
UNION
SELECT r.tenant_id, {_LOCAL_DAY.format(alias='r')}
  FROM contact k JOIN response r ON r.tenant_id = k.tenant_id AND r.contact_id = k.id
  JOIN tenant t ON t.id = r.tenant_id WHERE k.updated_at > :since
UNION
SELECT x.tenant_id, ((x.at AT TIME ZONE t.timezone)::date)
  FROM report_recount x JOIN tenant t ON t.id = x.tenant_id WHERE x.noted_at > :since
"""

# The moments whose days must be counted again because rows counted there were deleted (see note_deletion).
_RECOUNT = "UNION ALL SELECT x.tenant_id, x.at FROM report_recount x WHERE x.noted_at > :since"
# A noted moment is read by the sweeps of the next OVERLAP at least; it is kept a day.
_PRUNE_RECOUNT = "DELETE FROM report_recount WHERE noted_at < :before"

# Everything a contact was counted by: their answers and invitations (answered and sent) and their tickets
# (opened, first contacted, closed), noted before the contact is deleted with them.
_NOTE_CONTACT = """
INSERT INTO report_recount (tenant_id, at, noted_at)
SELECT x.tenant_id, x.at, :now FROM (
  SELECT r.tenant_id, r.created_at AS at FROM response r WHERE r.tenant_id = :tenant AND r.contact_id = :contact
  UNION SELECT i.tenant_id, i.created_at FROM survey_invitation i
   WHERE i.tenant_id = :tenant AND i.contact_id = :contact
  UNION SELECT k.tenant_id, unnest(ARRAY[k.opened_at, k.first_contact_at, k.closed_at]) FROM ticket k
   WHERE k.tenant_id = :tenant AND k.contact_id = :contact) x
 WHERE x.at IS NOT NULL
"""

# Each organisation's changed days are read with one index range scan (its earliest to its latest changed day),
# then kept only for the changed days themselves.
_RANGES = f"""
CREATE TEMPORARY TABLE rollup_ranges ON COMMIT DROP AS
SELECT c.tenant_id, min({_DAY_START}) AS starts, max({_DAY_END}) AS ends, t.timezone
  FROM rollup_changed c JOIN tenant t ON t.id = c.tenant_id GROUP BY c.tenant_id, t.timezone
"""

_SPANNED_RESPONSES = """
          SELECT r.tenant_id, (r.created_at AT TIME ZONE g.timezone)::date AS day, r.contact_id, r.band
            FROM rollup_ranges g
            JOIN response r ON r.tenant_id = g.tenant_id AND r.created_at >= g.starts AND r.created_at < g.ends"""
_BAND_SUMS = ("count(*) FILTER (WHERE s.band = 'promoter'), count(*) FILTER (WHERE s.band = 'passive'), "
              "count(*) FILTER (WHERE s.band = 'detractor')")

_STATEMENTS = (
    _RANGES,
    "ANALYZE rollup_changed",
    "ANALYZE rollup_ranges",
    "DELETE FROM response_daily d USING rollup_changed c WHERE d.tenant_id = c.tenant_id AND d.day = c.day",
    # Materialized: the planner must scan each organisation's span once, not once per changed day.
    """INSERT INTO response_daily (tenant_id, day, source, band, responses, score_sum)
        WITH spanned AS MATERIALIZED (
          SELECT r.tenant_id, (r.created_at AT TIME ZONE g.timezone)::date AS day, r.source, r.band, r.score
            FROM rollup_ranges g
            JOIN response r ON r.tenant_id = g.tenant_id AND r.created_at >= g.starts AND r.created_at < g.ends)
        SELECT s.tenant_id, s.day, s.source, s.band, count(*), sum(s.score)
          FROM spanned s JOIN rollup_changed c ON c.tenant_id = s.tenant_id AND c.day = s.day
         GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4""",
    "DELETE FROM invitation_daily d USING rollup_changed c WHERE d.tenant_id = c.tenant_id AND d.day = c.day",
    """INSERT INTO invitation_daily (tenant_id, day, sent, answered)
        WITH spanned AS MATERIALIZED (
          SELECT i.tenant_id, (i.created_at AT TIME ZONE g.timezone)::date AS day, r.id AS response_id
            FROM rollup_ranges g
            JOIN survey_invitation i ON i.tenant_id = g.tenant_id AND i.created_at >= g.starts AND i.created_at < g.ends
            LEFT JOIN response r ON r.invitation_id = i.id)
        SELECT s.tenant_id, s.day, count(*), count(s.response_id)
          FROM spanned s JOIN rollup_changed c ON c.tenant_id = s.tenant_id AND c.day = s.day
         GROUP BY 1, 2""",
    "DELETE FROM response_account_daily d USING rollup_changed c WHERE d.tenant_id = c.tenant_id AND d.day = c.day",
    f"""INSERT INTO response_account_daily (tenant_id, day, account_id, promoters, passives, detractors)
        WITH spanned AS MATERIALIZED ({_SPANNED_RESPONSES})
        SELECT s.tenant_id, s.day, coalesce(k.account_id, 0), {_BAND_SUMS}
          FROM spanned s JOIN rollup_changed c ON c.tenant_id = s.tenant_id AND c.day = s.day
          JOIN contact k ON k.id = s.contact_id
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
    "DELETE FROM response_role_daily d USING rollup_changed c WHERE d.tenant_id = c.tenant_id AND d.day = c.day",
    f"""INSERT INTO response_role_daily (tenant_id, day, role_id, promoters, passives, detractors)
        WITH spanned AS MATERIALIZED ({_SPANNED_RESPONSES})
        SELECT s.tenant_id, s.day, coalesce(cr.role_id, 0), {_BAND_SUMS}
          FROM spanned s JOIN rollup_changed c ON c.tenant_id = s.tenant_id AND c.day = s.day
          LEFT JOIN contact_role cr ON cr.contact_id = s.contact_id
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
    """CREATE TEMPORARY TABLE rollup_months ON COMMIT DROP AS
       SELECT DISTINCT tenant_id, date_trunc('month', day)::date AS month FROM rollup_changed""",
    "ANALYZE rollup_months",
    "DELETE FROM response_account_monthly m USING rollup_months c WHERE m.tenant_id = c.tenant_id AND m.month = c.month",
    """INSERT INTO response_account_monthly (tenant_id, month, account_id, promoters, passives, detractors)
        SELECT d.tenant_id, c.month, d.account_id, sum(d.promoters), sum(d.passives), sum(d.detractors)
          FROM rollup_months c
          JOIN response_account_daily d ON d.tenant_id = c.tenant_id AND d.day >= c.month
                                       AND d.day < (c.month + interval '1 month')::date
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
)


# Tickets reopened since the watermark, with the moment they had closed (kept in the reopening's timeline
# entry): the days they leave.
_REOPENED = """
        SELECT k.tenant_id, (a.details ->> 'previous_closed_at')::timestamptz AS at
          FROM ticket k JOIN activity a ON a.tenant_id = k.tenant_id AND a.ticket_id = k.id
                                       AND a.created_at > :since AND a.kind = 'reopened'
         WHERE k.updated_at > :since"""

_CLOSED = f"""
CREATE TEMPORARY TABLE rollup_closed ON COMMIT DROP AS
SELECT DISTINCT x.tenant_id, (x.at AT TIME ZONE t.timezone)::date AS day, t.timezone,
       ((((x.at AT TIME ZONE t.timezone)::date)::timestamp) AT TIME ZONE t.timezone) AS starts,
       (((((x.at AT TIME ZONE t.timezone)::date + 1))::timestamp) AT TIME ZONE t.timezone) AS ends
  FROM (SELECT k.tenant_id, k.closed_at AS at FROM ticket k WHERE k.closed_at > :since
        UNION ALL {_REOPENED} {_RECOUNT}) x
  JOIN tenant t ON t.id = x.tenant_id
 WHERE x.at IS NOT NULL
"""

_CAUSE_STATEMENTS = (
    "ANALYZE rollup_closed",
    "DELETE FROM cause_daily d USING rollup_closed c WHERE d.tenant_id = c.tenant_id AND d.day = c.day",
    # Materialized: each organisation's span of changed days is scanned once.
    """INSERT INTO cause_daily (tenant_id, day, root_cause_id, tickets)
        WITH spans AS (SELECT tenant_id, timezone, min(starts) AS starts, max(ends) AS ends
                         FROM rollup_closed GROUP BY tenant_id, timezone),
        spanned AS MATERIALIZED (
          SELECT k.id, k.tenant_id, (k.closed_at AT TIME ZONE g.timezone)::date AS day
            FROM spans g JOIN ticket k ON k.tenant_id = g.tenant_id AND k.closed_at >= g.starts
                                      AND k.closed_at < g.ends)
        SELECT s.tenant_id, s.day, coalesce(trc.root_cause_id, 0), count(*)
          FROM spanned s JOIN rollup_closed c ON c.tenant_id = s.tenant_id AND c.day = s.day
          LEFT JOIN ticket_root_cause trc ON trc.ticket_id = s.id
         GROUP BY 1, 2, 3""",
)


# The (organisation, day) pairs a changed ticket is counted on: the days it opened, was first contacted and
# closed, and the day it had closed on before it was reopened.
_TICKET_DAYS = f"""
CREATE TEMPORARY TABLE rollup_ticket_days ON COMMIT DROP AS
SELECT DISTINCT x.tenant_id, (x.at AT TIME ZONE t.timezone)::date AS day, t.timezone,
       (((((x.at AT TIME ZONE t.timezone)::date)::timestamp) AT TIME ZONE t.timezone)) AS starts,
       (((((x.at AT TIME ZONE t.timezone)::date + 1)::timestamp) AT TIME ZONE t.timezone)) AS ends
  FROM (SELECT k.tenant_id, unnest(ARRAY[k.opened_at, k.first_contact_at, k.closed_at]) AS at
          FROM ticket k WHERE k.updated_at > :since
        UNION ALL {_REOPENED} {_RECOUNT}) x
  JOIN tenant t ON t.id = x.tenant_id
 WHERE x.at IS NOT NULL
"""

# One row of facts per closed ticket and date it is counted by, each organisation's span of changed days read
# through the index on that date once (materialized), kept for the changed days only.
_TICKET_FACTS = """
  SELECT k.tenant_id, (k.{at} AT TIME ZONE g.timezone)::date AS day, coalesce(k.assignee_id, 0) AS assignee_id,
         {columns}
    FROM spans g JOIN ticket k ON k.tenant_id = g.tenant_id AND k.{at} >= g.starts AND k.{at} < g.ends
   WHERE k.status = 'closed'"""
_OPENED_FACTS = ("1, (k.first_contact_breach_at IS NOT NULL AND (k.first_contact_at IS NULL "
                 "OR k.first_contact_at > k.first_contact_breach_at))::int, "
                 "(k.resolution_due_at IS NOT NULL AND k.closed_at > k.resolution_due_at)::int, "
                 "0, 0, 0, 0, 0, 0, 0")
_CLOSED_FACTS = ("0, 0, 0, 1, (k.closed_at <= k.resolution_due_at)::int, (k.outcome = 'resolved')::int, "
                 "(k.outcome = 'not_resolved')::int, (k.outcome = 'no_response')::int, 0, 0")
_CONTACTED_FACTS = "0, 0, 0, 0, 0, 0, 0, 0, 1, (k.first_contact_at <= k.first_contact_due_at)::int"
_TICKET_COUNTS = ("opened, first_contact_breaches, resolution_breaches, closed, resolved_within, resolved, "
                  "not_resolved, no_response, contacted, contacted_within")

_TICKET_STATEMENTS = (
    "ANALYZE rollup_ticket_days",
    "DELETE FROM ticket_daily d USING rollup_ticket_days c WHERE d.tenant_id = c.tenant_id AND d.day = c.day",
    f"""INSERT INTO ticket_daily (tenant_id, day, assignee_id, {_TICKET_COUNTS})
        WITH spans AS (SELECT tenant_id, timezone, min(starts) AS starts, max(ends) AS ends
                         FROM rollup_ticket_days GROUP BY tenant_id, timezone),
        facts (tenant_id, day, assignee_id, {_TICKET_COUNTS}) AS MATERIALIZED (
          {_TICKET_FACTS.format(at='opened_at', columns=_OPENED_FACTS)}
          UNION ALL {_TICKET_FACTS.format(at='closed_at', columns=_CLOSED_FACTS)}
          UNION ALL {_TICKET_FACTS.format(at='first_contact_at', columns=_CONTACTED_FACTS)})
        SELECT f.tenant_id, f.day, f.assignee_id,
               {", ".join(f"coalesce(sum(f.{name}), 0)" for name in _TICKET_COUNTS.split(", "))}
          FROM facts f
          JOIN rollup_ticket_days c ON c.tenant_id = f.tenant_id AND c.day = f.day
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
    """CREATE TEMPORARY TABLE rollup_ticket_months ON COMMIT DROP AS
       SELECT DISTINCT tenant_id, month, (month::timestamp AT TIME ZONE timezone) AS starts,
              (((month + interval '1 month')::date)::timestamp AT TIME ZONE timezone) AS ends
         FROM (SELECT tenant_id, timezone, date_trunc('month', day)::date AS month FROM rollup_ticket_days) d""",
    "ANALYZE rollup_ticket_months",
    """DELETE FROM ticket_minutes_monthly m USING rollup_ticket_months c
        WHERE m.tenant_id = c.tenant_id AND m.month = c.month""",
    """INSERT INTO ticket_minutes_monthly (tenant_id, month, assignee_id, minutes, tickets)
        SELECT c.tenant_id, c.month, coalesce(k.assignee_id, 0), k.first_contact_minutes, count(*)
          FROM rollup_ticket_months c
          JOIN ticket k ON k.tenant_id = c.tenant_id AND k.first_contact_at >= c.starts AND k.first_contact_at < c.ends
         WHERE k.status = 'closed' AND k.first_contact_minutes IS NOT NULL
         GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4""",
)


def rollups_enabled() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


@all_tenants()
def roll_up(now: datetime | None = None) -> int:
    """Bring the daily rollups up to date; returns how many (organisation, day) pairs were recomputed.
    Concurrent sweeps queue on the state row's lock, so each change is rolled up by one of them."""
    if not rollups_enabled():
        return 0
    now = now or utcnow()
    state = db.session.execute(select(RollupState).where(RollupState.id == 1).with_for_update()).scalar_one_or_none()
    if state is None:
        db.session.execute(unscoped(text(
            "INSERT INTO report_rollup_state (id, watermark) VALUES (1, NULL) ON CONFLICT (id) DO NOTHING")))
        state = db.session.execute(select(RollupState).where(RollupState.id == 1).with_for_update()).scalar_one()
    since = (state.watermark - OVERLAP) if state.watermark else EPOCH
    db.session.execute(unscoped(text(_CHANGED)), {"since": since})
    pairs = db.session.execute(unscoped(text("SELECT count(*) FROM rollup_changed"))).scalar_one()
    for statement in _STATEMENTS:
        db.session.execute(unscoped(text(statement)))
    db.session.execute(unscoped(text(_CLOSED)), {"since": since})
    for statement in _CAUSE_STATEMENTS:
        db.session.execute(unscoped(text(statement)))
    db.session.execute(unscoped(text(_TICKET_DAYS)), {"since": since})
    for statement in _TICKET_STATEMENTS:
        db.session.execute(unscoped(text(statement)))
    db.session.execute(unscoped(text(_PRUNE_RECOUNT)), {"before": since - timedelta(days=1)})
    state.watermark = now
    db.session.commit()
    return pairs


def note_deletion_of_contact(tenant_id: int, contact_id: int) -> None:
    """Before a contact is deleted with their answers, invitations and tickets: have the next sweep count the
    days they were counted on again (deleted rows leave no ``updated_at`` behind)."""
    if rollups_enabled():
        db.session.execute(unscoped(text(_NOTE_CONTACT)),
                           {"tenant": tenant_id, "contact": contact_id, "now": utcnow()})
