"""Every notification event, defined once: who is told, with which merge values, in which words.

An :class:`Event` answers, for one occurrence seen through a :class:`~app.notifications.batch.Context`:
whether it is still owed, who receives it, its merge values (full; the batch passes them through
:mod:`app.notifications.phi_safe` for a PHI-safe organisation) and how they render. The batch does the
loading, the PHI-safe filtering, the dedupe keys and the outbox rows, the same way for the sweep and for
the services. Adding an event is adding a class here and an entry in :data:`EVENTS`.
"""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from flask import current_app
from jinja2 import ChainableUndefined, Environment, select_autoescape

from app import emailtemplates
from app.emailtemplates import Rendered, Spec
from app.notifications import phi_safe
from app.notifications.recipients import Recipient, first_name
from app.surveys.models import BAND_LABELS
from app.tenancy import MANAGING_ROLES, Role, WORKING_ROLES
from app.tickets.models import OUTCOMES, opened_because, reference
from app.timeutil import utcnow

if TYPE_CHECKING:
    from app.notifications.batch import Context

_PHI_SAFE_NOTE = "This alert carries no patient details because PHI-safe alerts are on."
_PHI_SAFE_ID_NOTE = ("This alert carries no patient details other than the identifier because PHI-safe alerts "
                     "are on.")
_TICKET_DETAILS = ("Why it opened: {ticket.why}\nContact: {contact.name}, {contact.account}\n"
                   "Email: {contact.email}\nPhone: {contact.phone}\nIdentifier: {contact.external_id}\n"
                   "Comment: {ticket.comment}\n")
_ALERT_FIELDS = emailtemplates.CONTACT + (
    "contact.email", "contact.phone", "contact.external_id", "agent.name", "actor.name", "ticket.reference",
    "ticket.score", "ticket.band", "ticket.why", "ticket.comment", "ticket.due", "ticket.link",
    "ticket.previous_assignee", "ticket.outcome", "ticket.closing_note")
_PHI_SAFE_FIELDS = ("organisation", "ticket.reference", "ticket.band", "ticket.why", "ticket.due", "ticket.link")

# The fixed alert the lists get when a ticket opens in a PHI-safe organisation (instead of the editable one).
PHI_SAFE_OPENED = Spec(
    "PHI-safe manager alert", "", "Detractor ticket {ticket.reference}: {ticket.why}",
    "A detractor ticket was opened for {organisation}.\n\nTicket: {ticket.reference}\nBand: {ticket.band}\n"
    "Why it opened: {ticket.why}\nFirst contact due: {ticket.due}\n\nSign in to see it: {ticket.link}\n\n"
    + _PHI_SAFE_NOTE,
    _PHI_SAFE_FIELDS,
)
# The alerts the lists get when a ticket changes hands or closes: (full, PHI-safe).
LIST_ALERTS: dict[str, tuple[Spec, Spec]] = {
    "ticket_reassigned": (
        Spec("Ticket reassigned alert", "", "Ticket {ticket.reference} reassigned to {agent.name}",
             "{actor.name} reassigned detractor ticket {ticket.reference} at {organisation}.\n\n"
             "Now assigned to: {agent.name}\nPreviously assigned to: {ticket.previous_assignee}\n"
             + _TICKET_DETAILS + "Due: {ticket.due}\n\nOpen the ticket: {ticket.link}",
             _ALERT_FIELDS),
        Spec("PHI-safe ticket reassigned alert", "", "Ticket {ticket.reference} reassigned ({ticket.band})",
             "Detractor ticket {ticket.reference} at {organisation} was reassigned.\n\nTicket: {ticket.reference}\n"
             "Band: {ticket.band}\nWhy it opened: {ticket.why}\nDue: {ticket.due}\n\n"
             "Sign in to see it: {ticket.link}\n\n" + _PHI_SAFE_NOTE,
             _PHI_SAFE_FIELDS),
    ),
    "ticket_closed": (
        Spec("Ticket closed alert", "", "Ticket {ticket.reference} closed: {ticket.outcome}",
             "{actor.name} closed detractor ticket {ticket.reference} at {organisation}.\n\n"
             "Outcome: {ticket.outcome}\nClosing note: {ticket.closing_note}\nWorked by: {agent.name}\n"
             + _TICKET_DETAILS + "\nOpen the ticket: {ticket.link}",
             _ALERT_FIELDS),
        Spec("PHI-safe ticket closed alert", "", "Ticket {ticket.reference} closed ({ticket.band})",
             "Detractor ticket {ticket.reference} at {organisation} was closed.\n\nTicket: {ticket.reference}\n"
             "Band: {ticket.band}\nWhy it opened: {ticket.why}\nResolution was due: {ticket.due}\n\n"
             "Sign in to see it: {ticket.link}\n\n" + _PHI_SAFE_NOTE,
             _PHI_SAFE_FIELDS),
    ),
}


