"""The outbox: the only way email leaves Turnaround.

:func:`queue_email` renders a message and adds an ``OutboxMessage`` row to the current transaction; once the
outermost transaction commits, :func:`enqueue_deliveries` hands the new ids to the mail queue in batches: the
mail of :data:`BULK_KINDS` to the bulk mail queue, which the worker takes after every other job.
:func:`deliver_messages` (the job) claims its batch with one conditional UPDATE and sends it through one
:class:`Transport` connection. Each attempt is recorded in its own short transaction right after the
server's reply, as a ``delivery_attempt`` row: the tenant's email log shows every attempt and its outcome.

A transport raises :class:`TransientError` (SMTP 4xx at any stage, a refused or dropped connection, a
timeout: retried with backoff until ``MAX_ATTEMPTS``) or :class:`PermanentError` (5xx for the message's
recipient: marked failed with the server's reply).

Guarantee: a message the server accepted is never sent again, except across a crash between the server's
acceptance and the commit of that outcome (at-least-once there). If the database is unreachable when the
outcome is to be written, the outcome is retried for ``MAIL_RECORD_RETRY_SECONDS`` and then held in Redis
until the sweep can write it, so a message delivered during a database outage is neither marked failed nor
sent twice.
"""
from __future__ import annotations

import json
import logging
import re
import smtplib
import socket
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr
from typing import Callable, Iterable, Protocol

import redis
from flask import current_app, render_template
from sqlalchemy import (Connection, ForeignKey, Index, Integer, String, Text, UniqueConstraint, and_, bindparam, func,
                        insert, or_, select, update)
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.jobs import QUEUE_MAIL, QUEUE_MAIL_BULK, JobSpec, get_queue, job, key_name, on_commit, redis_connection
from app.tenancy import TenantScoped, unscoped
from app.timeutil import UTCDateTime, utcnow

log = logging.getLogger(__name__)

# Backoff doubles from MAIL_RETRY_SECONDS: with the default 30 s the last of 8 attempts is about an hour after
# the first, long enough for greylisting and a short mail-server outage.
MAX_ATTEMPTS = 8
MAX_RETRY_DELAY = timedelta(hours=1)
SENDING_LEASE = timedelta(minutes=5)
# How long the sweep trusts a queued job to still be coming; a job that is still in Redis is never doubled.
MARKER_TTL_SECONDS = 24 * 3600
STATES = {"queued": "Queued", "sending": "Sending", "sent": "Sent", "failed": "Failed"}
OUTCOMES = {"sent": "Accepted", "transient": "Deferred (will retry)", "permanent": "Refused"}
KIND_LABELS = {
    "survey_invitation": "Survey invitation",
    "detractor_alert": "Detractor alert",
    "detractor_intro": "Detractor introduction",
    "team_invitation": "Team invitation",
    "personal_email": "Personal email",
}
MAIL_JOB = JobSpec(queue=QUEUE_MAIL, timeout=600)
# Mail that goes out in numbers and that nobody is waiting on to the second: it waits behind every other job
# (QUEUE_MAIL_BULK), so a survey sent to thousands never delays a detractor alert.
BULK_KINDS = frozenset({"survey_invitation", "detractor_intro", "weekly_digest"})


