"""Notices owed at a time: SLA at risk, SLA breached, task reminders, overdue action-plan items.

Each is a ``ScheduledNotice`` row with a ``key`` unique per tenant (``ticket:12:first_contact_breached``,
``task:7:reminder``), written in the same transaction as the change that makes it owed. The sweep
finds due rows and sends them; nothing here depends on Redis remembering anything.

How the sweep stays at-most-once and cheap:

* It claims a batch of due rows with one conditional UPDATE (``sent_at IS NULL``) that returns them, so
  two sweeps running at once never both hold a row; on PostgreSQL the batch is picked with
  ``FOR UPDATE SKIP LOCKED`` so they also do not wait for each other.
* Due rows are found through a partial index of the rows still owed, so cancelled and sent notices never
  slow it down. Everything a batch needs (tickets, tasks, items, tenants, settings, lists, members,
  reminder wording) is loaded across tenants with one query each, whatever the batch size; the outbox
  rows go in with one statement that skips any ``(tenant_id, dedupe_key)`` already owed (the key names
  the notice and the address), so a person never gets two emails about the same event even if a notice
  were ever processed twice.
* The claim and the outbox rows commit together: a sweep that dies mid-batch leaves the notices owed,
  and the next sweep (after a worker restart, late but once) sends them.
* A notice whose reason has gone by the time it is due (the ticket closed, first contact was made, the
  task was done) is claimed and marked cancelled without sending.
"""
from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import urlsplit

import redis
from flask import current_app
from jinja2 import Environment, select_autoescape
from rq import Queue
from sqlalchemy import ColumnElement, any_, bindparam, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from app import emailtemplates
from app.accounts.models import Membership, Tenant, User
from app.contacts.models import Contact
from app.extensions import db
from app.jobs import QUEUE_MAIL, enqueue_now, get_queue
from app.mail import OutboxMessage
from app.settings.models import EmailTemplate, NotificationList, WorkflowSettings
from app.surveys.models import BAND_LABELS, Response
from app.tenancy import WORKING_ROLES, all_tenants, unscoped
from app.tickets.models import Activity, Ticket
from app.timeutil import localize, utcnow
from app.workflow.models import ActionPlanItem, ScheduledNotice, Task

log = logging.getLogger(__name__)

KINDS = {
    "first_contact_at_risk": "First contact SLA at risk",
    "first_contact_breached": "First contact SLA breached",
    "resolution_at_risk": "Resolution SLA at risk",
    "resolution_breached": "Resolution SLA breached",
    "task_reminder": "Task reminder",
    "item_overdue": "Action-plan item overdue",
}
SLA_KINDS = ("first_contact_at_risk", "first_contact_breached", "resolution_at_risk", "resolution_breached")
# Which notification-list event each SLA notice goes to.
LIST_EVENTS = {"first_contact_at_risk": "sla_at_risk", "resolution_at_risk": "sla_at_risk",
               "first_contact_breached": "sla_breached", "resolution_breached": "sla_breached"}

# 2,000 notices (about 6,000 emails) per sweep: under two seconds on a small server (bench/sweep.py).
SWEEP_LIMIT = 2000
DELIVERY_CHUNK = 50
DELIVER_MESSAGES = "app.workflow.notices.deliver_messages"
_SAMPLE_ID = 918273645
DUE_FORMAT = "%a %d %b, %H:%M %Z"