def _identified(spec: Spec) -> Spec:
    """A PHI-safe alert that also carries the contact's external id (when the organisation allows it)."""
    body = spec.body.replace("Ticket: {ticket.reference}\n", "Ticket: {ticket.reference}\n"
                             "Identifier: {contact.external_id}\n", 1).replace(_PHI_SAFE_NOTE, _PHI_SAFE_ID_NOTE)
    return Spec(spec.label, spec.description, spec.subject, body, spec.fields + ("contact.external_id",))


_IDENTIFIED = {spec.label: _identified(spec)
               for spec in (PHI_SAFE_OPENED, *(safe for _, safe in LIST_ALERTS.values()))}


def phi_safe_spec(spec: Spec, values: dict[str, str]) -> Spec:
    """``spec``, with the identifier line when the PHI-safe values kept the contact's external id."""
    return _IDENTIFIED[spec.label] if values.get("contact.external_id") else spec


class Event:
    """One kind of notification. Subclasses override what differs; the defaults suit a ticket notice."""

    name: str
    label: str
    kind: str = ""  # the outbox kind (the X-Turnaround-Kind header, the email log); the name unless given
    template: str | None = None  # an editable template (emailtemplates.SPECS) the batch loads per organisation
    uses_lists = False  # whether the batch must load the notification lists
    uses_workload = False  # whether the batch must count each organisation's open tickets
    to_contact = False  # mail to the contact about themselves: the PHI-safe rules do not apply
    uses_account = False  # whether its values include the ticket's account and the people over it

    @property
    def outbox_kind(self) -> str:
        return self.kind or self.name

    def key(self, *, ticket_id: int | None = None, task_id: int | None = None, item_id: int | None = None,
            activity_id: int | None = None) -> str:
        """The occurrence key: names one happening of this event (with an address, the dedupe key)."""
        return f"ticket:{ticket_id}:{self.name}"

    def owed(self, ctx: Context) -> bool:
        """Whether the occurrence still owes mail (a notice whose reason has gone is dropped)."""
        return ctx.open_ticket is not None

    def prepare(self, ctx: Context) -> None:
        """Changes the occurrence makes before its mail is written (a breach reassignment)."""

    def recipients(self, ctx: Context) -> list[Recipient]:
        raise NotImplementedError

    def values(self, ctx: Context) -> dict[str, str]:
        raise NotImplementedError

    def render(self, ctx: Context, values: dict[str, str]) -> Rendered:
        raise NotImplementedError

    def sender(self, ctx: Context) -> tuple[str | None, str | None]:
        """``(from name, reply-to)``; None for the organisation's default sender."""
        return None, None


def ticket_values(ctx: Context) -> dict[str, str]:
    """The merge values every ticket notice starts from."""
    ticket = ctx.ticket
    band = BAND_LABELS.get(ticket.band, ticket.band)
    return {
        "ticket.why": opened_because(ticket.trigger, ticket.score, ticket.band, ticket.trigger_question),
        "ticket.why_safe": phi_safe.opened_because(ticket.trigger, band),
        "organisation": ctx.organisation.name, "contact.first_name": first_name(ticket.contact_name),
        "contact.name": ticket.contact_name, "contact.account": ticket.account_name or "",
        "contact.email": ticket.contact_email, "contact.phone": ticket.contact_phone or "",
        "contact.external_id": ticket.contact_external_id or "", "ticket.reference": reference(ticket.number),
        "ticket.score": str(ticket.score), "ticket.band": band,
        "ticket.comment": ticket.comment or "(none)", "ticket.link": ctx.link(),
        "agent.name": ctx.assignee_name or "nobody",
    }


def member_values(member) -> dict[str, str]:
    """The ``agent.*`` values of the member an email is from (see :func:`app.emailtemplates.agent_values`)."""
    return emailtemplates.agent_values(emailtemplates.Person(member.name, member.title, member.email, member.phone),
                                       member.signature)


def account_values(ctx: Context) -> dict[str, str]:
    """The ``account.*`` values of the ticket's account, loaded once for the whole batch."""
    return ctx.batch.account_values.get(ctx.ticket.account_id) or emailtemplates.NO_ACCOUNT