class OutboxMessage(TenantScoped, db.Model):
    __tablename__ = "outbox_message"
    __table_args__ = (
        Index("ix_outbox_tenant_created", "tenant_id", "created_at"),
        # The email log filtered by state reads this one in order (app.email_log.queries).
        Index("ix_outbox_tenant_status_created", "tenant_id", "status", "created_at", "id"),
        # The sweep looks across tenants for rows still owed, so this one leads with status.
        Index("ix_outbox_status_due", "status", "next_attempt_at"),
        UniqueConstraint("tenant_id", "dedupe_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    to_address: Mapped[str] = mapped_column(String(254))
    to_name: Mapped[str | None] = mapped_column(String(160))
    # Addresses the message is copied to, comma-separated (a personal email from a ticket), or None.
    cc: Mapped[str | None] = mapped_column(Text)
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
    # When the message was last handed to the mail queue (set with the row when it is enqueued after commit).
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
    def cc_addresses(self) -> list[str]:
        """The copy recipients, as stored in :attr:`cc`."""
        return cc_addresses(self.cc)

    @property
    def message_id(self) -> str:
        """The ``Message-ID`` header: derived from the row alone, so every retry carries the same one."""
        return message_id_for(self.tenant_id, self.id, self.from_address)


class DeliveryAttempt(TenantScoped, db.Model):
    """One try at handing a message to the mail server, with what the server (or the network) said."""

    __tablename__ = "delivery_attempt"
    __table_args__ = (Index("ix_delivery_attempt_tenant_message", "tenant_id", "message_id", "attempted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_message.id", ondelete="CASCADE"))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(12))  # sent, transient, permanent
    reply: Mapped[str | None] = mapped_column(Text)

    @property
    def outcome_label(self) -> str:
        return OUTCOMES.get(self.outcome, self.outcome)


def cc_addresses(cc: str | None) -> list[str]:
    """The addresses in a stored ``cc`` value (header-cleaned, empty entries dropped)."""
    return [address for address in (header_value(part) for part in (cc or "").split(",")) if address]


def message_id_for(tenant_id: int, message_id: int, from_address: str) -> str:
    domain = from_address.rpartition("@")[2] or "turnaround.localhost"
    return f"<outbox-{tenant_id}-{message_id}@{domain}>"


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
    cc: list[str] | None = None,
    ticket_id: int | None = None,
    dedupe_key: str | None = None,
) -> OutboxMessage | None:
    """Add a message to the current transaction; it is enqueued for delivery after the outermost commit.

    The body is either rendered from ``email/<template>.txt`` and ``.html`` with ``context``, or given
    already rendered. ``cc`` are addresses the message is copied to (its Cc header and envelope). With ``dedupe_key``, a message already owed under that key is not queued again
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
        cc=", ".join(cc) if cc else None,
        subject=subject,
        text_body=text_body or "",
        html_body=html_body,
        ticket_id=ticket_id,
        dedupe_key=dedupe_key,
        enqueued_at=utcnow(),
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
    deliver_after_commit(message.id, kind)
    return message


def deliver_after_commit(message_id: int, kind: str) -> None:
    """Hand a message added in this transaction to its mail queue once the outermost transaction commits."""
    on_commit(enqueue_bulk_deliveries if kind in BULK_KINDS else enqueue_deliveries, message_id)


def enqueue_by_kind(messages: dict[int, str]) -> None:
    """:func:`enqueue_deliveries` for committed messages of several kinds (``{id: kind}``), each to its queue."""
    enqueue_deliveries([message_id for message_id, kind in messages.items() if kind not in BULK_KINDS])
    enqueue_bulk_deliveries([message_id for message_id, kind in messages.items() if kind in BULK_KINDS])


def enqueue_bulk_deliveries(message_ids: list[int]) -> None:
    """:func:`enqueue_deliveries` to the bulk mail queue (messages of :data:`BULK_KINDS`)."""
    enqueue_deliveries(message_ids, bulk=True)


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


def header_value(value: str | None) -> str:
    """``value`` on one line, without control characters: safe for any email header."""
    return " ".join(_CONTROL.sub(" ", value or "").split())


_WIRE = compat32.clone(linesep="\r\n")  # smtplib sends bytes as they are: lines must already end in CRLF
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP  # readable bodies; base64 would be the default for UTF-8


def build_message(message: OutboxMessage) -> Message:
    """The email for an outbox row. Header values are cleaned here, so no stored name or subject (a CSV
    import, an old row) can make the message fail to build or smuggle in a header.

    Built with the ``email.mime`` classes, which cost a tenth of ``Message``'s header parsing: at
    hundreds of messages a second, building them was most of a worker's time.
    """
    text = MIMEText(message.text_body, "plain", _UTF8)
    if message.html_body:
        email: Message = MIMEMultipart("alternative")
        email.attach(text)
        email.attach(MIMEText(message.html_body, "html", _UTF8))
    else:
        email = text
    email["From"] = formataddr((header_value(message.from_name), header_value(message.from_address)), "utf-8")
    email["To"] = formataddr((header_value(message.to_name), header_value(message.to_address)), "utf-8")
    if message.cc:
        email["Cc"] = ", ".join(cc_addresses(message.cc))
    if message.reply_to:
        email["Reply-To"] = header_value(message.reply_to)
    subject = header_value(message.subject)
    email["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")
    email["Message-ID"] = message.message_id
    email["Date"] = format_datetime(message.created_at)
    email["X-Turnaround-Kind"] = header_value(message.kind)
    return email


class TransientError(Exception):
    """The message could not be handed over now (4xx, connection refused or dropped, timeout): try later."""


class PermanentError(Exception):
    """The server refused the message for good (5xx naming its recipient or the message): do not retry."""


class Transport(Protocol):
    """A channel that hands messages to a server. One instance serves one batch and may keep a connection
    open across its messages; ``close`` ends it. Another channel (an HTTP mail API) is one more class."""

    def send(self, email: Message, sender: str, recipients: list[str]) -> str:
        """Hand ``email`` over; return the server's acceptance reply. Raises TransientError or PermanentError."""

    def close(self) -> None:
        """End the connection, if any; never raises."""


