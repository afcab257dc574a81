"""Notices owed at a time: SLA at risk, SLA breached, task reminders, overdue action-plan items.

Each is a ``ScheduledNotice`` row with a ``key`` unique per tenant (``ticket:12:first_contact_breached``,
``task:7:reminder``), written in the same transaction as the change that makes it owed, and named after the
notification event it sends (:data:`app.notifications.EVENTS`). :func:`app.notifications.sweep_due` finds
the due rows and sends them; nothing here depends on Redis remembering anything.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.notifications import EVENTS
from app.timeutil import utcnow
from app.workflow.models import ScheduledNotice


def schedule(*, key: str, kind: str, due_at: datetime, ticket_id: int | None = None, task_id: int | None = None,
             item_id: int | None = None) -> ScheduledNotice:
    """Owe the notice ``key`` at ``due_at``. Scheduling a key again moves it, unless it was already sent.

    A cancelled notice is owed again, including one the sweep dropped (``sent_at`` and ``cancelled_at``
    both set) because its reason had gone when it fell due, say a ticket closed and since reopened.
    """
    return schedule_all([dict(key=key, kind=kind, due_at=due_at, ticket_id=ticket_id, task_id=task_id,
                              item_id=item_id)])[0]


def schedule_all(owed: list[dict]) -> list[ScheduledNotice]:
    """:func:`schedule` for several notices at once (each a dict of its arguments): the keys are looked up
    in one query, however many there are."""
    for entry in owed:
        if entry["kind"] not in EVENTS:
            raise ValueError(f"unknown notice kind {entry['kind']!r}")
    if not owed:
        return []
    existing = {notice.key: notice for notice in db.session.execute(
        select(ScheduledNotice).where(ScheduledNotice.key.in_([entry["key"] for entry in owed]))).scalars()}
    scheduled = []
    for entry in owed:
        notice = existing.get(entry["key"])
        if notice is None:
            notice = ScheduledNotice(**entry)
            db.session.add(notice)
            existing[entry["key"]] = notice
        elif notice.sent_at is None or notice.cancelled_at is not None:
            notice.due_at, notice.sent_at, notice.cancelled_at = entry["due_at"], None, None
        scheduled.append(notice)
    return scheduled


def add_new(*, key: str, kind: str, due_at: datetime, ticket_id: int | None = None, task_id: int | None = None,
            item_id: int | None = None) -> ScheduledNotice:
    """Owe a notice whose key cannot exist yet (its ticket or task is being created in this transaction).

    Nothing is looked up, so the session batches such rows into one INSERT; :func:`schedule` is for keys
    that may already exist.
    """
    if kind not in EVENTS:
        raise ValueError(f"unknown notice kind {kind!r}")
    notice = ScheduledNotice(key=key, kind=kind, due_at=due_at, ticket_id=ticket_id, task_id=task_id,
                             item_id=item_id)
    db.session.add(notice)
    return notice


def cancel(key: str) -> None:
    """No longer owe the notice ``key`` (the task was done, the ticket was contacted or closed)."""
    notice = db.session.execute(select(ScheduledNotice).where(ScheduledNotice.key == key)).scalar_one_or_none()
    if notice is not None and notice.sent_at is None and notice.cancelled_at is None:
        notice.cancelled_at = utcnow()