def render_file(name: str, values: dict[str, str], **extra) -> tuple[str, str]:
    """The text and HTML bodies of ``email/<name>``, with the merge values as ``{{ ticket.reference }}`` etc.

    Rendered without the request globals web pages need, so a batch of thousands stays cheap; a field the
    PHI-safe rules took out is simply undefined (and empty).
    """
    app = current_app._get_current_object()
    env = app.extensions.get("notification_templates")
    if env is None:
        env = app.extensions["notification_templates"] = Environment(
            loader=app.jinja_loader, autoescape=select_autoescape(["html"], default_for_string=False),
            undefined=ChainableUndefined, auto_reload=False)
    context: dict = dict(extra)
    for field, value in values.items():
        namespace, _, leaf = field.partition(".")
        if leaf:
            context.setdefault(namespace, {})[leaf] = value
        else:
            context[namespace] = value
    return (env.get_template(f"email/{name}.txt").render(context),
            env.get_template(f"email/{name}.html").render(context))


def _edited(ctx: Context, key: str, values: dict[str, str]) -> Rendered:
    """Template ``key`` in the organisation's own wording (or the default)."""
    subject, body = ctx.organisation.wording(key)
    return emailtemplates.render(key, values, subject=subject, body=body)


class TicketOpened(Event):
    name, label, kind = "ticket_opened", "Ticket opened", "detractor_alert"
    template, uses_lists = "manager_alert", True

    def key(self, *, ticket_id=None, **_) -> str:
        return f"ticket:{ticket_id}:opened"

    def owed(self, ctx: Context) -> bool:
        return ctx.ticket is not None

    def recipients(self, ctx: Context) -> list[Recipient]:
        return ctx.organisation.recipients("ticket_opened")

    def values(self, ctx: Context) -> dict[str, str]:
        return ticket_values(ctx) | {
            "ticket.comment": ctx.ticket.comment or "(none yet)",
            "ticket.due": ctx.organisation.due(ctx.ticket.first_contact_due_at),
            "agent.name": ctx.assignee_name or "nobody yet",
        }

    def render(self, ctx: Context, values: dict[str, str]) -> Rendered:
        if ctx.organisation.phi_safe:  # the editable alert may name the contact: a fixed one instead
            return emailtemplates.render(phi_safe_spec(PHI_SAFE_OPENED, values), values)
        return _edited(ctx, "manager_alert", values)


class DetractorIntro(Event):
    """The introduction the assignee sends the contact when a ticket opens; replies go to the assignee."""

    name, label, template, to_contact = "detractor_intro", "Detractor introduction", "detractor_intro", True
    uses_account = True

    def key(self, *, ticket_id=None, **_) -> str:
        return f"ticket:{ticket_id}:intro"

    def owed(self, ctx: Context) -> bool:
        return ctx.ticket is not None and ctx.assignee is not None

    def recipients(self, ctx: Context) -> list[Recipient]:
        return [(ctx.ticket.contact_email, ctx.ticket.contact_name)]

    def values(self, ctx: Context) -> dict[str, str]:
        return ticket_values(ctx) | member_values(ctx.assignee) | account_values(ctx)

    def render(self, ctx: Context, values: dict[str, str]) -> Rendered:
        return _edited(ctx, "detractor_intro", values)

    def sender(self, ctx: Context) -> tuple[str | None, str | None]:
        return ctx.assignee.name, ctx.assignee.email


