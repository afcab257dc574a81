"""The sweep of due notices: claim a batch of ``ScheduledNotice`` rows, run them as one notification batch.

How it stays at-most-once and cheap:

* It claims a batch of due rows with one conditional UPDATE (``sent_at IS NULL``) that returns them, so
  two sweeps running at once never both hold a row; on PostgreSQL the batch is picked with
  ``FOR UPDATE SKIP LOCKED`` so they also do not wait for each other.
* Due rows are found through a partial index of the rows still owed, so cancelled and sent notices never
  slow it down. The batch (:mod:`app.notifications.batch`) loads everything across organisations with one
  query per kind of row, whatever the batch size, and writes the outbox rows with one statement that skips
  any ``(tenant_id, dedupe_key)`` already owed, so a person never gets two emails about the same notice even
  if it were ever processed twice.
* The claim and the outbox rows commit together: a sweep that dies mid-batch leaves the notices owed,
  and the next sweep (after a worker restart, late but once) sends them.
* A notice whose reason has gone by the time it is due (the ticket closed, first contact was made, the
  task was done) is claimed and marked cancelled without sending.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import redis
from sqlalchemy import Row, case, func, select, update

from app import mail
from app.accounts.models import Membership, Tenant
from app.extensions import db
from app.notifications.batch import Batch, Occurrence
from app.notifications.events import EVENTS
from app.settings.models import WorkflowSettings
from app.tenancy import WORKING_ROLES, all_tenants, unscoped
from app.tickets.models import Status, Ticket
from app.timeutil import utcnow
from app.workflow.models import ScheduledNotice

# 2,000 notices (about 6,000 emails) per sweep: under two seconds on a small server (bench/sweep.py).
SWEEP_LIMIT = 2000


@all_tenants()
def sweep_due(now: datetime | None = None, limit: int = SWEEP_LIMIT) -> int:
    """Send the notices that are due and still owed, in every organisation, oldest first; returns how many
    were handled.

    One sweep handles at most ``limit`` notices as one batch and commits; a bigger backlog (after an outage)
    drains over the next sweeps, so each sweep stays a bounded amount of work and the outbox sweep that
    follows it is never held up. The new outbox messages go to the mail queue once committed.
    Safe to run concurrently and repeatedly: a notice is handled by exactly one sweep.
    """
    now = now or utcnow()
    claimed = claim(now, limit)
    if not claimed:
        db.session.commit()
        return 0
    try:
        messages = handle(claimed, now)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    mail.enqueue_by_kind(messages)
    return len(claimed)


def claim(now: datetime, limit: int) -> list[Row]:
    """Mark up to ``limit`` due notices as sent and return them; rows another sweep holds are skipped.

    A Core statement on the table: the rows come back as plain tuples, with no ORM bookkeeping.
    """
    notice = ScheduledNotice.__table__.c
    owed = (
        select(notice.id)
        .where(notice.sent_at.is_(None), notice.cancelled_at.is_(None), notice.due_at <= now)
        .order_by(notice.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(ScheduledNotice.__table__)
        .where(notice.id.in_(owed), notice.sent_at.is_(None), notice.cancelled_at.is_(None))
        .values(sent_at=now)
        .returning(notice.id, notice.tenant_id, notice.key, notice.kind, notice.ticket_id, notice.task_id,
                   notice.item_id, notice.due_at)
    )
    return db.session.execute(unscoped(statement)).all()


def handle(claimed: list[Row], now: datetime) -> dict[int, str]:
    """Write the mail the claimed notices owe; the ones no longer owed are marked cancelled.

    Returns the new outbox messages, id → kind (uncommitted).
    """
    result = Batch([Occurrence(event=n.kind, tenant_id=n.tenant_id, key=n.key, ticket_id=n.ticket_id,
                               task_id=n.task_id, item_id=n.item_id, due_at=n.due_at, notice_id=n.id)
                    for n in claimed], now, stream=True).run()
    dropped = [occurrence.notice_id for occurrence in result.unsent]
    if dropped:
        db.session.execute(unscoped(
            update(ScheduledNotice).where(ScheduledNotice.id.in_(dropped)).values(cancelled_at=now)
        ), execution_options={"synchronize_session": False})
    return result.messages


# The backlog is counted across organisations at most this often (the notice is daily; the count reads every
# organisation's open tickets).
BACKLOG_CHECK_SECONDS = 300
_BACKLOG_CHECKED_KEY = "turnaround:backlog_checked_at"
DEFAULT_BACKLOG_THRESHOLD = WorkflowSettings.__table__.c.backlog_threshold.default.arg


def backlog_check_due(now: datetime) -> bool:
    """Whether :func:`sweep_backlog` should run in this sweep: when the last check is
    :data:`BACKLOG_CHECK_SECONDS` old (remembered in Redis; without Redis, every sweep checks)."""
    from app.jobs import redis_connection

    try:
        connection = redis_connection()
        last = connection.get(_BACKLOG_CHECKED_KEY)
        if last is not None and 0 <= now.timestamp() - float(last) < BACKLOG_CHECK_SECONDS:
            return False
        connection.set(_BACKLOG_CHECKED_KEY, now.timestamp())
    except (redis.RedisError, ValueError):
        pass
    return True


def backlogged_organisations() -> list[Row]:
    """The organisations whose open tickets per working member (active admins, managers and agents; all
    their open tickets when they have none) are above their backlog threshold: one statement for all of them."""
    open_tickets = (select(Ticket.tenant_id, func.count(Ticket.id).label("count"))
                    .where(Ticket.status != Status.CLOSED).group_by(Ticket.tenant_id).subquery())
    members = (select(Membership.tenant_id, func.count(Membership.id).label("count"))
               .where(Membership.role.in_(WORKING_ROLES), Membership.is_active.is_(True))
               .group_by(Membership.tenant_id).subquery())
    threshold = func.coalesce(WorkflowSettings.backlog_threshold, DEFAULT_BACKLOG_THRESHOLD)
    working = func.coalesce(members.c.count, 0)
    return db.session.execute(unscoped(
        select(Tenant.id, Tenant.timezone)
        .join(open_tickets, open_tickets.c.tenant_id == Tenant.id)
        .outerjoin(members, members.c.tenant_id == Tenant.id)
        .outerjoin(WorkflowSettings, WorkflowSettings.tenant_id == Tenant.id)
        .where(open_tickets.c.count > threshold * case((working < 1, 1), else_=working))
        .order_by(Tenant.id)
    )).all()


@all_tenants()
def sweep_backlog(now: datetime | None = None) -> int:
    """Ask the admins of every organisation with a backlog to add a team member: once per day per
    organisation, the day as the organisation's timezone has it. Returns how many messages were queued.

    The occurrence key names the organisation's day (``organisation:backlog:2026-12-02``), so the outbox's
    unique dedupe key lets through one message per admin per day whatever the number of sweeps, restarts or
    sweeps running at once; when the backlog ends the organisation drops out of the count and hears nothing.
    """
    now = now or utcnow()
    event = EVENTS["workload_backlog"]
    occurrences = [
        Occurrence(event=event.name, tenant_id=row.id,
                   key=event.key(day=now.astimezone(ZoneInfo(row.timezone or "UTC")).date()))
        for row in backlogged_organisations()
    ]
    if not occurrences:
        db.session.commit()
        return 0
    try:
        messages = Batch(occurrences, now, stream=True).run().messages
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    mail.enqueue_by_kind(messages)
    return len(messages)