def _reply(code: int, text: bytes | str) -> str:
    text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(text.split())}".strip()


class SmtpTransport:
    """SMTP with one connection for up to ``SMTP_MAX_MESSAGES_PER_CONNECTION`` messages.

    Every 4xx (greeting, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA), a refused or dropped connection and a timeout
    are transient; a 5xx is permanent for the message it answered (at RCPT: for the recipients it names).
    After a refused transaction the connection is reset (RSET) and reused; after a dropped one, reopened.
    """

    def __init__(self, config: dict):
        self.config = config
        self.max_per_connection = max(1, int(config["SMTP_MAX_MESSAGES_PER_CONNECTION"]))
        self._smtp: smtplib.SMTP | None = None
        self._sent_on_connection = 0
        # Set when the server cannot be reached: the rest of the batch is deferred at once instead of each
        # message waiting out its own timeout (which could outlast the batch's claim on its messages).
        self._unreachable: str | None = None

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        smtp = smtplib.SMTP(timeout=cfg["SMTP_TIMEOUT"])
        try:
            code, text = smtp.connect(cfg["SMTP_HOST"], cfg["SMTP_PORT"])
            if code != 220:
                raise smtplib.SMTPConnectError(code, text)
            # smtplib writes a command and its data in separate small packets; without this, Nagle's algorithm
            # and the server's delayed ACK stall every message by tens of milliseconds.
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo_or_helo_if_needed()
            if cfg["SMTP_STARTTLS"]:
                smtp.starttls()
                smtp.ehlo()
            if cfg["SMTP_USERNAME"]:
                smtp.login(cfg["SMTP_USERNAME"], cfg["SMTP_PASSWORD"] or "")
        except BaseException:
            smtp.close()
            raise
        self._sent_on_connection = 0
        return smtp

    def send(self, email: Message, sender: str, recipients: list[str]) -> str:
        if self._smtp is not None and self._sent_on_connection >= self.max_per_connection:
            self.close()
        if self._unreachable is not None:
            raise TransientError(self._unreachable)
        try:
            if self._smtp is None:
                try:
                    self._smtp = self._connect()
                except (smtplib.SMTPException, OSError) as exc:
                    code = getattr(exc, "smtp_code", None)
                    if code is None or not 500 <= code < 600:
                        self._unreachable = _reply(code, exc.smtp_error) if code else f"{type(exc).__name__}: {exc}"
                    raise
            return self._transaction(self._smtp, email, sender, recipients)
        except (TransientError, PermanentError):
            raise
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise _classify(exc.smtp_code, exc.smtp_error) from exc
        except (smtplib.SMTPException, OSError) as exc:  # dropped, refused, timed out
            self.close()
            raise TransientError(f"{type(exc).__name__}: {exc}") from exc

    def _transaction(self, smtp: smtplib.SMTP, email: Message, sender: str, recipients: list[str]) -> str:
        code, text = smtp.mail(sender)
        if code != 250:
            self._failed(code, text)
        refused: dict[str, str] = {}
        for recipient in recipients:
            code, text = smtp.rcpt(recipient)
            if code not in (250, 251):
                refused[recipient] = (code, text)
        if len(refused) == len(recipients):
            if all(500 <= code < 600 for code, _ in refused.values()):
                self._reset(smtp)
                raise PermanentError("; ".join(f"{address}: {_reply(*reply)}" for address, reply in refused.items()))
            code, text = next(reply for reply in refused.values() if not 500 <= reply[0] < 600)
            self._failed(code, text)
        code, text = smtp.data(email.as_bytes(policy=_WIRE))
        if code != 250:
            self._failed(code, text)
        self._sent_on_connection += 1
        return _reply(code, text)

    def _failed(self, code: int, text: bytes) -> None:
        """The server refused this transaction: keep the connection for the next message unless it is closing."""
        if code == 421 or code < 400:
            self.close()
        else:
            self._reset(self._smtp)
        raise _classify(code, text)

    def _reset(self, smtp: smtplib.SMTP | None) -> None:
        try:
            if smtp is not None and smtp.rset()[0] != 250:
                self.close()
        except (smtplib.SMTPException, OSError):
            self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        # Once the server has accepted messages, a failed QUIT must not turn them into retries or failures.
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def _classify(code: int, text: bytes | str) -> Exception:
    reply = _reply(code, text)
    return PermanentError(reply) if 500 <= code < 600 else TransientError(reply)


