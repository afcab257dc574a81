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

from sqlalchemy import Row, select, update

from app import mail
from app.extensions import db
from app.notifications.batch import Batch, Occurrence
from app.tenancy import all_tenants, unscoped
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
        message_ids = handle(claimed, now)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    mail.enqueue_deliveries(message_ids)
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


def handle(claimed: list[Row], now: datetime) -> list[int]:
    """Write the mail the claimed notices owe; the ones no longer owed are marked cancelled.

    Returns the new outbox message ids (uncommitted).
    """
    result = Batch([Occurrence(event=n.kind, tenant_id=n.tenant_id, key=n.key, ticket_id=n.ticket_id,
                               task_id=n.task_id, item_id=n.item_id, due_at=n.due_at, notice_id=n.id)
                    for n in claimed], now, stream=True).run()
    dropped = [occurrence.notice_id for occurrence in result.unsent]
    if dropped:
        db.session.execute(unscoped(
            update(ScheduledNotice).where(ScheduledNotice.id.in_(dropped)).values(cancelled_at=now)
        ), execution_options={"synchronize_session": False})
    return result.message_ids
