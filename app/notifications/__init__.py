"""Notifications: for every event, who is told, what the message may carry, and its outbox rows.

Two ways in, one way through (:class:`app.notifications.batch.Batch`):

* :func:`notify` — a service owes the mail of one occurrence (a ticket opened, reassigned, closed) now,
  in its own transaction; the messages are handed to the mail queue after commit.
* :func:`announce` — a service tells the organisation's webhook endpoints about an event that owes no mail
  (a ticket moved, an answer recorded), in its own transaction; posted after commit.
* :func:`sweep_due` — the worker's periodic sweep sends the scheduled notices that fell due (SLA at risk
  and breached, task reminders, overdue action-plan items), a batch across organisations at a time.

The events themselves are defined in :mod:`app.notifications.events`; the PHI-safe rule in
:mod:`app.notifications.phi_safe`; lists → addresses in :mod:`app.notifications.recipients`; the dedupe key
and the outbox writes in :mod:`app.notifications.outbox`; the admin side of the lists in
:mod:`app.notifications.lists`. A personal email an agent sends from a ticket (written by a person, from the
agent) is not an event: :mod:`app.notifications.personal` gives its wording, sender and outbox row.
"""
from __future__ import annotations

from app.accounts.models import User
from app.extensions import db
from app.mail import deliver_after_commit
from app.notifications.batch import Batch, Occurrence
from app.notifications.events import EVENTS, SLA_KINDS
from app.notifications.recipients import recipients
from app.notifications.sweep import SWEEP_LIMIT, sweep_due
from app.notifications import webhooks
from app.notifications.webhooks import announce, announce_all
from app.tenancy import current_tenant_id
from app.tickets.models import Activity, Ticket
from app.timeutil import utcnow
from app.workflow.models import ActionPlanItem, Task

STREAM_AFTER = 20  # occurrences

__all__ = ["EVENTS", "SLA_KINDS", "SWEEP_LIMIT", "announce", "announce_all", "notify", "notify_each", "recipients",
           "sweep_due"]


def notify(*events: str, ticket: Ticket | None = None, task: Task | None = None, item: ActionPlanItem | None = None,
           activity: Activity | None = None, actor: User | None = None,
           previous_assignee: str | None = None) -> int:
    """Owe the mail of ``events`` about one subject, in the current organisation and transaction.

    ``activity`` is the timeline entry that records the change (it names the occurrence of a reassignment
    or a closing); ``actor`` did it; ``previous_assignee`` is the name the ticket had before. Each recipient
    is told once per occurrence: calling again for the same occurrence queues nothing. The messages are
    handed to the mail queue once the transaction commits. The organisation's webhook endpoints hear the
    events that have a webhook counterpart (see :mod:`app.notifications.webhooks`). Returns how many messages
    were queued.
    """
    webhooks.announce_mail_events(events, tickets=[ticket] if ticket is not None else [], activity=activity)
    db.session.flush()  # the keys name the activity, which may have been added just now
    subject = {"ticket_id": ticket.id if ticket else None, "task_id": task.id if task else None,
               "item_id": item.id if item else None}
    return _run([
        Occurrence(event=event, tenant_id=current_tenant_id(), key=EVENTS[event].key(
            **subject, activity_id=activity.id if activity else None), actor=actor.name if actor else None,
            previous_assignee=previous_assignee, **subject)
        for event in events
    ])


def notify_each(items: list[tuple[tuple[str, ...], Ticket]]) -> int:
    """:func:`notify` for many tickets at once: each ``(events, ticket)`` owes the mail of its events about its
    ticket (tickets just opened together). One batch, so the statements do not grow with the tickets.

    The messages are queued event by event (every ticket's first event, then every ticket's second, …): the
    alerts of a burst reach the mail queue's first jobs together instead of one per ticket between other mail.
    """
    for events in dict.fromkeys(events for events, _ in items):
        webhooks.announce_mail_events(events, tickets=[ticket for each, ticket in items if each == events])
    tenant_id = current_tenant_id()
    order = list(dict.fromkeys(event for events, _ in items for event in events))
    return _run([Occurrence(event=event, tenant_id=tenant_id, key=EVENTS[event].key(
        ticket_id=ticket.id, task_id=None, item_id=None, activity_id=None), ticket_id=ticket.id)
        for event in order for events, ticket in items if event in events])


def _run(occurrences: list[Occurrence]) -> int:
    db.session.flush()  # the batch reads the rows this transaction wrote
    # A large batch (tickets opened together) streams its outbox rows with COPY; a service's few go in one INSERT.
    messages = Batch(occurrences, utcnow(), stream=len(occurrences) > STREAM_AFTER).run().messages
    for message_id, kind in messages.items():
        deliver_after_commit(message_id, kind)
    return len(messages)
