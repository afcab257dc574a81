"""Everything that changes a detractor ticket. Each verb writes its timeline entry."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload, selectinload

from app import notifications, timeutil
from app.accounts.models import Membership, Tenant, User
from app.contacts.models import Contact
from app.customers.models import CustomerAccount
from app.extensions import db
from app.notifications import personal
from app.feedback import recovery
from app.rules import RuleError
from app.settings.models import RootCause
from app.settings.services import get_settings, sla_calendar, sla_due_times
from app.surveys.models import Response, SurveyQuestion
from app.teams import routing
from app.tenancy import ID_MAX, MANAGING_ROLES, WORKING_ROLES, current_tenant_id
from app.tickets.models import (
    CALL_OUTCOMES, EMAIL_DIRECTIONS, OUTCOMES, STATUSES, Activity, Status, Ticket,
)
from app.timeutil import utcnow
from app.workflow import ticket_sla as sla_clock
from app.workflow import todos as workflow_tasks
from app.workflow.models import ActionPlanItem, Task


def ticket_for_response(response: Response) -> Ticket | None:
    return db.session.execute(select(Ticket).where(Ticket.response_id == response.id)).scalar_one_or_none()


def tickets_for_responses(responses: list[Response]) -> dict[int, Ticket]:
    """The tickets of ``responses`` by response id (one query; none when there are no responses)."""
    ids = [response.id for response in responses]
    if not ids:
        return {}
    return {ticket.response_id: ticket
            for ticket in db.session.execute(select(Ticket).where(Ticket.response_id.in_(ids))).scalars()}


def _next_numbers(tenant_id: int, count: int) -> list[int]:
    """Take ``count`` consecutive ticket numbers of the organisation in one ``UPDATE … RETURNING``. The row
    stays locked until the transaction ends, which queues tickets opening at once in one organisation."""
    table = Tenant.__table__
    last = db.session.execute(
        update(table)
        .where(table.c.id == tenant_id)
        .values(next_ticket_number=table.c.next_ticket_number + count)
        .returning(table.c.next_ticket_number)
    ).scalar_one()
    return list(range(last - count, last))


def _record(ticket: Ticket, kind: str, actor: User | None, body: str | None = None, **details) -> Activity:
    activity = Activity(ticket_id=ticket.id, actor_id=actor.id if actor else None, kind=kind, body=body, details=details)
    db.session.add(activity)
    return activity


def format_due(moment, tenant: Tenant) -> str:
    """A due time as the tenant reads it, e.g. "Tue 24 Nov, 09:00 EST"."""
    return timeutil.format_due(moment, tenant.timezone)


@dataclass(frozen=True)
class Opening:
    """A ticket to open: for ``response``, because of ``trigger`` (the score, a trigger ``question``
    answered No, or ``manual``)."""

    response: Response
    trigger: str = "score"
    question: SurveyQuestion | None = None


def open_ticket(response: Response, trigger: str = "score", question: SurveyQuestion | None = None) -> Ticket:
    """Open the detractor ticket for ``response`` (a batch of one: see :func:`open_tickets`)."""
    return open_tickets([Opening(response, trigger, question)])[0]


def open_tickets(openings: list[Opening]) -> list[Ticket]:
    """Open the detractor tickets of ``openings``, in order, in the current organisation: assign each, give it
    its SLA due times, its cadence tasks and notices, and queue the alerts to the notification lists and the
    introduction email from the assignee. The one way a ticket opens: a hosted answer is a batch of one, a burst
    of webhooks a batch of hundreds.

    A cadence that plans nothing after the introduction (the PT clinic's "do not follow up with patients who
    do not respond") is complete when the ticket opens, and the introduction, sent from the assignee, is its
    first contact unless the SLA settings want a logged call.

    A fixed number of statements whatever the number of tickets and recipients: the numbers are taken in one
    ``UPDATE … RETURNING``, routing reads its candidates once, and the rows of each table (tickets, timeline
    entries, tasks, notices, outbox messages) go out in one INSERT each.
    """
    if not openings:
        return []
    tenant = db.session.get(Tenant, current_tenant_id())
    settings = get_settings()
    clock = sla_calendar(settings, tenant)
    now = utcnow()
    # The numbers first: the UPDATE of the organisation's row also puts tickets opening at once in one queue.
    numbers = _next_numbers(tenant.id, len(openings))
    contacts = [db.session.get(Contact, opening.response.contact_id) for opening in openings]
    routes = routing.route_new_tickets(tenant, settings, contacts)
    due_times = sla_due_times(settings, clock, now)
    steps = workflow_tasks.cadence_steps(settings.call_attempts, settings.email_attempts)
    introduction_contacts = sla_clock.stops_first_contact(settings.first_contact_stopped_by, "email")
    tickets = []
    for opening, number, contact, routed in zip(openings, numbers, contacts, routes):
        assignee = routed.assignee
        ticket = Ticket(
            number=number, response_id=opening.response.id, contact_id=contact.id, account_id=contact.account_id,
            assignee_id=assignee.id if assignee else None, status=Status.NEW, trigger=opening.trigger,
            opened_at=now, trigger_question_id=opening.question.id if opening.question is not None else None,
            **due_times,
        )
        if not steps:
            # Nobody chases a contact who does not answer the introduction: the cadence is complete at once.
            ticket.cadence_complete_at = now
            if assignee is not None and introduction_contacts:
                ticket.first_contact_at = now
        tickets.append(ticket)
    db.session.add_all(tickets)
    db.session.flush()
    for ticket, opening, routed in zip(tickets, openings, routes):
        assignee = routed.assignee
        _record(ticket, "opened", None, score=opening.response.score, trigger=opening.trigger,
                assignee=assignee.name if assignee else None, routed=routed.reason)
        if assignee is not None:
            _record(ticket, "email", None, direction="outbound", subject="Automatic introduction email",
                    automatic=True, agent=assignee.name)
    workflow_tasks.create_cadence_tasks(tickets, settings, clock)
    for ticket in tickets:
        sla_clock.schedule_notices(ticket, opening=True)
    notifications.notify_each([
        (("ticket_opened", "detractor_intro") + (("everyone_at_capacity",) if routed.everyone_busy else ()), ticket)
        for ticket, routed in zip(tickets, routes)])
    return tickets


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


def _mark_contacted(ticket: Ticket, kind: str) -> None:
    """The first ``kind`` of attempt ("call" or "email") that the SLA settings count as first contact meets
    the first-contact SLA: its notices are no longer owed and a new ticket moves to Contacted."""
    if not sla_clock.stops_first_contact(get_settings().first_contact_stopped_by, kind):
        return
    if ticket.first_contact_at is None:
        ticket.first_contact_at = utcnow()
        elapsed = sla_calendar().elapsed(ticket.opened_at, ticket.first_contact_at)
        ticket.first_contact_minutes = int(elapsed.total_seconds() // 60)
        sla_clock.cancel_notices(ticket, sla_clock.FIRST_CONTACT_KINDS)
    if ticket.status == Status.NEW:
        _record(ticket, "status", None, previous=Status.NEW, status=Status.CONTACTED,
                reason="first contact attempt logged")
        ticket.status = Status.CONTACTED
        notifications.announce("ticket.status_changed", ticket=ticket, previous_status=Status.NEW)


def lock_ticket(ticket: Ticket) -> Ticket:
    """Lock the ticket's row until the transaction ends and read its current state into ``ticket``.

    Every verb that changes a ticket calls this first, so two changes to one ticket run one after the
    other and the second sees what the first did (a ticket closed meanwhile, an assignee already set).
    ``SELECT … FOR UPDATE`` on PostgreSQL; SQLite, which lets one writer in at a time, ignores it.
    """
    # Fetching the row is what refreshes ``ticket``: an unread result would leave its stale state.
    return db.session.execute(
        select(Ticket).where(Ticket.id == ticket.id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def ensure_open(ticket: Ticket) -> None:
    """Lock the ticket (:func:`lock_ticket`) and refuse when it is closed: the start of every verb that
    changes an open ticket."""
    lock_ticket(ticket)
    if ticket.status == Status.CLOSED:
        raise RuleError("This ticket is closed. Reopen it to make changes.")


def log_call(ticket: Ticket, actor: User, *, called: str, outcome: str, notes: str | None) -> Activity:
    ensure_open(ticket)
    if outcome not in CALL_OUTCOMES:
        raise RuleError("Choose how the call went.")
    activity = _record(ticket, "call", actor, notes or None, called=called, outcome=outcome)
    _mark_contacted(ticket, "call")
    workflow_tasks.record_outreach(ticket, kind="call", reached=outcome == "connected")
    return activity


def log_email(ticket: Ticket, actor: User, *, direction: str, subject: str, summary: str | None) -> Activity:
    ensure_open(ticket)
    if direction not in EMAIL_DIRECTIONS:
        raise RuleError("Choose whether the email was sent or received.")
    activity = _record(ticket, "email", actor, summary or None, direction=direction, subject=subject)
    _mark_contacted(ticket, "email")
    workflow_tasks.record_outreach(ticket, kind="email" if direction == "outbound" else None,
                                   reached=direction == "inbound")
    return activity


def add_note(ticket: Ticket, actor: User, body: str) -> Activity:
    """A note on the timeline; closed tickets take notes too."""
    lock_ticket(ticket)
    return _record(ticket, "note", actor, body)


def reassign(ticket: Ticket, actor: User, assignee: User) -> bool:
    """Give the ticket to ``assignee``, with their predecessor's open tasks. Returns whether anything
    changed: a reassignment to the current assignee changes nothing."""
    ensure_open(ticket)
    if ticket.assignee_id == assignee.id:
        return False
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
    notifications.notify("ticket_reassigned", ticket=ticket, activity=activity, actor=actor,
                         previous_assignee=previous)
    return True


def move_status(ticket: Ticket, actor: User, status: str) -> bool:
    """Move an open ticket between the working columns; closing goes through :func:`close_ticket`.

    "Waiting on customer" pauses the resolution clock, once the customer has been contacted (the
    first-contact clock never pauses); moving on resumes it with the paused working time given back.
    Reopening a closed ticket owes its SLA notices again. Returns whether anything changed.
    """
    lock_ticket(ticket)
    if status not in STATUSES or status == Status.CLOSED:
        raise RuleError("Choose New, Contacted, Action plan or Waiting on customer. To close, use Close ticket.",
                        "status")
    if ticket.status == status:
        return False
    if status == Status.WAITING and ticket.first_contact_at is None:
        raise RuleError("Log a call or an email with the customer first: only the resolution clock can "
                        "wait on the customer.", "status")
    previous, reopening = ticket.status, ticket.status == Status.CLOSED
    if reopening:
        # The closing moment goes with it, so the report rollup re-counts the day the ticket leaves.
        _record(ticket, "reopened", actor, previous_outcome=ticket.outcome,
                previous_closed_at=ticket.closed_at.isoformat() if ticket.closed_at else None)
        ticket.closed_at = ticket.outcome = ticket.closing_note = None
    ticket.status = status
    clock = {}
    if status == Status.WAITING and ticket.paused_at is None:
        sla_clock.pause(ticket)
        clock = {"reason": "resolution clock paused"}
    elif status != Status.WAITING and ticket.paused_at is not None:
        tenant = db.session.get(Tenant, current_tenant_id())
        sla_clock.resume(ticket, sla_calendar(tenant=tenant))
        clock = {"reason": f"resolution clock restarted, now due {format_due(ticket.resolution_due_at, tenant)}"}
    if reopening:
        sla_clock.schedule_notices(ticket)
        workflow_tasks.reopen_ticket_work(ticket)
        recovery.cancel_resurvey(ticket)
    _record(ticket, "status", actor, previous=previous, status=status, **clock)
    notifications.announce("ticket.status_changed", ticket=ticket, previous_status=previous)
    return True


@dataclass(frozen=True)
class Email:
    """A personal email as the agent wrote it: the template it started from, its recipients (the address it
    goes to and the ids of the contacts copied) and its subject and body, merge fields still to fill."""

    template: str
    to_address: str
    subject: str
    body: str
    cc_ids: tuple[int, ...] = ()


def account_id_of(ticket: Ticket) -> int | None:
    """The account a ticket's email may copy people at: the ticket's own, else its contact's."""
    return ticket.account_id or ticket.contact.account_id


def copy_candidates(ticket: Ticket, limit: int = 50) -> list[Contact]:
    """The other contacts at the ticket's account, by name: whom an email from the ticket may copy. One query."""
    account_id = account_id_of(ticket)
    if account_id is None:
        return []
    return list(db.session.execute(
        select(Contact).where(Contact.account_id == account_id, Contact.id != ticket.contact_id)
        .order_by(Contact.name, Contact.id).limit(limit)
    ).scalars())


def email_problems(ticket: Ticket, email: Email, prefix: str = "") -> tuple[dict[str, str], list[Contact]]:
    """What stops ``email`` from being sent, by form field (``prefix`` + subject/body/to/cc), and the contacts
    it copies."""
    problems = {}
    if email.template not in personal.TEMPLATES:
        problems[f"{prefix}template"] = "Choose a template to start from."
        return problems, []
    problems.update(personal.problems(email.template, email.subject, email.body,
                                      (f"{prefix}subject", f"{prefix}body")))
    copied = []
    ids = list(dict.fromkeys(email.cc_ids))
    if ids:
        account_id = account_id_of(ticket)
        if account_id is not None and all(0 < i <= ID_MAX for i in ids):
            copied = list(db.session.execute(
                select(Contact).where(Contact.id.in_(ids), Contact.account_id == account_id,
                                      Contact.id != ticket.contact_id).order_by(Contact.name, Contact.id)
            ).scalars())
        if len(copied) != len(ids):
            problems[f"{prefix}cc"] = "Copy only people at the contact's account."
    return problems, copied


def _send(ticket: Ticket, actor: User, email: Email, copied: list[Contact], *, closing: bool = False) -> Activity:
    """Queue ``email`` from ``actor`` and record it on the timeline, in the current transaction."""
    rendered = personal.render(email.template, ticket, actor, email.subject, email.body)
    to_name = ticket.contact.name if email.to_address.lower() == ticket.contact.email.lower() else None
    cc = [contact.email for contact in copied if contact.email.lower() != email.to_address.lower()]
    message = personal.queue(ticket, actor, rendered, to_address=email.to_address, to_name=to_name, cc=cc)
    details = {"direction": "outbound", "subject": rendered.subject, "to": email.to_address, "cc": cc,
               "sent": True, "message_id": message.id, "template": email.template}
    if closing:
        details["closing"] = True
    return _record(ticket, "email", actor, rendered.text.strip(), **details)


def send_email(ticket: Ticket, actor: User, email: Email) -> Activity:
    """Send a personal email from ``actor`` to the contact (copying others at the account) through the
    outbox, and log it on the timeline as an email sent, in one transaction.

    It is a contact attempt like a logged email: it ticks the earliest open "personal follow-up email"
    cadence task and stops the first-contact clock when the SLA settings count a personal email.
    """
    ensure_open(ticket)
    problems, copied = email_problems(ticket, email)
    if problems:
        raise RuleError.on_fields(problems)
    activity = _send(ticket, actor, email, copied)
    _mark_contacted(ticket, "email")
    workflow_tasks.record_outreach(ticket, kind="email", reached=False)
    return activity


def close_problems(ticket: Ticket, actor: User, *, outcome: str | None, note: str | None, root_cause_ids=(),
                   override_reason: str | None = None, followup: Email | None = None) -> tuple[dict, list, int]:
    """Every reason the ticket cannot close as asked, at once, by form field (empty when it can), with the
    root causes chosen and the number of open action-plan items. Reads, never writes.

    * an outcome, a closing note and at least one of the organisation's active root causes are needed;
    * "No response" needs the outreach cadence complete, when the organisation stops after the cadence
      (the default); otherwise the team may choose it at any time;
    * "Resolved" is refused while action-plan items are open, unless a manager or admin closes it and
      gives a reason, which the timeline records;
    * a closing follow-up email needs a subject and a body.
    """
    problems: dict[str, str] = {}
    if outcome not in OUTCOMES:
        problems["outcome"] = "Choose an outcome."
    if not (note or "").strip():
        problems["note"] = "Write a closing note."
    causes = []
    ids = [i for i in (root_cause_ids or []) if isinstance(i, int) and 0 < i <= ID_MAX]
    if ids:
        causes = list(db.session.execute(
            select(RootCause).where(RootCause.id.in_(ids), RootCause.retired_at.is_(None))
            .order_by(RootCause.label)
        ).scalars())
    if not causes:
        problems["root_causes"] = "Choose at least one root cause."
    if outcome == "no_response" and ticket.cadence_complete_at is None and get_settings().stop_after_cadence:
        problems["outcome"] = (
            "“No response” can be chosen once the outreach cadence is complete: every planned call and email "
            "logged without reaching the contact.")
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
            if role not in MANAGING_ROLES:
                problems["outcome"] = f"{items}. Finish them first, or ask a manager to close the ticket."
            elif not (override_reason or "").strip():
                problems["override_reason"] = f"{items}. Give the reason for closing it as resolved anyway."
    if followup is not None:
        problems.update(email_problems(ticket, followup, prefix="followup_")[0])
    return problems, causes, open_items


def close_ticket(ticket: Ticket, actor: User, *, outcome: str, note: str, root_cause_ids=(),
                 override_reason: str | None = None, followup: Email | None = None) -> None:
    """Close the ticket with an outcome, a note and at least one of the organisation's active root causes
    (the rules: :func:`close_problems`; every one that fails is reported at once).

    With ``followup``, the closing follow-up email is sent to the contact from ``actor`` in the same
    transaction and logged on the timeline, and ticks the earliest open personal follow-up email task.
    Nothing more is owed for the ticket's other open tasks and items: their reminders and notices are
    cancelled, and the ticket page shows those tasks as not needed.
    """
    lock_ticket(ticket)
    if ticket.status == Status.CLOSED:
        raise RuleError("This ticket is already closed.")
    problems, causes, open_items = close_problems(ticket, actor, outcome=outcome, note=note,
                                                  root_cause_ids=root_cause_ids, override_reason=override_reason,
                                                  followup=followup)
    if problems:
        raise RuleError.on_fields(problems)
    override = (override_reason or "").strip()
    previous = ticket.status
    ticket.status, ticket.outcome, ticket.closing_note, ticket.closed_at = Status.CLOSED, outcome, note.strip(), utcnow()
    sla_clock.cancel_notices(ticket, sla_clock.FIRST_CONTACT_KINDS + sla_clock.RESOLUTION_KINDS)
    ticket.root_causes = causes
    details = {"outcome": outcome, "previous": previous, "root_causes": [cause.label for cause in causes]}
    body = note.strip()
    if open_items:
        details.update(override_reason=override, open_items=open_items)
        body += f"\n\nClosed as resolved with {open_items} action-plan item{'s' if open_items != 1 else ''} open: {override}"
    activity = _record(ticket, "closed", actor, body, **details)
    notifications.notify("ticket_closed", ticket=ticket, activity=activity, actor=actor)
    workflow_tasks.close_ticket_work(ticket)
    if followup is not None:
        # A personal email from the agent: it does the cadence's next personal follow-up email, as one sent
        # from the composer does (closing never moves the ticket to Contacted, nor ends its first-contact clock).
        _send(ticket, actor, followup, [], closing=True)
        workflow_tasks.tick_cadence_task(ticket, "email")
    recovery.schedule_resurvey(ticket)


def load_ticket_page(ticket_id: int) -> Ticket | None:
    """The ticket with everything its page shows, in a fixed number of queries.

    Two statements whatever the data: the ticket joined to its response, survey, contact (with its account
    and the account's owner), account, assignee and trigger question, then its timeline joined to each
    entry's actor. (Joins rather than ``selectinload``
    for the many-to-one rows, so the count does not depend on what the session already holds.)
    """
    return db.session.execute(
        select(Ticket)
        .where(Ticket.id == ticket_id)
        .options(
            joinedload(Ticket.response).joinedload(Response.survey),
            joinedload(Ticket.contact).joinedload(Contact.account).joinedload(CustomerAccount.owner),
            joinedload(Ticket.account).joinedload(CustomerAccount.owner),
            joinedload(Ticket.assignee),
            joinedload(Ticket.trigger_question),
            selectinload(Ticket.activities).joinedload(Activity.actor),
        )
    ).unique().scalar_one_or_none()


def assignable_members() -> list[User]:
    """Active admins, managers and agents of the current tenant, by name: who a ticket can be given to."""
    return _members_with_roles(WORKING_ROLES)