class SlaNotice(Event):
    """At risk (75% of the window gone) or breached, for the first-contact or the resolution clock.

    A breach hands the ticket to the member the organisation names for breaches, if any: the new assignee,
    the previous one and the lists that follow reassignments hear of it in the same email.
    """

    uses_lists = True

    def __init__(self, clock: str, stage: str, label: str):
        self.clock, self.stage, self.label = clock, stage, label
        self.name = f"{clock}_{stage}"
        self.list_event = "sla_breached" if stage == "breached" else "sla_at_risk"

    def key(self, *, ticket_id=None, **_) -> str:
        from app.workflow.ticket_sla import notice_key

        return notice_key(ticket_id, self.name)

    def owed(self, ctx: Context) -> bool:
        ticket = ctx.open_ticket
        if ticket is None:
            return False
        if self.clock == "first_contact":
            return ticket.first_contact_at is None
        return ticket.paused_at is None

    def prepare(self, ctx: Context) -> None:
        if self.stage != "breached":
            return
        target = ctx.organisation.members.get(ctx.organisation.breach_reassign_to_id)
        assignee = ctx.assignee
        if target is not None and target.role in WORKING_ROLES and (assignee is None
                                                                    or target.user_id != assignee.user_id):
            ctx.reassign(target, reason=self.label)

    def recipients(self, ctx: Context) -> list[Recipient]:
        found = [m.recipient for m in (ctx.assignee, ctx.reassigned_from) if m is not None]
        found += ctx.organisation.recipients(self.list_event)
        if ctx.reassigned_to is not None:
            found += ctx.organisation.recipients("ticket_reassigned")
        return found

    def _due(self, ctx: Context):
        ticket = ctx.ticket
        return ticket.first_contact_due_at if self.clock == "first_contact" else ticket.resolution_due_at

    def values(self, ctx: Context) -> dict[str, str]:
        from app.workflow.ticket_sla import span

        due, now, ticket, organisation = self._due(ctx), ctx.now, ctx.ticket, ctx.organisation
        values = ticket_values(ctx) | {
            "ticket.due": organisation.due(due),
            "ticket.due_label": "First contact due" if self.clock == "first_contact" else "Resolution due",
            "sla.when": f"in {span(due - now)}" if due > now else f"{span(now - due)} ago",
            "sla.breached_at": organisation.due(ticket.first_contact_breach_at or due),
        }
        if ctx.reassigned_to is not None:
            values["reassigned.previous"] = ctx.reassigned_from.name if ctx.reassigned_from else "nobody"
            values["reassigned.assignee"] = ctx.reassigned_to.name
        return values

    def render(self, ctx: Context, values: dict[str, str]) -> Rendered:
        ref, due, when = values["ticket.reference"], values["ticket.due"], values["sla.when"]
        # Only what meets the first contact is missing: with a call required, an email may have gone already.
        reached = "called" if ctx.organisation.first_contact_stopped_by == "call" else "called or emailed"
        subject, headline = {
            "first_contact_at_risk": (
                f"First contact at risk: {ref} due {due}",
                f"Nobody has {reached} the customer on {ref} yet. First contact is due {due} ({when})."),
            "first_contact_breached": (
                f"First contact SLA breached: {ref}",
                f"Nobody has {reached} the customer on {ref}, and the first-contact SLA was breached at "
                f"{values['sla.breached_at']}."),
            "resolution_at_risk": (
                f"Resolution at risk: {ref} due {due}",
                f"{ref} is still open and is due to be resolved by {due} ({when})."),
            "resolution_breached": (
                f"Resolution SLA breached: {ref}",
                f"{ref} was due to be resolved by {due} and is still open."),
        }[self.name]
        text, html = render_file("sla_notice", values, subject=subject, headline=headline,
                                 phi_safe=ctx.organisation.phi_safe)
        return Rendered(subject, text, html)


class TaskReminder(Event):
    """A task's reminder, to its owner (or, for an unowned task, the ticket's assignee)."""

    name, label, template = "task_reminder", "Task reminder", "reminder"

    def key(self, *, task_id=None, **_) -> str:
        from app.workflow.todos import reminder_key

        return reminder_key(task_id)

    def owed(self, ctx: Context) -> bool:
        task = ctx.task
        if task is None or task.done_at is not None:
            return False
        if task.ticket_id and ctx.open_ticket is None:
            return False
        return self._owner(ctx) is not None

    def _owner(self, ctx: Context):
        owner = ctx.organisation.members.get(ctx.task.owner_id)
        return owner if owner is not None or ctx.ticket is None else ctx.assignee

    def prepare(self, ctx: Context) -> None:
        ctx.reminded = True

    def recipients(self, ctx: Context) -> list[Recipient]:
        return [self._owner(ctx).recipient]

    def values(self, ctx: Context) -> dict[str, str]:
        ticket = ctx.ticket
        return {
            "organisation": ctx.organisation.name, "recipient.first_name": self._owner(ctx).first_name,
            "task.title": ctx.task.title, "task.due": ctx.organisation.due(ctx.task.due_at),
            "ticket.reference": reference(ticket.number) if ticket else "", "ticket.link": ctx.link(),
        }

    def render(self, ctx: Context, values: dict[str, str]) -> Rendered:
        return _edited(ctx, "reminder", values)