TRANSPORTS: dict[str, Callable[[dict], Transport]] = {"smtp": SmtpTransport}


def make_transport() -> Transport:
    """A new transport for one batch, chosen by the ``MAIL_TRANSPORT`` setting."""
    return TRANSPORTS[current_app.config["MAIL_TRANSPORT"]](current_app.config)


def _marker(message_id: int) -> str:
    """Redis key that says a delivery job for the message is waiting in the queue."""
    return key_name(f"mail:queued:{message_id}")


def _held_outcome(message_id: int) -> str:
    """Redis key holding an outcome the database could not take yet."""
    return key_name(f"mail:outcome:{message_id}")


def enqueue_deliveries(message_ids: list[int], *, bulk: bool = False) -> None:
    """Hand outbox messages whose rows have committed to the mail queue (``bulk``: the bulk mail queue):
    ``MAIL_BATCH_SIZE`` messages per job, all jobs (and a per-message "queued" marker the sweep reads) in one
    Redis round trip.

    If Redis is unavailable the messages stay queued in the database and the outbox sweep sends them.
    """
    size = max(1, current_app.config["MAIL_BATCH_SIZE"])
    chunks = [list(message_ids[start:start + size]) for start in range(0, len(message_ids), size)]
    if not chunks:
        return
    if current_app.config["JOBS_INLINE"]:
        for chunk in chunks:
            deliver_messages(chunk)
        return
    try:
        queue = get_queue(QUEUE_MAIL_BULK if bulk else QUEUE_MAIL)
        with redis_connection().pipeline() as pipe:
            jobs = queue.enqueue_many([queue.prepare_data(deliver_messages, args=(chunk,), **MAIL_JOB.options())
                                       for chunk in chunks], pipeline=pipe)
            for queued, chunk in zip(jobs, chunks):
                for message_id in chunk:
                    pipe.set(_marker(message_id), queued.id, ex=MARKER_TTL_SECONDS)
            pipe.execute()
    except redis.RedisError:
        log.warning("Redis unavailable: %d emails left for the outbox sweep", len(message_ids))


@dataclass
class _Outcome:
    status: str  # the message's new status: sent, queued (retry) or failed
    outcome: str  # the attempt's: sent, transient, permanent
    reply: str
    at: datetime
    retry_at: datetime | None = None

    def as_json(self, tenant_id: int) -> str:
        return json.dumps({"tenant_id": tenant_id, "status": self.status, "outcome": self.outcome,
                           "reply": self.reply, "at": self.at.isoformat(),
                           "retry_at": self.retry_at.isoformat() if self.retry_at else None})

    @classmethod
    def from_json(cls, raw: bytes) -> tuple[int, _Outcome]:
        data = json.loads(raw)
        retry_at = datetime.fromisoformat(data["retry_at"]) if data.get("retry_at") else None
        return data["tenant_id"], cls(data["status"], data["outcome"], data["reply"],
                                      datetime.fromisoformat(data["at"]), retry_at)


