"""Everything that changes a detractor ticket. Each verb writes its timeline entry."""
from __future__ import annotations

import hashlib

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import joinedload, selectinload

from app import emailtemplates
from app.accounts.models import Membership, Tenant, User
from app.extensions import db
from app.mail import queue_email
from app.notify import recipients
from app.settings.models import RootCause
from app.settings.services import get_settings, sla_calendar
from app.surveys.models import Response
from app.tenancy import WORKING_ROLES, current_tenant_id
from app.tickets.models import (
    CALL_OUTCOMES, EMAIL_DIRECTIONS, OUTCOMES, STATUSES, Activity, Ticket,
)
from app.timeutil import localize, utcnow
from app.urls import absolute_url
from app.workflow import ticket_sla as sla_clock
from app.workflow import todos as workflow_tasks
from app.workflow.models import ActionPlanItem, Task


class TicketRuleError(ValueError):
    """A change the ticket's state does not allow; the message is shown to the user."""


def ticket_for_response(response: Response) -> Ticket | None:
    return db.session.execute(select(Ticket).where(Ticket.response_id == response.id)).scalar_one_or_none()


def _next_number(tenant_id: int) -> int:
    table = Tenant.__table__
    return db.session.execute(
        update(table)
        .where(table.c.id == tenant_id)
        .values(next_ticket_number=table.c.next_ticket_number + 1)
        .returning(table.c.next_ticket_number)
    ).scalar_one() - 1


def _pick_assignee() -> User | None:
    """Round-robin: the active agent assigned longest ago; admins when there are no agents. One query."""
    membership = db.session.execute(
        select(Membership)
        .where(Membership.role.in_(("agent", "admin")), Membership.is_active.is_(True))
        .order_by(case((Membership.role == "agent", 0), else_=1), Membership.last_assigned_at.asc().nulls_first(),
                  Membership.id)
        .limit(1)
        .options(joinedload(Membership.user))
        .with_for_update(of=Membership)
    ).scalar_one_or_none()
    if membership is None:
        return None
    membership.last_assigned_at = utcnow()
    return membership.user


def ticket_url(ticket: Ticket, tenant: Tenant) -> str:
    return absolute_url("tickets.show", tenant_slug=tenant.slug, ticket_id=ticket.id)


def _record(ticket: Ticket, kind: str, actor: User | None, body: str | None = None, **details) -> Activity:
    activity = Activity(ticket_id=ticket.id, actor_id=actor.id if actor else None, kind=kind, body=body, details=details)
    db.session.add(activity)
    return activity


def format_due(moment, tenant: Tenant) -> str:
    """A due time as the tenant reads it, e.g. "Tue 24 Nov, 09:00 EST"."""
    return localize(moment, tenant.timezone).strftime("%a %d %b, %H:%M %Z") if moment else ""


