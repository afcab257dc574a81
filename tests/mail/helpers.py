"""Shared helpers for the mail tests: queue plain messages, read outbox rows and attempts."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.mail import DeliveryAttempt, OutboxMessage, queue_email
from app.tenancy import tenant_context


def queue_plain(app, tenant_id: int, count: int = 1, *, to: str = "person{n}@example.com",
                to_name: str = "Person {n}", subject: str = "Note {n}") -> list[int]:
    """Queue ``count`` plain-text messages in one transaction; returns their ids."""
    with app.app_context(), tenant_context(tenant_id):
        ids = [queue_email(kind="team_invitation", to_address=to.format(n=n), to_name=to_name.format(n=n),
                           subject=subject.format(n=n), text_body=f"Hello {n}").id for n in range(count)]
        db.session.commit()
        db.session.remove()
    return ids


def outbox(app, tenant_id: int) -> list[OutboxMessage]:
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()
        db.session.expunge_all()
        db.session.remove()
    return rows


def attempts(app, tenant_id: int, message_id: int) -> list[DeliveryAttempt]:
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(select(DeliveryAttempt).where(DeliveryAttempt.message_id == message_id)
                                  .order_by(DeliveryAttempt.id)).scalars().all()
        db.session.expunge_all()
        db.session.remove()
    return rows


def make_due(app) -> None:
    """Bring every retry forward to now (time passes)."""
    from sqlalchemy import update

    from app.tenancy import unscoped
    from app.timeutil import utcnow

    with app.app_context():
        db.session.execute(unscoped(update(OutboxMessage).where(OutboxMessage.next_attempt_at.is_not(None))
                                    .values(next_attempt_at=utcnow())))
        db.session.commit()
        db.session.remove()