class ItemOverdue(Event):
    """An action-plan item past its due date, to its owner or, for a team's item, the ticket's assignee."""

    name, label = "item_overdue", "Action-plan item overdue"

    def key(self, *, item_id=None, **_) -> str:
        from app.workflow.todos import overdue_key

        return overdue_key(item_id)

    def owed(self, ctx: Context) -> bool:
        item = ctx.item
        return (item is not None and item.done_at is None and ctx.open_ticket is not None
                and self._recipient(ctx) is not None)

    def _owner(self, ctx: Context):
        return ctx.organisation.members.get(ctx.item.owner_id)

    def _recipient(self, ctx: Context):
        return self._owner(ctx) or ctx.assignee

    def recipients(self, ctx: Context) -> list[Recipient]:
        return [self._recipient(ctx).recipient]

    def values(self, ctx: Context) -> dict[str, str]:
        item, owner = ctx.item, self._owner(ctx)
        return ticket_values(ctx) | {
            "item.title": item.title, "item.owner": owner.name if owner else (item.owner_team or "nobody"),
            "item.team_owned": "yes" if owner is None and item.owner_team else "",
            "item.due": _day(item.due_date) if item.due_date else ctx.organisation.due(ctx.occurrence.due_at),
        }

    def render(self, ctx: Context, values: dict[str, str]) -> Rendered:
        subject = f"Action-plan item overdue: {values['item.title']} ({values['ticket.reference']})"
        text, html = render_file("item_overdue", values, subject=subject, phi_safe=ctx.organisation.phi_safe)
        return Rendered(subject, text, html)


class ListAlert(Event):
    """A ticket changed hands or closed: the lists that hear about it are told, with who did it."""

    uses_lists = True

    def __init__(self, name: str, label: str):
        self.name, self.label = name, label

    def key(self, *, ticket_id=None, activity_id=None, **_) -> str:
        return f"ticket:{ticket_id}:{self.name.removeprefix('ticket_')}:{activity_id}"

    def owed(self, ctx: Context) -> bool:
        return ctx.ticket is not None

    def recipients(self, ctx: Context) -> list[Recipient]:
        return ctx.organisation.recipients(self.name)

    def values(self, ctx: Context) -> dict[str, str]:
        ticket, occurrence = ctx.ticket, ctx.occurrence
        # Until the first contact, that is what is due next; after it (and for a closed ticket), the resolution.
        contacted = self.name == "ticket_closed" or ticket.first_contact_at is not None
        due = ticket.resolution_due_at if contacted else ticket.first_contact_due_at
        return ticket_values(ctx) | {
            "ticket.due": ctx.organisation.due(due) or "not set",
            "ticket.previous_assignee": occurrence.previous_assignee or "nobody",
            "ticket.outcome": OUTCOMES.get(ticket.outcome or "", ""),
            "ticket.closing_note": ticket.closing_note or "", "actor.name": occurrence.actor or "Turnaround",
        }

    def render(self, ctx: Context, values: dict[str, str]) -> Rendered:
        full, safe = LIST_ALERTS[self.name]
        return emailtemplates.render(phi_safe_spec(safe, values) if ctx.organisation.phi_safe else full, values)


class EveryoneAtCapacity(Event):
    """A ticket opened while every working member was at capacity or away, so routing gave it to the routing
    team's manager (or the least-loaded manager or admin): the managers and admins, and that assignee, are told.
    It names the ticket and who has it, never the contact.

    Once an hour at most while it lasts (the key names the hour, UTC): a burst of answers would otherwise
    send one notice per ticket to the same people. The first ticket of the hour is the one named; the
    workload page shows the rest."""

    name, label = "everyone_at_capacity", "Everyone at capacity"

    def key(self, **_) -> str:
        return f"organisation:everyone_at_capacity:{utcnow():%Y-%m-%dT%H}"

    def owed(self, ctx: Context) -> bool:
        return ctx.ticket is not None

    def recipients(self, ctx: Context) -> list[Recipient]:
        managers = sorted((m for m in ctx.organisation.members.values() if m.role in MANAGING_ROLES),
                          key=lambda m: (m.name, m.user_id))
        return [m.recipient for m in managers] + ([ctx.assignee.recipient] if ctx.assignee else [])

    def values(self, ctx: Context) -> dict[str, str]:
        ticket = ctx.ticket
        return {
            "organisation": ctx.organisation.name, "ticket.reference": reference(ticket.number),
            "ticket.band": BAND_LABELS.get(ticket.band, ticket.band), "ticket.link": ctx.link(),
            "agent.name": ctx.assignee_name or "nobody", "workload.link": ctx.page("teams.workload"),
        }

    def render(self, ctx: Context, values: dict[str, str]) -> Rendered:
        subject = f"Everyone is at capacity: {values['ticket.reference']} went to {values['agent.name']}"
        headline = (f"Nobody at {values['organisation']} had room for a new ticket, so {values['ticket.reference']} "
                    f"was assigned to {values['agent.name']}.")
        text, html = render_file("everyone_at_capacity", values, subject=subject, headline=headline)
        return Rendered(subject, text, html)


