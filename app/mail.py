"""The outbox: the only way email leaves Turnaround.

:func:`queue_email` renders a message and adds an ``OutboxMessage`` row to the
current transaction; the row id is enqueued after commit. :func:`deliver` claims
the row with a conditional UPDATE, sends it over SMTP and records the attempt.
Transient failures are retried by the sweep with backoff; permanent ones mark the
message failed with the reason, which the tenant's email log shows.
"""
from __future__ import annotations

import logging
from collections import defaultdict
import smtplib
import socket
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, format_datetime

import redis
from flask import current_app, render_template
from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.jobs import QUEUE_MAIL, JobSpec, get_queue, job, on_commit
from app.tenancy import TenantScoped, tenant_context, unscoped
from app.timeutil import UTCDateTime, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
SENDING_LEASE = timedelta(minutes=5)
STATES = {"queued": "Queued", "sending": "Sending", "sent": "Sent", "failed": "Failed"}
KIND_LABELS = {
    "survey_invitation": "Survey invitation",
    "detractor_alert": "Detractor alert",
    "detractor_intro": "Detractor introduction",
    "team_invitation": "Team invitation",
}


class OutboxMessage(TenantScoped, db.Model):
    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_tenant_created", "tenant_id", "created_at"),
        # The sweep looks across tenants for rows still owed, so this one leads with status.
        Index("ix_outbox_status_due", "status", "next_attempt_at"),
        UniqueConstraint("tenant_id", "dedupe_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    to_address: Mapped[str] = mapped_column(String(254))
    to_name: Mapped[str | None] = mapped_column(String(160))
    from_name: Mapped[str] = mapped_column(String(160))
    from_address: Mapped[str] = mapped_column(String(254))
    reply_to: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="SET NULL"))
    # Names the event a notice is about, per recipient; unique so a notice can never be owed twice.
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def state_label(self) -> str:
        return STATES.get(self.status, self.status)

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind.replace("_", " ").capitalize())

    @property
    def message_id(self) -> str:
        domain = current_app.config["MAIL_SENDER_ADDRESS"].rpartition("@")[2] or "turnaround.localhost"
        return f"<outbox-{self.tenant_id}-{self.id}@{domain}>"


def queue_email(
    *,
    kind: str,
    to_address: str,
    to_name: str | None,
    subject: str,
    template: str | None = None,
    context: dict | None = None,
    text_body: str | None = None,
    html_body: str | None = None,
    from_name: str | None = None,
    reply_to: str | None = None,
    ticket_id: int | None = None,
    dedupe_key: str | None = None,
) -> OutboxMessage | None:
    """Add a message to the current transaction; it is enqueued for delivery after commit.

    The body is either rendered from ``email/<template>.txt`` and ``.html`` with ``context``, or given
    already rendered. With ``dedupe_key``, a message already owed under that key is not queued again
    and None is returned.
    """
    if dedupe_key is not None and db.session.execute(
        select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
    ).first():
        return None
    if template is not None:
        text_body = render_template(f"email/{template}.txt", **(context or {}))
        html_body = render_template(f"email/{template}.html", **(context or {}))
    message = OutboxMessage(
        kind=kind,
        to_address=to_address,
        to_name=to_name,
        from_name=from_name or current_app.config["MAIL_SENDER_NAME"],
        from_address=current_app.config["MAIL_SENDER_ADDRESS"],
        reply_to=reply_to,
        subject=subject,
        text_body=text_body or "",
        html_body=html_body,
        ticket_id=ticket_id,
        dedupe_key=dedupe_key,
    )
    if dedupe_key is None:
        db.session.add(message)
        db.session.flush()
    else:
        try:
            with db.session.begin_nested():  # two sweeps racing: the loser's insert fails alone
                db.session.add(message)
                db.session.flush()
        except IntegrityError:
            return None
    on_commit(enqueue_deliveries, message.id)
    return message


def build_message(message: OutboxMessage) -> EmailMessage:
    email = EmailMessage()
    email["From"] = formataddr((message.from_name, message.from_address))
    email["To"] = formataddr((message.to_name or "", message.to_address))
    if message.reply_to:
        email["Reply-To"] = message.reply_to
    email["Subject"] = message.subject
    email["Message-ID"] = message.message_id
    email["Date"] = format_datetime(message.created_at)
    email["X-Turnaround-Kind"] = message.kind
    email.set_content(message.text_body)
    if message.html_body:
        email.add_alternative(message.html_body, subtype="html")
    return email


class PermanentFailure(Exception):
    """The server refused the message for good (bad address, policy): do not retry."""