@job(MAIL_JOB)
def deliver_messages(message_ids: list[int]) -> dict[str, int]:
    """Deliver a batch over one transport connection; returns how many ended in each state.

    Each message is claimed first (a message another job holds, already sent, or not due is "skipped"),
    and its outcome is committed right after the server's reply.
    """
    return dict(Counter(_deliver_batch(message_ids).values()))


@job(MAIL_JOB)
def deliver(message_id: int) -> str:
    """Send one outbox message if nobody else has. Returns what happened, for logs and tests."""
    return _deliver_batch([message_id])[message_id]


def _deliver_batch(message_ids: Iterable[int]) -> dict[int, str]:
    message_ids = list(dict.fromkeys(message_ids))
    results = {message_id: "skipped" for message_id in message_ids}
    now = utcnow()
    claimed = db.session.execute(
        unscoped(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(message_ids),
                OutboxMessage.status == "queued",
                or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
            )
            .values(status="sending", claimed_at=now)
            .returning(OutboxMessage.id)
        ),
        execution_options={"synchronize_session": False},
    ).scalars().all()
    db.session.commit()
    # Only now: a claimed message is "sending", which the sweep leaves alone; before the claim commits, the
    # marker is what keeps the sweep from queueing the message a second time.
    _forget_markers(message_ids)
    if not claimed:
        return results
    messages = db.session.execute(
        unscoped(select(OutboxMessage).where(OutboxMessage.id.in_(claimed)).order_by(OutboxMessage.id))
    ).scalars().all()
    db.session.expunge_all()  # plain data from here on: each outcome is its own statement
    db.session.commit()
    transport = make_transport()
    recorder = _Recorder()
    held_outcomes = _held_outcomes([message.id for message in messages])
    try:
        for message in messages:
            # An outcome held from a database outage is recorded, never sent again.
            held = held_outcomes.get(message.id)
            outcome = held or _attempt(transport, message)
            if _record(message, outcome, recorder) and held is not None:
                _drop_held_outcome(message.id)
            results[message.id] = outcome.status
    finally:
        transport.close()
        recorder.close()
    return results


def _attempt(transport: Transport, message: OutboxMessage) -> _Outcome:
    try:
        reply = transport.send(build_message(message), message.from_address,
                               [message.to_address, *cc_addresses(message.cc)])
    except PermanentError as exc:
        return _Outcome("failed", "permanent", str(exc), utcnow())
    except TransientError as exc:
        return _retry_or_fail(message, str(exc))
    except Exception as exc:  # noqa: BLE001  (a bug must not lose the message: retry, then fail visibly)
        log.exception("Unexpected error delivering outbox message %s", message.id)
        return _retry_or_fail(message, f"{type(exc).__name__}: {exc}")
    return _Outcome("sent", "sent", reply, utcnow())


def _retry_or_fail(message: OutboxMessage, reply: str) -> _Outcome:
    """A transient failure: retry after a doubling delay, or fail if this was the last attempt."""
    now = utcnow()
    if message.attempts + 1 >= MAX_ATTEMPTS:
        return _Outcome("failed", "transient", reply, now)
    delay = timedelta(seconds=current_app.config["MAIL_RETRY_SECONDS"] * 2 ** message.attempts)
    return _Outcome("queued", "transient", reply, now, retry_at=now + min(delay, MAX_RETRY_DELAY))


class _Recorder:
    """One autocommit connection for a batch's outcomes, opened again after the database went away (a
    reconnected connection would not keep its autocommit setting)."""

    def __init__(self):
        self._conn: Connection | None = None

    def write(self, message_id: int, tenant_id: int, outcome: _Outcome) -> bool:
        if self._conn is None:
            self._conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            return _write_outcome(message_id, tenant_id, outcome, self._conn)
        except (OperationalError, InterfaceError):
            self.close()
            raise

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except (OperationalError, InterfaceError):
                conn.invalidate()