def open_ticket(response: Response, trigger: str = "score") -> Ticket:
    """Open the detractor ticket for ``response``: assign it, give it its SLA due times, its cadence tasks
    and notices, and queue the alerts to the notification lists and the introduction email from the assignee.

    A fixed number of statements (one more per alert recipient): rows of one table are added together so
    the session writes them in one INSERT, and the new ticket's notices are added without per-key lookups.
    """
    tenant = db.session.get(Tenant, current_tenant_id())
    settings = get_settings()
    clock = sla_calendar(settings, tenant)
    now = utcnow()
    assignee = _pick_assignee()
    ticket = Ticket(
        number=_next_number(tenant.id), response_id=response.id, contact_id=response.contact_id,
        assignee_id=assignee.id if assignee else None, status="new", trigger=trigger, opened_at=now,
        first_contact_due_at=clock.add(now, settings.first_contact_target_hours),
        first_contact_breach_at=clock.add(now, settings.first_contact_breach_hours),
        resolution_due_at=clock.add(now, settings.resolution_target_days * 24),
    )
    db.session.add(ticket)
    db.session.flush()
    _record(ticket, "opened", None, score=response.score, trigger=trigger,
            assignee=assignee.name if assignee else None)
    if assignee is not None:
        _record(ticket, "email", None, direction="outbound", subject="Automatic introduction email",
                automatic=True, agent=assignee.name)
    workflow_tasks.create_cadence_tasks(ticket, settings, clock)
    sla_clock.schedule_notices(ticket, opening=True)
    contact = response.contact
    values = {
        "organisation": tenant.name, "contact.first_name": contact.first_name, "contact.name": contact.name,
        "contact.account": contact.account_name or "", "contact.email": contact.email,
        "contact.phone": contact.phone or "", "contact.external_id": contact.external_id or "",
        "ticket.reference": ticket.reference, "ticket.score": str(response.score),
        "ticket.band": response.band_label, "ticket.comment": response.comment or "(none yet)",
        "ticket.due": format_due(ticket.first_contact_due_at, tenant), "ticket.link": ticket_url(ticket, tenant),
        "agent.name": assignee.name if assignee else "nobody yet",
    }
    alert_key = emailtemplates.PHI_SAFE_ALERT if settings.phi_safe_alerts else "manager_alert"
    own = emailtemplates.current_many([key for key in (alert_key, "detractor_intro") if isinstance(key, str)])

    def render(key, values):
        if isinstance(key, str):
            return emailtemplates.render(key, values, subject=own[key][0], body=own[key][1])
        return emailtemplates.render(key, values)

    alert = render(alert_key, values)
    # No dedupe key: the ticket is created in this transaction, so no alert about it can exist yet, and
    # recipients() lists each address once.
    for address, name in recipients("ticket_opened"):
        queue_email(kind="detractor_alert", to_address=address, to_name=name, subject=alert.subject,
                    text_body=alert.text, html_body=alert.html, ticket_id=ticket.id)
    if assignee is not None:
        values.update({"agent.name": assignee.name, "agent.first_name": assignee.first_name,
                       "agent.email": assignee.email, "agent.phone": assignee.phone or ""})
        intro = render("detractor_intro", values)
        queue_email(kind="detractor_intro", to_address=contact.email, to_name=contact.name, subject=intro.subject,
                    text_body=intro.text, html_body=intro.html, from_name=assignee.name,
                    reply_to=assignee.email, ticket_id=ticket.id)
    return ticket


def _members_with_roles(roles: tuple[str, ...]) -> list[User]:
    return list(
        db.session.execute(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.role.in_(roles), Membership.is_active.is_(True))
            .order_by(User.name)
        ).scalars()
    )


def note_score_change(ticket: Ticket, previous: int, score: int) -> None:
    _record(ticket, "score_amended", None, previous=previous, score=score)


def _mark_contacted(ticket: Ticket) -> None:
    """The first call or email attempt meets the first-contact SLA: its notices are no longer owed."""
    if ticket.first_contact_at is None:
        ticket.first_contact_at = utcnow()
        sla_clock.cancel_notices(ticket, sla_clock.FIRST_CONTACT_KINDS)
    if ticket.status == "new":
        _record(ticket, "status", None, previous="new", status="contacted", reason="first contact attempt logged")
        ticket.status = "contacted"


def _ensure_open(ticket: Ticket) -> None:
    if ticket.status == "closed":
        raise TicketRuleError("This ticket is closed. Reopen it to make changes.")


def log_call(ticket: Ticket, actor: User, *, called: str, outcome: str, notes: str | None) -> Activity:
    _ensure_open(ticket)
    if outcome not in CALL_OUTCOMES:
        raise TicketRuleError("Choose how the call went.")
    activity = _record(ticket, "call", actor, notes or None, called=called, outcome=outcome)
    _mark_contacted(ticket)
    workflow_tasks.record_outreach(ticket, kind="call", reached=outcome == "connected")
    return activity


def log_email(ticket: Ticket, actor: User, *, direction: str, subject: str, summary: str | None) -> Activity:
    _ensure_open(ticket)
    if direction not in EMAIL_DIRECTIONS:
        raise TicketRuleError("Choose whether the email was sent or received.")
    activity = _record(ticket, "email", actor, summary or None, direction=direction, subject=subject)
    _mark_contacted(ticket)
    workflow_tasks.record_outreach(ticket, kind="email" if direction == "outbound" else None,
                                   reached=direction == "inbound")
    return activity


def add_note(ticket: Ticket, actor: User, body: str) -> Activity:
    return _record(ticket, "note", actor, body)


