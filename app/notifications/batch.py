"""A batch of occurrences: what they need loaded in a fixed number of queries, their mail composed by their
events, and the outbox rows and changes written in one go.

The sweep runs a batch of claimed notices across organisations; :func:`app.notifications.notify` runs a batch
of one for a service. Either way the same code decides recipients, merge values, the PHI-safe filtering, the
ticket reference and link, the dedupe keys and the outbox rows, so the two paths cannot drift apart.
Loading is by id with explicit organisation filters (the sweep crosses organisations), as Core rows: a batch
may hold thousands of occurrences, and no ORM bookkeeping is needed to read them.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import ColumnElement, any_, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql

from app.accounts.models import Tenant, User
from app.contacts.models import Contact
from app import emailtemplates
from app.customers.models import CustomerAccount
from app.emailtemplates import SPECS
from app.extensions import db
from app.notifications import outbox, phi_safe
from app.notifications.events import EVENTS
from app.notifications.recipients import Member, Recipient, load_lists, load_members, resolve
from app.settings.models import EmailTemplate, NotificationList, WorkflowSettings
from app.settings.presets import preset
from app.surveys.models import Response, SurveyQuestion
from app.tenancy import unscoped
from app.tickets.models import Activity, Status, Ticket
from app.timeutil import format_due
from app.workflow.models import ActionPlanItem, Task

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Occurrence:
    """One happening of an event that owes mail: ``key`` names it (with an address, the dedupe key).

    ``actor`` and ``previous_assignee`` are names, as the timeline entry that records the change has them;
    ``due_at`` and ``notice_id`` come from a scheduled notice. ``values`` are merge values the occurrence
    brings with it (the weekly digest's figures, computed in the organisation before the batch runs).
    """

    event: str
    tenant_id: int
    key: str
    ticket_id: int | None = None
    task_id: int | None = None
    item_id: int | None = None
    due_at: datetime | None = None
    actor: str | None = None
    previous_assignee: str | None = None
    notice_id: int | None = None
    values: dict[str, str] | None = None


@dataclass
class Organisation:
    """An organisation as its notifications see it, loaded once per batch."""

    id: int
    name: str
    slug: str
    timezone: str
    kind: str
    phi_safe: bool = False
    alert_external_id: bool = False  # PHI-safe alerts may carry the contact's external id
    first_contact_stopped_by: str = "call_or_email"  # what meets the first-contact SLA: a call, or a call or email
    breach_reassign_to_id: int | None = None
    backlog_threshold: int = 100
    open_tickets: int = 0
    members: dict[int, Member] = field(default_factory=dict)
    lists: list[NotificationList] = field(default_factory=list)
    wordings: dict[str, tuple[str, str]] = field(default_factory=dict)
    _recipients: dict[str, list[Recipient]] = field(default_factory=dict)

    def recipients(self, event: str) -> list[Recipient]:
        """Who the organisation's lists tell about ``event`` (see :mod:`app.notifications.recipients`)."""
        if event not in self._recipients:
            self._recipients[event] = resolve(self.lists, self.members.values(), event)
        return self._recipients[event]

    def wording(self, key: str) -> tuple[str, str]:
        """Subject and body of template ``key``: the organisation's own, or the default."""
        spec = SPECS[key]
        return self.wordings.get(key, (spec.subject, spec.body))

    def due(self, moment: datetime | None) -> str:
        return format_due(moment, self.timezone)


@dataclass
class Result:
    messages: dict[int, str]  # the outbox rows written: id → kind
    unsent: list[Occurrence]

    @property
    def message_ids(self) -> list[int]:
        return list(self.messages)


class Context:
    """What an event sees of one occurrence, and the changes it asks for (kept only if its mail is written)."""

    def __init__(self, batch: Batch, occurrence: Occurrence, organisation: Organisation):
        self.batch, self.occurrence, self.organisation, self.now = batch, occurrence, organisation, batch.now
        self.task = batch.tasks.get(occurrence.task_id)
        self.item = batch.items.get(occurrence.item_id)
        ticket_id = occurrence.ticket_id or (self.task.ticket_id if self.task else None) or (
            self.item.ticket_id if self.item else None)
        self.ticket = batch.tickets.get(ticket_id)
        self.reassigned_from: Member | None = None
        self.reassigned_from_name: str | None = None
        self.reassigned_to: Member | None = None
        self.reassign_reason = ""
        self.reminded = False

    @property
    def open_ticket(self):
        return self.ticket if self.ticket is not None and self.ticket.status != Status.CLOSED else None

    @property
    def assignee(self) -> Member | None:
        """The ticket's assignee as an active member (after any reassignment earlier in the batch)."""
        if self.reassigned_to is not None:
            return self.reassigned_to
        if self.ticket is None:
            return None
        assignee_id = self.batch.assignee_of.get(self.ticket.id, self.ticket.assignee_id)
        return self.organisation.members.get(assignee_id)

    @property
    def assignee_name(self) -> str | None:
        """The assignee's name as the ticket shows it (a deactivated member still has one)."""
        if self.ticket is None:
            return None
        if self.reassigned_to is not None or self.ticket.id in self.batch.assignee_of:
            return self.assignee.name
        return self.ticket.assignee_name

    def reassign(self, target: Member, reason: str) -> None:
        self.reassigned_from, self.reassigned_from_name = self.assignee, self.assignee_name
        self.reassigned_to, self.reassign_reason = target, reason

    def link(self) -> str:
        return self.batch.link(self.organisation, self.ticket)

    def page(self, endpoint: str) -> str:
        """An organisation page's address (``endpoint`` takes only the organisation's slug)."""
        return self.batch.urls.build(endpoint, {"tenant_slug": self.organisation.slug}, force_external=True)

    def contact_identifiers(self) -> tuple[str | None, ...]:
        ticket = self.ticket
        if ticket is None:
            return ()
        return ticket.contact_name, ticket.contact_email, ticket.contact_phone, ticket.contact_external_id


class Batch:
    """Occurrences in, outbox rows (and the changes their events make) out."""

    def __init__(self, occurrences: list[Occurrence], now: datetime, *, stream: bool = False):
        """``stream``: the batch may be large (the sweep), so its outbox rows are streamed with COPY on
        PostgreSQL; a service's batch of one goes in as one multi-row INSERT."""
        self.occurrences, self.now, self.stream = occurrences, now, stream
        self.rows: list[dict] = []
        self.unsent: list[Occurrence] = []
        self.reminded_task_ids: list[int] = []
        self.reassignments: list[dict] = []
        self.assignee_of: dict[int, int] = {}
        self.activities: list[dict] = []
        self.sender = current_app.config["MAIL_SENDER_NAME"], current_app.config["MAIL_SENDER_ADDRESS"]
        base = urlsplit(current_app.config["BASE_URL"])  # as app.urls.absolute_url, bound once per batch
        self.urls = current_app.url_map.bind(base.netloc, script_name=base.path or "/",
                                             url_scheme=base.scheme or "http")

    def run(self) -> Result:
        """Compose every occurrence's mail and write it; an occurrence that owes nothing (or fails) is unsent."""
        self._load()
        composed: set[tuple[int, str]] = set()
        for occurrence in self.occurrences:
            if (occurrence.tenant_id, occurrence.key) in composed:
                continue  # the same occurrence twice (an hourly notice owed by many tickets): its mail is written
            composed.add((occurrence.tenant_id, occurrence.key))
            try:
                sent = self._compose(occurrence)
            except Exception:  # noqa: BLE001  (one broken occurrence must not hold back the others)
                log.exception("Could not build the %s notification %s", occurrence.event, occurrence.key)
                sent = False
            if not sent:
                self.unsent.append(occurrence)
        return Result(self._write(), self.unsent)

    def _compose(self, occurrence: Occurrence) -> bool:
        event = EVENTS.get(occurrence.event)
        organisation = self.organisations.get(occurrence.tenant_id)
        if event is None or organisation is None:
            return False
        ctx = Context(self, occurrence, organisation)
        if not event.owed(ctx):
            return False
        event.prepare(ctx)
        values = event.values(ctx)
        if organisation.phi_safe and not event.to_contact:
            values = phi_safe.safe_values(values, ctx.contact_identifiers(),
                                          external_id=organisation.alert_external_id)
        rendered = event.render(ctx, values)
        from_name, reply_to = event.sender(ctx)
        sender = (from_name or self.sender[0], self.sender[1])
        seen: set[str] = set()
        for address, name in event.recipients(ctx):
            address = (address or "").strip()
            if not address or address.lower() in seen:
                continue
            seen.add(address.lower())
            self.rows.append(outbox.row(
                tenant_id=organisation.id, kind=event.outbox_kind, occurrence_key=occurrence.key, address=address,
                name=name, sender=sender, reply_to=reply_to, subject=rendered.subject, text_body=rendered.text,
                html_body=rendered.html, ticket_id=ctx.ticket.id if ctx.ticket else None, now=self.now))
        self._keep_changes(ctx)
        return True

    def _keep_changes(self, ctx: Context) -> None:
        if ctx.reassigned_to is not None:
            ticket, target = ctx.ticket, ctx.reassigned_to
            self.assignee_of[ticket.id] = target.user_id
            self.reassignments.append({"ticket": ticket.id, "assignee": target.user_id})
            self.activities.append({
                "tenant_id": ctx.organisation.id, "ticket_id": ticket.id, "actor_id": None, "kind": "reassigned",
                "body": None, "created_at": self.now,
                "details": {"previous": ctx.reassigned_from_name, "assignee": target.name,
                            "reason": ctx.reassign_reason, "automatic": True},
            })
        if ctx.reminded:
            self.reminded_task_ids.append(ctx.task.id)

    def link(self, organisation: Organisation, ticket) -> str:
        """The ticket's page, or the board for a notice about no ticket."""
        if ticket is None:
            return self.urls.build("tickets.board", {"tenant_slug": organisation.slug}, force_external=True)
        return self.urls.build("tickets.show", {"tenant_slug": organisation.slug, "ticket_id": ticket.id},
                               force_external=True)

    def _load(self) -> None:
        """Everything the occurrences need, one query per kind of row whatever their number."""
        occurrences = self.occurrences
        events = [EVENTS[o.event] for o in occurrences if o.event in EVENTS]
        task_ids = {o.task_id for o in occurrences if o.task_id}
        item_ids = {o.item_id for o in occurrences if o.item_id}
        self.tasks = {row.id: row for row in _all(
            select(Task.id, Task.ticket_id, Task.owner_id, Task.title, Task.due_at, Task.done_at)
            .where(Task.id.in_(task_ids)))} if task_ids else {}
        self.items = {row.id: row for row in _all(
            select(ActionPlanItem.id, ActionPlanItem.ticket_id, ActionPlanItem.owner_id, ActionPlanItem.owner_team,
                   ActionPlanItem.title, ActionPlanItem.due_date, ActionPlanItem.done_at)
            .where(ActionPlanItem.id.in_(item_ids)))} if item_ids else {}
        ticket_ids = {o.ticket_id for o in occurrences if o.ticket_id}
        ticket_ids |= {t.ticket_id for t in self.tasks.values() if t.ticket_id}
        ticket_ids |= {i.ticket_id for i in self.items.values() if i.ticket_id}
        ticket, response, contact, user = Ticket.__table__, Response.__table__, Contact.__table__, User.__table__
        account, question = CustomerAccount.__table__, SurveyQuestion.__table__
        self.tickets = {row.id: row for row in _all(
            select(ticket.c.id, ticket.c.tenant_id, ticket.c.number, ticket.c.status, ticket.c.assignee_id,
                   ticket.c.trigger, question.c.prompt.label("trigger_question"),
                   user.c.name.label("assignee_name"), ticket.c.opened_at, ticket.c.first_contact_at,
                   ticket.c.first_contact_due_at, ticket.c.first_contact_breach_at, ticket.c.resolution_due_at,
                   ticket.c.paused_at, ticket.c.outcome, ticket.c.closing_note, response.c.score, response.c.band,
                   response.c.comment, contact.c.name.label("contact_name"), contact.c.email.label("contact_email"),
                   contact.c.phone.label("contact_phone"), contact.c.external_id.label("contact_external_id"),
                   ticket.c.account_id, account.c.name.label("account_name"))
            .select_from(ticket.join(response, response.c.id == ticket.c.response_id)
                         .join(contact, contact.c.id == ticket.c.contact_id)
                         .outerjoin(account, account.c.id == ticket.c.account_id)
                         .outerjoin(user, user.c.id == ticket.c.assignee_id)
                         .outerjoin(question, question.c.id == ticket.c.trigger_question_id))
            .where(_among(ticket.c.id, ticket_ids)))} if ticket_ids else {}

        # The account merge values ({account.managers}…) of the tickets whose events mail the contact: two
        # queries for the whole batch (app.emailtemplates.account_values).
        self.account_values = emailtemplates.account_values(
            {row.account_id for row in self.tickets.values() if row.account_id}) if any(
            event.uses_account for event in events) else {}

        tenant_ids = {o.tenant_id for o in occurrences}
        self.organisations: dict[int, Organisation] = {}
        for row in _all(select(Tenant.id, Tenant.name, Tenant.slug, Tenant.timezone, Tenant.kind,
                               WorkflowSettings.id.label("settings_id"), WorkflowSettings.phi_safe_alerts,
                               WorkflowSettings.alert_external_id, WorkflowSettings.first_contact_stopped_by,
                               WorkflowSettings.breach_reassign_to_id, WorkflowSettings.backlog_threshold)
                        .outerjoin(WorkflowSettings, WorkflowSettings.tenant_id == Tenant.id)
                        .where(Tenant.id.in_(tenant_ids))):
            organisation = Organisation(row.id, row.name, row.slug, row.timezone, row.kind)
            if row.settings_id is None:  # no settings row yet: the defaults settings.services.get_settings gives
                defaults = preset(row.kind).settings
                organisation.phi_safe = bool(defaults.get("phi_safe_alerts"))
                organisation.alert_external_id = bool(defaults.get("alert_external_id"))
            else:
                organisation.phi_safe = bool(row.phi_safe_alerts)
                organisation.alert_external_id = bool(row.alert_external_id)
                organisation.first_contact_stopped_by = row.first_contact_stopped_by
                organisation.breach_reassign_to_id = row.breach_reassign_to_id
                organisation.backlog_threshold = row.backlog_threshold
            self.organisations[row.id] = organisation
        for tenant_id, members in load_members(self.organisations).items():
            self.organisations[tenant_id].members = members
        if any(event.uses_workload for event in events):
            for row in _all(select(Ticket.tenant_id, func.count(Ticket.id).label("open"))
                            .where(Ticket.tenant_id.in_(tenant_ids), Ticket.status != Status.CLOSED)
                            .group_by(Ticket.tenant_id)):
                self.organisations[row.tenant_id].open_tickets = row.open
        if any(event.uses_lists for event in events):
            for tenant_id, lists in load_lists(self.organisations).items():
                self.organisations[tenant_id].lists = lists
        template_keys = {event.template for event in events if event.template}
        if template_keys:
            for row in _all(select(EmailTemplate.tenant_id, EmailTemplate.key, EmailTemplate.subject,
                                   EmailTemplate.body)
                            .where(EmailTemplate.key.in_(template_keys), EmailTemplate.tenant_id.in_(tenant_ids))):
                self.organisations[row.tenant_id].wordings[row.key] = (row.subject, row.body)

    def _write(self) -> dict[int, str]:
        """Insert the outbox rows and record what the batch changed; returns the new messages (id → kind)."""
        messages = outbox.insert_outbox(self.rows, stream=self.stream)
        if self.reassignments:
            table = Ticket.__table__
            # Rows of several organisations in a sweep: each row names its own (ids and tenant_id come from
            # the rows the batch loaded).
            db.session.execute(
                unscoped(update(table).where(table.c.id == bindparam("ticket"))
                         .values(assignee_id=bindparam("assignee"), updated_at=self.now)),
                self.reassignments,
            )
            db.session.execute(unscoped(insert(Activity.__table__)), self.activities)
        if self.reminded_task_ids:
            db.session.execute(unscoped(
                update(Task).where(Task.id.in_(self.reminded_task_ids)).values(reminded_at=self.now)
            ), execution_options={"synchronize_session": False})
        return messages


def _among(column, ids) -> ColumnElement[bool]:
    """``column IN ids``; on PostgreSQL as one array parameter, which is cheaper than thousands of them."""
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=postgresql.ARRAY(column.type)))
    return column.in_(ids)


def _all(statement) -> list:
    return list(db.session.execute(unscoped(statement)).all())