def schedule(*, key: str, kind: str, due_at: datetime, ticket_id: int | None = None, task_id: int | None = None,
             item_id: int | None = None) -> ScheduledNotice:
    """Owe the notice ``key`` at ``due_at``. Scheduling a key again moves it, unless it was already sent.

    A cancelled notice is owed again, including one the sweep dropped (``sent_at`` and ``cancelled_at``
    both set) because its reason had gone when it fell due, say a ticket closed and since reopened.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown notice kind {kind!r}")
    notice = db.session.execute(select(ScheduledNotice).where(ScheduledNotice.key == key)).scalar_one_or_none()
    if notice is None:
        notice = ScheduledNotice(key=key, kind=kind, due_at=due_at, ticket_id=ticket_id, task_id=task_id,
                                 item_id=item_id)
        db.session.add(notice)
    elif notice.sent_at is None or notice.cancelled_at is not None:
        notice.due_at, notice.sent_at, notice.cancelled_at = due_at, None, None
    return notice


def cancel(key: str) -> None:
    """No longer owe the notice ``key`` (the task was done, the ticket was contacted or closed)."""
    notice = db.session.execute(select(ScheduledNotice).where(ScheduledNotice.key == key)).scalar_one_or_none()
    if notice is not None and notice.sent_at is None and notice.cancelled_at is None:
        notice.cancelled_at = utcnow()


@all_tenants()  # one batch spans every tenant; each row carries its tenant_id
def sweep(now: datetime | None = None, limit: int = SWEEP_LIMIT) -> int:
    """Send the notices that are due and still owed, in every tenant, oldest first; returns how many were handled.

    One sweep handles at most ``limit`` notices as one batch and commits; a bigger backlog (after an outage)
    drains over the next sweeps, so each sweep stays a bounded amount of work and the outbox sweep that
    follows it is never held up. The new outbox messages go to the mail queue once committed.
    Safe to run concurrently and repeatedly: a notice is handled by exactly one sweep.
    """
    now = now or utcnow()
    claimed = _claim(now, limit)
    if not claimed:
        db.session.commit()
        return 0
    try:
        message_ids = _Batch(claimed, now).run()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    enqueue_deliveries(message_ids)
    return len(claimed)


def _claim(now: datetime, limit: int) -> list:
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
    claim = (
        update(ScheduledNotice.__table__)
        .where(notice.id.in_(owed), notice.sent_at.is_(None), notice.cancelled_at.is_(None))
        .values(sent_at=now)
        .returning(notice.id, notice.tenant_id, notice.key, notice.kind, notice.ticket_id, notice.task_id,
                   notice.item_id, notice.due_at)
    )
    return db.session.execute(unscoped(claim)).all()


@dataclass
class _Member:
    user_id: int
    name: str
    email: str
    role: str

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else self.name


@dataclass
class _Tenant:
    id: int
    name: str
    slug: str
    timezone: str
    phi_safe: bool = False
    breach_reassign_to_id: int | None = None
    members: dict[int, _Member] = field(default_factory=dict)
    lists: list = field(default_factory=list)
    reminder: tuple[str, str] | None = None
    ticket_link: str | None = None
    _recipients: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)

    def recipients(self, event: str) -> list[tuple[str, str | None]]:
        """``(email, name)`` of everyone on a list subscribed to ``event`` (as :func:`app.notify.recipients`)."""
        if event not in self._recipients:
            lists = [nl for nl in self.lists if event in (nl.events or [])]
            roles = {role for nl in lists for role in (nl.roles or [])}
            member_ids = {int(i) for nl in lists for i in (nl.member_ids or [])}
            found: dict[str, tuple[str, str | None]] = {}
            for member in sorted(self.members.values(), key=lambda m: m.name):
                if member.role in roles or member.user_id in member_ids:
                    found.setdefault(member.email.lower(), (member.email, member.name))
            for nl in lists:
                for address in nl.addresses or []:
                    found.setdefault(address.strip().lower(), (address.strip(), None))
            self._recipients[event] = list(found.values())
        return self._recipients[event]

    def due(self, moment: datetime | None) -> str:
        return localize(moment, self.timezone).strftime(DUE_FORMAT) if moment else ""


class _Batch:
    """One batch of claimed notices: load what they need in a fixed number of queries, write the mail."""

    def __init__(self, claimed: list, now: datetime):
        self.claimed, self.now = claimed, now
        self.messages: list[dict] = []
        self.dropped: list[int] = []
        self.reminded_task_ids: list[int] = []
        self.reassignments: list[dict] = []
        self.assignee_of: dict[int, int] = {}
        self.activities: list[dict] = []
        self.sender = current_app.config["MAIL_SENDER_NAME"], current_app.config["MAIL_SENDER_ADDRESS"]
        base = urlsplit(current_app.config["BASE_URL"])  # as app.urls.absolute_url, bound once per batch
        self.urls = current_app.url_map.bind(base.netloc, script_name=base.path or "/",
                                             url_scheme=base.scheme or "http")

    def run(self) -> list[int]:
        self._load()
        for notice in self.claimed:
            try:
                sent = self._handle(notice)
            except Exception:  # noqa: BLE001  (one broken notice must not hold back the others)
                log.exception("Could not build notice %s (%s)", notice.id, notice.key)
                sent = False
            if not sent:
                self.dropped.append(notice.id)
        return self._write()

    def _load(self) -> None:
        task_ids = {n.task_id for n in self.claimed if n.kind == "task_reminder" and n.task_id}
        item_ids = {n.item_id for n in self.claimed if n.kind == "item_overdue" and n.item_id}
        self.tasks = {row.id: row for row in _all(
            select(Task.id, Task.ticket_id, Task.owner_id, Task.title, Task.due_at, Task.done_at)
            .where(Task.id.in_(task_ids)))} if task_ids else {}
        self.items = {row.id: row for row in _all(
            select(ActionPlanItem.id, ActionPlanItem.ticket_id, ActionPlanItem.owner_id, ActionPlanItem.owner_team,
                   ActionPlanItem.title, ActionPlanItem.due_date, ActionPlanItem.done_at)
            .where(ActionPlanItem.id.in_(item_ids)))} if item_ids else {}
        ticket_ids = {n.ticket_id for n in self.claimed if n.ticket_id}
        ticket_ids |= {t.ticket_id for t in self.tasks.values() if t.ticket_id}
        ticket_ids |= {i.ticket_id for i in self.items.values() if i.ticket_id}
        ticket, response, contact = Ticket.__table__, Response.__table__, Contact.__table__
        self.tickets = {row.id: row for row in _all(  # Core: as many rows as notices, so no ORM overhead
            select(ticket.c.id, ticket.c.tenant_id, ticket.c.number, ticket.c.status, ticket.c.assignee_id,
                   ticket.c.opened_at, ticket.c.first_contact_at, ticket.c.first_contact_due_at,
                   ticket.c.first_contact_breach_at, ticket.c.resolution_due_at, ticket.c.paused_at,
                   response.c.score, response.c.band, response.c.comment, contact.c.name.label("contact_name"),
                   contact.c.email.label("contact_email"), contact.c.phone.label("contact_phone"),
                   contact.c.external_id.label("contact_external_id"), contact.c.account_name)
            .select_from(ticket.join(response, response.c.id == ticket.c.response_id)
                         .join(contact, contact.c.id == ticket.c.contact_id))
            .where(_among(ticket.c.id, ticket_ids)))} if ticket_ids else {}

        tenant_ids = {n.tenant_id for n in self.claimed}
        kinds = {n.kind for n in self.claimed}
        self.tenants: dict[int, _Tenant] = {}
        tenant_kinds: dict[int, str] = {}
        for row in _all(select(Tenant.id, Tenant.name, Tenant.slug, Tenant.timezone, Tenant.kind)
                        .where(Tenant.id.in_(tenant_ids))):
            self.tenants[row.id] = _Tenant(row.id, row.name, row.slug, row.timezone)
            tenant_kinds[row.id] = row.kind
        configured = set()
        for row in _all(select(WorkflowSettings.tenant_id, WorkflowSettings.phi_safe_alerts,
                               WorkflowSettings.breach_reassign_to_id)
                        .where(WorkflowSettings.tenant_id.in_(tenant_ids))):
            tenant = self.tenants[row.tenant_id]
            tenant.phi_safe, tenant.breach_reassign_to_id = bool(row.phi_safe_alerts), row.breach_reassign_to_id
            configured.add(row.tenant_id)
        for tenant_id, tenant in self.tenants.items():
            if tenant_id not in configured:  # as settings.services.get_settings would create them
                tenant.phi_safe = tenant_kinds[tenant_id] == "clinic"
        for row in _all(select(Membership.tenant_id, Membership.role, User.id, User.name, User.email)
                        .join(User, User.id == Membership.user_id)
                        .where(Membership.tenant_id.in_(tenant_ids), Membership.is_active.is_(True))):
            self.tenants[row.tenant_id].members[row.id] = _Member(row.id, row.name, row.email, row.role)
        if kinds & set(SLA_KINDS):
            for row in _all(select(NotificationList).where(NotificationList.tenant_id.in_(tenant_ids))
                            .order_by(NotificationList.id), scalars=True):
                self.tenants[row.tenant_id].lists.append(row)
        if "task_reminder" in kinds:
            for row in _all(select(EmailTemplate.tenant_id, EmailTemplate.subject, EmailTemplate.body)
                            .where(EmailTemplate.key == "reminder", EmailTemplate.tenant_id.in_(tenant_ids))):
                self.tenants[row.tenant_id].reminder = (row.subject, row.body)

    def _handle(self, notice) -> bool:
        """Add the notice's emails (and a breach reassignment); False when it is no longer owed."""
        tenant = self.tenants.get(notice.tenant_id)
        if tenant is None:
            return False
        if notice.kind in SLA_KINDS:
            return self._sla(notice, tenant)
        if notice.kind == "task_reminder":
            return self._task_reminder(notice, tenant)
        if notice.kind == "item_overdue":
            return self._item_overdue(notice, tenant)
        return False

    def _open_ticket(self, ticket_id: int | None):
        ticket = self.tickets.get(ticket_id) if ticket_id else None
        return None if ticket is None or ticket.status == "closed" else ticket

    def _sla(self, notice, tenant: _Tenant) -> bool:
        ticket = self._open_ticket(notice.ticket_id)
        if ticket is None:
            return False
        first_contact = notice.kind.startswith("first_contact")
        if first_contact and ticket.first_contact_at is not None:
            return False
        if not first_contact and ticket.paused_at is not None:
            return False
        assignee = self._assignee(ticket, tenant)
        previous = reassigned = None
        if notice.kind.endswith("_breached"):
            target = tenant.members.get(tenant.breach_reassign_to_id) if tenant.breach_reassign_to_id else None
            if target is not None and target.role in WORKING_ROLES and target is not assignee:
                self._reassign(ticket, tenant, assignee, target, notice.kind)
                previous, assignee = assignee, target
                reassigned = {"previous": previous.name if previous else "nobody", "assignee": target.name}
        context = self._ticket_context(ticket, tenant)
        due = ticket.first_contact_due_at if first_contact else ticket.resolution_due_at
        subject, headline = self._sla_wording(notice.kind, context["reference"], tenant, ticket, due)
        due_text = tenant.due(due)
        context.update(subject=subject, headline=headline, due=due_text, reassigned=reassigned,
                       due_label="First contact due" if first_contact else "Resolution due",
                       assignee=assignee.name if assignee else "nobody")
        text, html = _render("sla_notice", context)
        recipients = [(m.email, m.name) for m in (assignee, previous) if m is not None]
        recipients += tenant.recipients(LIST_EVENTS[notice.kind])
        if reassigned:  # the lists that follow reassignments hear of this one too, in the same email
            recipients += tenant.recipients("ticket_reassigned")
        self._mail(notice, tenant, recipients, subject, text, html, ticket.id)
        return True

    def _sla_wording(self, kind: str, reference: str, tenant: _Tenant, ticket, due: datetime) -> tuple[str, str]:
        """The subject and the opening sentence of an SLA notice."""
        due_text = tenant.due(due)
        when = f"in {_span(due - self.now)}" if due > self.now else f"{_span(self.now - due)} ago"
        if kind == "first_contact_at_risk":
            return (f"First contact at risk: {reference} due {due_text}",
                    f"Nobody has called or emailed the customer on {reference} yet. First contact is due "
                    f"{due_text} ({when}).")
        if kind == "first_contact_breached":
            breach = tenant.due(ticket.first_contact_breach_at or due)
            return (f"First contact SLA breached: {reference}",
                    f"Nobody has called or emailed the customer on {reference}, and the first-contact SLA was "
                    f"breached at {breach}.")
        if kind == "resolution_at_risk":
            return (f"Resolution at risk: {reference} due {due_text}",
                    f"{reference} is still open and is due to be resolved by {due_text} ({when}).")
        return (f"Resolution SLA breached: {reference}",
                f"{reference} was due to be resolved by {due_text} and is still open.")

    def _task_reminder(self, notice, tenant: _Tenant) -> bool:
        task = self.tasks.get(notice.task_id)
        if task is None or task.done_at is not None:
            return False
        ticket = None
        if task.ticket_id:
            ticket = self._open_ticket(task.ticket_id)
            if ticket is None:
                return False
        owner = tenant.members.get(task.owner_id) if task.owner_id else None
        if owner is None and ticket is not None:
            owner = self._assignee(ticket, tenant)
        if owner is None:
            return False
        title = self._safe(task.title, ticket, tenant)
        values = {
            "organisation": tenant.name, "recipient.first_name": owner.first_name, "task.title": title,
            "task.due": tenant.due(task.due_at),
            "ticket.reference": f"D-{ticket.number:04d}" if ticket else "",
            "ticket.link": self._link(ticket, tenant),
        }
        spec = emailtemplates.SPECS["reminder"]
        subject, body = tenant.reminder or (spec.subject, spec.body)
        rendered = emailtemplates.render("reminder", values, subject=subject, body=body)
        self._mail(notice, tenant, [(owner.email, owner.name)], rendered.subject, rendered.text, rendered.html,
                   ticket.id if ticket else None)
        self.reminded_task_ids.append(task.id)
        return True

    def _item_overdue(self, notice, tenant: _Tenant) -> bool:
        item = self.items.get(notice.item_id)
        if item is None or item.done_at is not None:
            return False
        ticket = self._open_ticket(item.ticket_id)
        if ticket is None:
            return False
        owner = tenant.members.get(item.owner_id) if item.owner_id else None
        assignee = self._assignee(ticket, tenant)
        recipient = owner or assignee
        if recipient is None:
            return False
        context = self._ticket_context(ticket, tenant)
        title = self._safe(item.title, ticket, tenant)
        subject = f"Action-plan item overdue: {title} ({context['reference']})"
        context.update(
            subject=subject, title=title, owner=owner.name if owner else (item.owner_team or "nobody"),
            team_owned=owner is None and bool(item.owner_team),
            due=_day(item.due_date) if item.due_date else tenant.due(notice.due_at),
            assignee=assignee.name if assignee else "nobody",
        )
        text, html = _render("item_overdue", context)
        self._mail(notice, tenant, [(recipient.email, recipient.name)], subject, text, html, ticket.id)
        return True

    def _assignee(self, ticket, tenant: _Tenant) -> _Member | None:
        """The ticket's assignee as an active member (after any reassignment earlier in this batch)."""
        assignee_id = self.assignee_of.get(ticket.id, ticket.assignee_id)
        return tenant.members.get(assignee_id) if assignee_id else None

    def _ticket_context(self, ticket, tenant: _Tenant) -> dict:
        context = {
            "organisation": tenant.name, "reference": f"D-{ticket.number:04d}",
            "band": BAND_LABELS.get(ticket.band, ticket.band), "score": ticket.score,
            "link": self._link(ticket, tenant), "phi_safe": tenant.phi_safe,
        }
        if not tenant.phi_safe:
            context.update(contact=ticket.contact_name, account=ticket.account_name, comment=ticket.comment)
        return context

    def _safe(self, text: str, ticket, tenant: _Tenant) -> str:
        """``text`` without the contact's name, email, phone or external id when PHI-safe alerts are on."""
        if not tenant.phi_safe or ticket is None:
            return text
        for value in (ticket.contact_name, ticket.contact_email, ticket.contact_phone, ticket.contact_external_id):
            if value and len(value.strip()) >= 3:
                text = re.sub(re.escape(value.strip()), "the contact", text, flags=re.IGNORECASE)
        return text

    def _link(self, ticket, tenant: _Tenant) -> str:
        """The ticket page (or the board); the route is built once per organisation, then filled in."""
        if ticket is None:
            return self.urls.build("tickets.board", {"tenant_slug": tenant.slug}, force_external=True)
        if tenant.ticket_link is None:
            sample = self.urls.build("tickets.show", {"tenant_slug": tenant.slug, "ticket_id": _SAMPLE_ID},
                                     force_external=True)
            tenant.ticket_link = sample.replace("{", "{{").replace("}", "}}").replace(str(_SAMPLE_ID), "{}")
        return tenant.ticket_link.format(ticket.id)

    def _reassign(self, ticket, tenant: _Tenant, previous: _Member | None, target: _Member, kind: str) -> None:
        self.assignee_of[ticket.id] = target.user_id
        self.reassignments.append({"ticket": ticket.id, "assignee": target.user_id})
        self.activities.append({
            "tenant_id": tenant.id, "ticket_id": ticket.id, "actor_id": None, "kind": "reassigned", "body": None,
            "details": {"previous": previous.name if previous else None, "assignee": target.name,
                        "reason": KINDS[kind], "automatic": True},
            "created_at": self.now,
        })

    def _mail(self, notice, tenant: _Tenant, recipients, subject: str, text: str, html: str,
              ticket_id: int | None) -> None:
        """One outbox row per address, each under a dedupe key naming the notice and the address."""
        sender_name, sender_address = self.sender
        seen: set[str] = set()
        for address, name in recipients:
            address = (address or "").strip()
            if not address or address.lower() in seen:
                continue
            seen.add(address.lower())
            self.messages.append({
                "tenant_id": tenant.id, "kind": notice.kind, "to_address": address, "to_name": name,
                "from_name": sender_name, "from_address": sender_address, "reply_to": None,
                "subject": subject[:300], "text_body": text, "html_body": html, "status": "queued",
                "attempts": 0, "ticket_id": ticket_id, "dedupe_key": dedupe_key(notice.key, address),
                "created_at": self.now, "enqueued_at": self.now,
            })

    def _write(self) -> list[int]:
        """Insert the outbox rows and record what the batch changed; returns the new message ids."""
        message_ids = insert_outbox(self.messages) if self.messages else []
        if self.reassignments:
            table = Ticket.__table__
            db.session.execute(
                update(table).where(table.c.id == bindparam("ticket"))
                .values(assignee_id=bindparam("assignee"), updated_at=self.now),
                self.reassignments,
            )
            db.session.execute(insert(Activity.__table__), self.activities)
        if self.dropped:
            db.session.execute(unscoped(
                update(ScheduledNotice).where(ScheduledNotice.id.in_(self.dropped)).values(cancelled_at=self.now)
            ), execution_options={"synchronize_session": False})
        if self.reminded_task_ids:
            db.session.execute(unscoped(
                update(Task).where(Task.id.in_(self.reminded_task_ids)).values(reminded_at=self.now)
            ), execution_options={"synchronize_session": False})
        return message_ids