def reassign(ticket: Ticket, actor: User, assignee: User) -> None:
    _ensure_open(ticket)
    if ticket.assignee_id == assignee.id:
        return
    previous = ticket.assignee.name if ticket.assignee else None
    # The open tasks of the person who had it (its cadence calls and emails, their own to-dos) move along.
    db.session.execute(
        update(Task)
        .where(Task.ticket_id == ticket.id, Task.done_at.is_(None),
               Task.owner_id == ticket.assignee_id if ticket.assignee_id else Task.owner_id.is_(None))
        .values(owner_id=assignee.id)
    )
    ticket.assignee_id = assignee.id
    ticket.assignee = assignee
    activity = _record(ticket, "reassigned", actor, previous=previous, assignee=assignee.name)
    notify_ticket_lists(ticket, "ticket_reassigned", activity, actor, previous_assignee=previous)


def move_status(ticket: Ticket, actor: User, status: str) -> None:
    """Move an open ticket between the working columns; closing goes through :func:`close_ticket`.

    "Waiting on customer" pauses the resolution clock, once the customer has been contacted (the
    first-contact clock never pauses); moving on resumes it with the paused working time given back.
    Reopening a closed ticket owes its SLA notices again.
    """
    if status not in STATUSES or status == "closed":
        raise TicketRuleError("Choose New, Contacted, Action plan or Waiting on customer. To close, use Close ticket.")
    if ticket.status == status:
        return
    if status == "waiting" and ticket.first_contact_at is None:
        raise TicketRuleError("Log a call or an email with the customer first: only the resolution clock can "
                              "wait on the customer.")
    previous, reopening = ticket.status, ticket.status == "closed"
    if reopening:
        _record(ticket, "reopened", actor, previous_outcome=ticket.outcome)
        ticket.closed_at = ticket.outcome = ticket.closing_note = None
    ticket.status = status
    clock = {}
    if status == "waiting" and ticket.paused_at is None:
        sla_clock.pause(ticket)
        clock = {"reason": "resolution clock paused"}
    elif status != "waiting" and ticket.paused_at is not None:
        tenant = db.session.get(Tenant, current_tenant_id())
        sla_clock.resume(ticket, sla_calendar(tenant=tenant))
        clock = {"reason": f"resolution clock restarted, now due {format_due(ticket.resolution_due_at, tenant)}"}
    if reopening:
        sla_clock.schedule_notices(ticket)
    _record(ticket, "status", actor, previous=previous, status=status, **clock)