def _record(message: OutboxMessage, outcome: _Outcome, recorder: _Recorder) -> bool:
    """Commit the outcome in its own short transaction; returns whether it reached the database. While the
    database is unreachable, try again for ``MAIL_RECORD_RETRY_SECONDS``; then hold the outcome in Redis for
    the sweep to write."""
    deadline = time.monotonic() + current_app.config["MAIL_RECORD_RETRY_SECONDS"]
    delay = 0.2
    while True:
        try:
            recorder.write(message.id, message.tenant_id, outcome)
            return True
        except (OperationalError, InterfaceError):
            if time.monotonic() >= deadline:
                break
            log.warning("Database unavailable recording message %s (%s); retrying in %.1fs",
                        message.id, outcome.outcome, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
    try:
        redis_connection().set(_held_outcome(message.id), outcome.as_json(message.tenant_id), ex=30 * 24 * 3600)
        log.error("Database unavailable: outcome of message %s held in Redis until the sweep records it",
                  message.id)
    except redis.RedisError:
        log.error("Database and Redis unavailable: message %s stays 'sending' (outcome %s, %s); after its lease "
                  "it is sent again", message.id, outcome.outcome, outcome.reply)
    return False


def _write_outcome(message_id: int, tenant_id: int, outcome: _Outcome, conn: Connection | None = None) -> bool:
    """Write the outcome and its attempt row as one transaction, if the message is still being sent (or
    held as queued); returns whether it was. On PostgreSQL this is one autocommitted statement (an UPDATE
    in a CTE feeding the INSERT): one round trip per message, which is what bounds a batch's speed."""
    own = conn is None
    conn = conn or db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    params = {"message": message_id, "tenant": tenant_id, "at": outcome.at, "outcome": outcome.outcome,
              "reply": outcome.reply, "retry_at": outcome.retry_at}
    try:
        if conn.dialect.name == "postgresql":
            return conn.execute(_outcome_statement(outcome.status, combined=True), params).first() is not None
        with conn.begin():
            if conn.execute(_outcome_statement(outcome.status), params).first() is None:
                return False
            conn.execute(_ATTEMPT_INSERT, params)
            return True
    finally:
        if own:
            conn.close()


_OUTCOME_STATEMENTS: dict[tuple[str, bool], object] = {}
_ATTEMPT_COLUMNS = {"tenant_id": bindparam("tenant"), "message_id": bindparam("message"),
                    "attempted_at": bindparam("at", type_=UTCDateTime()), "outcome": bindparam("outcome"),
                    "reply": bindparam("reply", type_=Text())}
_ATTEMPT_INSERT = unscoped(insert(DeliveryAttempt.__table__).values(**_ATTEMPT_COLUMNS))


def _outcome_statement(status: str, combined: bool = False):
    """The UPDATE that records an outcome (built once per status): ``combined`` adds the attempt's INSERT,
    fed by the UPDATE through a CTE so that nothing is written for a message no longer being sent."""
    key = (status, combined)
    if key not in _OUTCOME_STATEMENTS:
        outbox, attempt = OutboxMessage.__table__, DeliveryAttempt.__table__
        values: dict = {"status": status, "attempts": outbox.c.attempts + 1}
        if status == "sent":
            values.update(sent_at=bindparam("at", type_=UTCDateTime()), last_error=None, next_attempt_at=None)
        else:
            values["last_error"] = bindparam("reply", type_=Text())
        if status == "queued":
            values["next_attempt_at"] = bindparam("retry_at", type_=UTCDateTime())
        statement = (update(outbox)
                     .where(outbox.c.id == bindparam("message"), outbox.c.status.in_(("sending", "queued")))
                     .values(**values).returning(outbox.c.id))
        if combined:
            recorded = statement.cte("recorded")
            columns = dict(_ATTEMPT_COLUMNS, message_id=recorded.c.id)
            statement = (insert(attempt).from_select(list(columns), select(*columns.values()))
                         .returning(attempt.c.id))
        _OUTCOME_STATEMENTS[key] = unscoped(statement)
    return _OUTCOME_STATEMENTS[key]


def _forget_markers(message_ids: list[int]) -> None:
    try:
        redis_connection().delete(*[_marker(message_id) for message_id in message_ids])
    except redis.RedisError:
        pass  # the job is running: a stale marker only delays a retry until it expires


def _held_outcomes(message_ids: list[int]) -> dict[int, _Outcome]:
    """Outcomes held in Redis for these messages (one round trip for the batch)."""
    try:
        raws = redis_connection().mget([_held_outcome(message_id) for message_id in message_ids])
    except redis.RedisError:
        return {}
    return {message_id: _Outcome.from_json(raw)[1] for message_id, raw in zip(message_ids, raws) if raw is not None}


def _drop_held_outcome(message_id: int) -> None:
    try:
        redis_connection().delete(_held_outcome(message_id))
    except redis.RedisError:
        pass  # writing it again later changes nothing: the message is no longer "sending"


def _record_held_outcomes(conn: redis.Redis) -> int:
    """Write the outcomes held in Redis during a database outage; returns how many were written."""
    written = 0
    for key in conn.scan_iter(match=key_name("mail:outcome:*"), count=500):
        raw = conn.get(key)
        if raw is None:
            continue
        tenant_id, outcome = _Outcome.from_json(raw)
        _write_outcome(int(key.decode().rpartition(":")[2]), tenant_id, outcome)
        conn.delete(key)
        written += 1
    return written


def _still_queued_in_redis(conn: redis.Redis, message_ids: list[int]) -> set[int]:
    if not message_ids:
        return set()
    with conn.pipeline(transaction=False) as pipe:
        for message_id in message_ids:
            pipe.exists(_marker(message_id))
        present = pipe.execute()
    return {message_id for message_id, found in zip(message_ids, present) if found}


def sweep_outbox(stale_after: int | None = None, limit: int = 1000) -> int:
    """Re-enqueue messages still owed whose job is no longer waiting in Redis; returns how many.

    Owed means: queued, due (no retry time, or it has come), and either handed to the queue more than
    ``stale_after`` seconds ago (default ``OUTBOX_STALE_SECONDS``) or due for a retry not yet enqueued.
    A message whose job still waits in the queue is left alone, however long the queue, so the queue
    never holds two jobs for one message. A message stuck in "sending" past its lease (the worker died
    mid-send) goes back to the queue. Outcomes held in Redis during a database outage are written first.
    """
    now = utcnow()
    stale = current_app.config["OUTBOX_STALE_SECONDS"] if stale_after is None else stale_after
    cutoff = now - timedelta(seconds=stale)
    try:
        conn = redis_connection()
        _record_held_outcomes(conn)
    except redis.RedisError:
        log.warning("Redis unavailable: outbox sweep skipped (messages stay queued in the database)")
        return 0
    db.session.execute(
        unscoped(
            update(OutboxMessage)
            .where(OutboxMessage.status == "sending", OutboxMessage.claimed_at < now - SENDING_LEASE)
            .values(status="queued")
        ),
        execution_options={"synchronize_session": False},
    )
    handed_over = func.coalesce(OutboxMessage.enqueued_at, OutboxMessage.created_at)
    statement = (
        select(OutboxMessage.id, OutboxMessage.kind)
        .where(
            OutboxMessage.status == "queued",
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
            or_(handed_over <= cutoff,
                and_(OutboxMessage.next_attempt_at.is_not(None), handed_over < OutboxMessage.next_attempt_at)),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)  # two sweeps never pick the same rows
    kinds = dict(db.session.execute(unscoped(statement)).all())
    candidates = list(kinds)
    try:
        waiting = _still_queued_in_redis(conn, candidates)
    except redis.RedisError:
        db.session.rollback()
        return 0
    due_ids = [message_id for message_id in candidates if message_id not in waiting]
    if due_ids:
        db.session.execute(
            unscoped(update(OutboxMessage).where(OutboxMessage.id.in_(due_ids)).values(enqueued_at=now)),
            execution_options={"synchronize_session": False},
        )
    db.session.commit()
    enqueue_by_kind({message_id: kinds[message_id] for message_id in due_ids})
    return len(due_ids)
