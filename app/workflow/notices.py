"""Notices owed at a time: SLA at risk, SLA breached, task reminders, overdue action-plan items.

Each is a ``ScheduledNotice`` row with a ``key`` unique per tenant (``ticket:12:first_contact_breached``,
``task:7:reminder``), written in the same transaction as the change that makes it owed. The sweep
finds due rows and sends them; nothing here depends on Redis remembering anything.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.timeutil import utcnow
from app.workflow.models import ScheduledNotice

KINDS = {
    "first_contact_at_risk": "First contact SLA at risk",
    "first_contact_breached": "First contact SLA breached",
    "resolution_at_risk": "Resolution SLA at risk",
    "resolution_breached": "Resolution SLA breached",
    "task_reminder": "Task reminder",
    "item_overdue": "Action-plan item overdue",
}


def schedule(*, key: str, kind: str, due_at: datetime, ticket_id: int | None = None, task_id: int | None = None,
             item_id: int | None = None) -> ScheduledNotice:
    """Owe the notice ``key`` at ``due_at``. Scheduling a key again moves it, unless it was already sent."""
    if kind not in KINDS:
        raise ValueError(f"unknown notice kind {kind!r}")
    notice = db.session.execute(select(ScheduledNotice).where(ScheduledNotice.key == key)).scalar_one_or_none()
    if notice is None:
        notice = ScheduledNotice(key=key, kind=kind, due_at=due_at, ticket_id=ticket_id, task_id=task_id,
                                 item_id=item_id)
        db.session.add(notice)
    elif notice.sent_at is None:
        notice.due_at, notice.cancelled_at = due_at, None
    return notice


def cancel(key: str) -> None:
    """No longer owe the notice ``key`` (the task was done, the ticket was contacted or closed)."""
    notice = db.session.execute(select(ScheduledNotice).where(ScheduledNotice.key == key)).scalar_one_or_none()
    if notice is not None and notice.sent_at is None and notice.cancelled_at is None:
        notice.cancelled_at = utcnow()