def _smtp_send(email: EmailMessage) -> None:
    cfg = current_app.config
    try:
        smtp = smtplib.SMTP(cfg["SMTP_HOST"], cfg["SMTP_PORT"], timeout=cfg["SMTP_TIMEOUT"])
        try:
            if cfg["SMTP_STARTTLS"]:
                smtp.starttls()
            if cfg["SMTP_USERNAME"]:
                smtp.login(cfg["SMTP_USERNAME"], cfg["SMTP_PASSWORD"] or "")
            smtp.send_message(email)
        finally:
            # Once the server has accepted the message, a failed QUIT must not turn it into a
            # retry (a duplicate) or a failure; ``with SMTP(...)`` would raise from QUIT.
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentFailure("; ".join(f"{addr}: {code} {msg.decode(errors='replace')}"
                                         for addr, (code, msg) in exc.recipients.items())) from exc
    except smtplib.SMTPResponseException as exc:
        if 500 <= exc.smtp_code < 600:
            error = exc.smtp_error
            error = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
            raise PermanentFailure(f"{exc.smtp_code} {error}") from exc
        raise


MAIL_JOB = JobSpec(queue=QUEUE_MAIL, timeout=600)


def enqueue_deliveries(message_ids: list[int]) -> None:
    """Hand outbox messages to the mail queue after their rows committed: ``MAIL_BATCH_SIZE`` messages
    per job, all jobs in one Redis round trip.

    If Redis is unavailable the messages stay queued in the database and the outbox sweep sends them.
    """
    size = current_app.config["MAIL_BATCH_SIZE"]
    chunks = [list(message_ids[start:start + size]) for start in range(0, len(message_ids), size)]
    if not chunks:
        return
    if current_app.config["JOBS_INLINE"]:
        for chunk in chunks:
            deliver_messages(chunk)
        return
    try:
        queue = get_queue(QUEUE_MAIL)
        queue.enqueue_many([queue.prepare_data(deliver_messages, args=(chunk,), **MAIL_JOB.options())
                            for chunk in chunks])
    except redis.RedisError:
        log.warning("Redis unavailable: %d emails left for the outbox sweep", len(message_ids))


@job(MAIL_JOB)
def deliver_messages(message_ids: list[int]) -> dict[str, int]:
    """Deliver each message (each claims its row, so a message already sent is skipped)."""
    results: dict[str, int] = defaultdict(int)
    for message_id in message_ids:
        results[deliver(message_id)] += 1
    return dict(results)


@job(MAIL_JOB)
def deliver(message_id: int) -> str:
    """Send one outbox message if nobody else has. Returns what happened, for logs and tests."""
    now = utcnow()
    claimed = db.session.execute(
        unscoped(
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.status == "queued",
                or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
            )
            .values(status="sending", claimed_at=now, attempts=OutboxMessage.attempts + 1)
        )
    ).rowcount
    db.session.commit()
    if not claimed:
        return "skipped"
    message = db.session.execute(
        unscoped(select(OutboxMessage).where(OutboxMessage.id == message_id))
    ).scalar_one()
    with tenant_context(message.tenant_id):
        try:
            _smtp_send(build_message(message))
        except PermanentFailure as exc:
            message.status, message.last_error = "failed", str(exc)
        except Exception as exc:  # noqa: BLE001  (anything else: retry with backoff, fail after MAX_ATTEMPTS)
            if not isinstance(exc, (smtplib.SMTPException, OSError, socket.timeout)):
                log.exception("Unexpected error delivering outbox message %s", message_id)
            message.last_error = f"{type(exc).__name__}: {exc}"
            if message.attempts >= MAX_ATTEMPTS:
                message.status = "failed"
            else:
                message.status = "queued"
                message.next_attempt_at = utcnow() + timedelta(seconds=30 * 2 ** (message.attempts - 1))
        else:
            message.status, message.sent_at, message.last_error = "sent", utcnow(), None
        db.session.commit()
        return message.status


def sweep_outbox(stale_after: int | None = None, limit: int = 1000) -> int:
    """Re-enqueue messages still owed: never enqueued since ``stale_after`` seconds, or due for retry.

    A message stuck in "sending" past its lease (the worker died mid-send) goes back to the queue.
    """
    now = utcnow()
    stale = current_app.config["OUTBOX_STALE_SECONDS"] if stale_after is None else stale_after
    cutoff = now - timedelta(seconds=stale)
    db.session.execute(
        unscoped(
            update(OutboxMessage)
            .where(OutboxMessage.status == "sending", OutboxMessage.claimed_at < now - SENDING_LEASE)
            .values(status="queued")
        )
    )
    due_ids = db.session.execute(
        unscoped(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == "queued",
                func.coalesce(OutboxMessage.enqueued_at, OutboxMessage.created_at) <= cutoff,
                or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    ).scalars().all()
    if due_ids:
        db.session.execute(
            unscoped(update(OutboxMessage).where(OutboxMessage.id.in_(due_ids)).values(enqueued_at=now))
        )
    db.session.commit()
    enqueue_deliveries(due_ids)
    return len(due_ids)