class ClosingRuleError(TicketRuleError):
    """Closing was refused; ``field`` names the close form's field the message belongs next to."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def close_ticket(ticket: Ticket, actor: User, *, outcome: str, note: str, root_cause_ids=(),
                 override_reason: str | None = None) -> None:
    """Close the ticket with an outcome, a note and at least one of the organisation's active root causes.

    * "No response" needs the outreach cadence complete, when the organisation stops after the cadence
      (the default); otherwise the team may choose it at any time.
    * "Resolved" is refused while action-plan items are open, unless a manager or admin closes it and
      gives a reason, which the timeline records.
    Nothing more is owed for the ticket's open tasks and items: their reminders and notices are cancelled.
    """
    _ensure_open(ticket)
    if outcome not in OUTCOMES:
        raise TicketRuleError("Choose an outcome.")
    if not (note or "").strip():
        raise TicketRuleError("Write a closing note.")
    causes = []
    if root_cause_ids:
        causes = list(db.session.execute(
            select(RootCause).where(RootCause.id.in_(list(root_cause_ids)), RootCause.retired_at.is_(None))
            .order_by(RootCause.label)
        ).scalars())
    if not causes:
        raise ClosingRuleError("Choose at least one root cause.", "root_causes")
    if outcome == "no_response" and ticket.cadence_complete_at is None and get_settings().stop_after_cadence:
        raise ClosingRuleError(
            "“No response” can be chosen once the outreach cadence is complete: every planned call and email "
            "logged without reaching the contact.", "outcome")
    override = (override_reason or "").strip()
    open_items = 0
    if outcome == "resolved":
        open_items = db.session.execute(
            select(func.count(ActionPlanItem.id))
            .where(ActionPlanItem.ticket_id == ticket.id, ActionPlanItem.done_at.is_(None))
        ).scalar_one()
        if open_items:
            items = f"{open_items} action-plan item{'s are' if open_items != 1 else ' is'} still open"
            role = db.session.execute(
                select(Membership.role).where(Membership.user_id == actor.id, Membership.is_active.is_(True))
            ).scalar_one_or_none()
            if role not in ("manager", "admin"):
                raise ClosingRuleError(f"{items}. Finish them first, or ask a manager to close the ticket.", "outcome")
            if not override:
                raise ClosingRuleError(f"{items}. Give the reason for closing it as resolved anyway.",
                                       "override_reason")
    previous = ticket.status
    ticket.status, ticket.outcome, ticket.closing_note, ticket.closed_at = "closed", outcome, note.strip(), utcnow()
    sla_clock.cancel_notices(ticket, sla_clock.FIRST_CONTACT_KINDS + sla_clock.RESOLUTION_KINDS)
    ticket.root_causes = causes
    details = {"outcome": outcome, "previous": previous, "root_causes": [cause.label for cause in causes]}
    body = note.strip()
    if open_items:
        details.update(override_reason=override, open_items=open_items)
        body += f"\n\nClosed as resolved with {open_items} action-plan item{'s' if open_items != 1 else ''} open: {override}"
    activity = _record(ticket, "closed", actor, body, **details)
    notify_ticket_lists(ticket, "ticket_closed", activity, actor)
    workflow_tasks.close_ticket_work(ticket)


def load_ticket_page(ticket_id: int) -> Ticket | None:
    """The ticket with everything its page shows, in a fixed number of queries.

    Two statements whatever the data: the ticket joined to its response, survey, contact and
    assignee, then its timeline joined to each entry's actor. (Joins rather than ``selectinload``
    for the many-to-one rows, so the count does not depend on what the session already holds.)
    """
    return db.session.execute(
        select(Ticket)
        .where(Ticket.id == ticket_id)
        .options(
            joinedload(Ticket.response).joinedload(Response.survey),
            joinedload(Ticket.contact),
            joinedload(Ticket.assignee),
            selectinload(Ticket.activities).joinedload(Activity.actor),
        )
    ).unique().scalar_one_or_none()


def assignable_members() -> list[User]:
    """Active admins, managers and agents of the current tenant, by name: who a ticket can be given to."""
    return _members_with_roles(WORKING_ROLES)


def _dedupe_address(address: str) -> str:
    """An address as it goes into a dedupe key: lower case, and hashed when too long for the column."""
    address = address.strip().lower()
    return address if len(address) <= 120 else hashlib.sha256(address.encode()).hexdigest()


def notify_ticket_lists(ticket: Ticket, event: str, activity: Activity, actor: User | None,
                        previous_assignee: str | None = None) -> int:
    """Email the notification lists subscribed to ``event`` (ticket_reassigned, ticket_closed) about ``ticket``.

    PHI-safe organisations send only the reference, band, due time and a sign-in link. Each address gets
    one email per event: the dedupe key names the ticket, the event, its timeline entry and the address.
    Returns how many emails were queued.
    """
    targets = recipients(event)
    if not targets:
        return 0
    db.session.flush()  # the timeline entry's id names this event
    tenant = db.session.get(Tenant, current_tenant_id())
    settings = get_settings()
    contact, response = ticket.contact, ticket.response
    # Until the first contact, that is what is due next; after it (and for a closed ticket), the resolution.
    contacted = event == "ticket_closed" or ticket.first_contact_at is not None
    due = ticket.resolution_due_at if contacted else ticket.first_contact_due_at
    values = {
        "organisation": tenant.name, "contact.first_name": contact.first_name, "contact.name": contact.name,
        "contact.account": contact.account_name or "", "contact.email": contact.email,
        "contact.phone": contact.phone or "", "contact.external_id": contact.external_id or "",
        "ticket.reference": ticket.reference, "ticket.score": str(response.score),
        "ticket.band": response.band_label, "ticket.comment": response.comment or "(none)",
        "ticket.due": format_due(due, tenant) or "not set", "ticket.link": ticket_url(ticket, tenant),
        "ticket.previous_assignee": previous_assignee or "nobody",
        "ticket.outcome": ticket.outcome_label or "", "ticket.closing_note": ticket.closing_note or "",
        "agent.name": ticket.assignee.name if ticket.assignee else "nobody",
        "actor.name": actor.name if actor else "Turnaround",
    }
    alert = emailtemplates.render(emailtemplates.alert_spec(event, settings.phi_safe_alerts), values)
    short = event.removeprefix("ticket_")
    queued = 0
    for address, name in targets:
        message = queue_email(kind=event, to_address=address, to_name=name, subject=alert.subject,
                              text_body=alert.text, html_body=alert.html, ticket_id=ticket.id,
                              dedupe_key=f"ticket:{ticket.id}:{short}:{activity.id}:{_dedupe_address(address)}")
        queued += message is not None
    return queued