OUTBOX_COLUMNS = ("tenant_id", "kind", "to_address", "to_name", "from_name", "from_address", "reply_to",
                  "subject", "text_body", "html_body", "status", "attempts", "ticket_id", "dedupe_key", "created_at",
                  "enqueued_at")


@all_tenants()  # the rows may belong to any tenants; each names its own
def insert_outbox(rows: list[dict]) -> list[int]:
    """Add outbox rows (dicts of :data:`OUTBOX_COLUMNS`), skipping any ``(tenant_id, dedupe_key)`` already
    owed; returns the ids of the rows added.

    On PostgreSQL the rows are streamed with COPY into a temporary table and moved with one
    ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``: a multi-row INSERT with sixteen parameters a row
    costs more to build and parse than to run. SQLite takes a multi-row INSERT.
    """
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        table = OutboxMessage.__table__
        statement = (sqlite.insert(table).on_conflict_do_nothing(index_elements=["tenant_id", "dedupe_key"])
                     .returning(table.c.id))
        return list(db.session.execute(statement, rows).scalars())
    columns = ", ".join(OUTBOX_COLUMNS)
    db.session.execute(text(f"CREATE TEMP TABLE IF NOT EXISTS notice_outbox ON COMMIT DELETE ROWS "
                            f"AS SELECT {columns} FROM outbox_message WITH NO DATA"))
    db.session.execute(text("DELETE FROM notice_outbox"))
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(f"COPY notice_outbox ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[column] for column in OUTBOX_COLUMNS])
    return list(db.session.execute(text(
        f"INSERT INTO outbox_message ({columns}) SELECT {columns} FROM notice_outbox "
        f"ON CONFLICT (tenant_id, dedupe_key) DO NOTHING RETURNING id"
    )).scalars())


def _among(column, ids) -> ColumnElement[bool]:
    """``column IN ids``; on PostgreSQL as one array parameter, which is cheaper than thousands of them."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=postgresql.ARRAY(column.type)))
    return column.in_(ids)


def _all(statement, scalars: bool = False) -> list:
    result = db.session.execute(unscoped(statement))
    return list(result.scalars() if scalars else result.all())


def dedupe_key(notice_key: str, address: str) -> str:
    """``notice:<key>:<address>``; a digest stands in for an address too long for the column."""
    key = f"notice:{notice_key}:{address.strip().lower()}"
    if len(key) > 200:
        key = f"notice:{notice_key}:{hashlib.sha256(address.strip().lower().encode()).hexdigest()[:32]}"
    return key


def _span(delta) -> str:
    from app.workflow.ticket_sla import span

    return span(delta)


def _day(value: date) -> str:
    return value.strftime("%a %d %b %Y")


def _render(name: str, context: dict) -> tuple[str, str]:
    """The text and HTML bodies of ``email/<name>``, rendered without the request globals web pages need."""
    app = current_app._get_current_object()
    env = app.extensions.get("notice_templates")
    if env is None:
        env = app.extensions["notice_templates"] = Environment(
            loader=app.jinja_loader, autoescape=select_autoescape(["html"], default_for_string=False),
            auto_reload=False)
    return env.get_template(f"email/{name}.txt").render(context), env.get_template(f"email/{name}.html").render(context)


def enqueue_deliveries(message_ids: list[int]) -> None:
    """Hand new outbox messages to the mail queue: a few per job, all jobs in one Redis round trip.

    If Redis is unavailable the messages stay queued in the database and the outbox sweep sends them.
    """
    chunks = [message_ids[start:start + DELIVERY_CHUNK] for start in range(0, len(message_ids), DELIVERY_CHUNK)]
    if not chunks:
        return
    if current_app.config["JOBS_INLINE"]:
        for chunk in chunks:
            enqueue_now(DELIVER_MESSAGES, chunk, queue=QUEUE_MAIL)
        return
    try:
        queue = get_queue(QUEUE_MAIL)
        queue.enqueue_many([Queue.prepare_data(DELIVER_MESSAGES, args=(chunk,), timeout=120, failure_ttl=7 * 24 * 3600)
                            for chunk in chunks])
    except redis.RedisError:
        log.warning("Redis unavailable: %d notice emails left for the outbox sweep", len(message_ids))


def deliver_messages(message_ids: list[int]) -> dict[str, int]:
    """Deliver each message (each claims its row, so a message already sent is skipped)."""
    from app.mail import deliver

    results: dict[str, int] = defaultdict(int)
    for message_id in message_ids:
        results[deliver(message_id)] += 1
    return dict(results)