class WorkloadBacklog(Event):
    """Open tickets per working member are above the organisation's threshold: the admins are asked to add a
    team member, once a day (the sweep names the organisation's local day in the key) while it lasts."""

    name, label, uses_workload = "workload_backlog", "Backlog: add a team member", True

    def key(self, *, day: date | None = None, **_) -> str:
        return f"organisation:backlog:{day.isoformat() if day else 'now'}"

    def owed(self, ctx: Context) -> bool:
        return True

    def recipients(self, ctx: Context) -> list[Recipient]:
        admins = sorted((m for m in ctx.organisation.members.values() if m.role == Role.ADMIN),
                        key=lambda m: (m.name, m.user_id))
        return [m.recipient for m in admins]

    def values(self, ctx: Context) -> dict[str, str]:
        organisation = ctx.organisation
        members = sum(1 for m in organisation.members.values() if m.role in WORKING_ROLES)
        return {
            "organisation": organisation.name, "backlog.open": str(organisation.open_tickets),
            "backlog.members": str(members),
            "backlog.per_member": per_member(organisation.open_tickets, members),
            "backlog.threshold": str(organisation.backlog_threshold), "workload.link": ctx.page("teams.workload"),
        }

    def render(self, ctx: Context, values: dict[str, str]) -> Rendered:
        subject = f"Add a team member: {values['backlog.per_member']} open tickets per person at {values['organisation']}"
        headline = (f"{values['organisation']} has {values['backlog.per_member']} open tickets per working member, "
                    f"above your threshold of {values['backlog.threshold']}.")
        text, html = render_file("workload_backlog", values, subject=subject, headline=headline)
        return Rendered(subject, text, html)


def per_member(open_tickets: int, members: int) -> str:
    """Open tickets per working member as people read it ("112.5", "40"); all of them when nobody works."""
    ratio = open_tickets / members if members else float(open_tickets)
    return f"{ratio:.1f}".removesuffix(".0")


class WeeklyDigest(Event):
    """Monday's digest of last week's feedback, to the lists that chose it. Its figures come with the
    occurrence (:mod:`app.feedback.digest` computes them from :mod:`app.reports.metrics`); for a PHI-safe
    organisation only the counts and ticket references pass (:mod:`app.notifications.phi_safe`)."""

    name, label = "weekly_digest", "Weekly digest"
    uses_lists = True

    def key(self, **_) -> str:
        return "digest"

    def owed(self, ctx: Context) -> bool:
        return True

    def recipients(self, ctx: Context) -> list[Recipient]:
        return ctx.organisation.recipients(self.name)

    def values(self, ctx: Context) -> dict[str, str]:
        return {"organisation": ctx.organisation.name, **(ctx.occurrence.values or {})}

    def render(self, ctx: Context, values: dict[str, str]) -> Rendered:
        subject = f"Weekly feedback digest for {values['organisation']}: {values.get('digest.period', '')}"
        text, html = render_file("weekly_digest", values, subject=subject, phi_safe=ctx.organisation.phi_safe)
        return Rendered(subject, text, html)


def _day(value: date) -> str:
    return value.strftime("%a %d %b %Y")


EVENTS: dict[str, Event] = {event.name: event for event in (
    TicketOpened(),
    DetractorIntro(),
    SlaNotice("first_contact", "at_risk", "First contact SLA at risk"),
    SlaNotice("first_contact", "breached", "First contact SLA breached"),
    SlaNotice("resolution", "at_risk", "Resolution SLA at risk"),
    SlaNotice("resolution", "breached", "Resolution SLA breached"),
    ListAlert("ticket_reassigned", "Ticket reassigned"),
    ListAlert("ticket_closed", "Ticket closed"),
    TaskReminder(),
    ItemOverdue(),
    EveryoneAtCapacity(),
    WorkloadBacklog(),
    WeeklyDigest(),
)}
SLA_KINDS = tuple(name for name, event in EVENTS.items() if isinstance(event, SlaNotice))
