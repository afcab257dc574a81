"""Everything that changes a detractor ticket. Each verb writes its timeline entry."""
from __future__ import annotations

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import joinedload, selectinload

from app import emailtemplates
from app.accounts.models import Membership, Tenant, User
from app.extensions import db
from app.mail import queue_email
from app.notify import recipients
from app.settings.services import get_settings, sla_calendar
from app.surveys.models import Response
from app.tenancy import WORKING_ROLES, current_tenant_id
from app.tickets.models import CALL_OUTCOMES, EMAIL_DIRECTIONS, OUTCOMES, STATUSES, Activity, Ticket
from app.timeutil import localize, utcnow
from app.urls import absolute_url


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
    """Round-robin: the active agent assigned longest ago; admins when there are no agents."""
    for role in ("agent", "admin"):
        membership = db.session.execute(
            select(Membership)
            .where(Membership.role == role, Membership.is_active.is_(True))
            .order_by(Membership.last_assigned_at.asc().nulls_first(), Membership.id)
            .limit(1)
            .with_for_update()
        ).scalar_one_or_none()
        if membership is not None:
            membership.last_assigned_at = utcnow()
            return membership.user
    return None


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
    """Open the detractor ticket for ``response``: assign it, give it its SLA due times, and queue the
    alerts to the notification lists and the introduction email from the assignee."""
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
    alert = emailtemplates.render(
        emailtemplates.PHI_SAFE_ALERT if settings.phi_safe_alerts else "manager_alert", values
    )
    for address, name in recipients("ticket_opened"):
        queue_email(kind="detractor_alert", to_address=address, to_name=name, subject=alert.subject,
                    text_body=alert.text, html_body=alert.html, ticket_id=ticket.id,
                    dedupe_key=f"ticket:{ticket.id}:opened:{address.lower()}")
    if assignee is not None:
        values.update({"agent.name": assignee.name, "agent.first_name": assignee.first_name,
                       "agent.email": assignee.email, "agent.phone": assignee.phone or ""})
        intro = emailtemplates.render("detractor_intro", values)
        queue_email(kind="detractor_intro", to_address=contact.email, to_name=contact.name, subject=intro.subject,
                    text_body=intro.text, html_body=intro.html, from_name=assignee.name,
                    reply_to=assignee.email, ticket_id=ticket.id)
        _record(ticket, "email", None, direction="outbound", subject="Automatic introduction email",
                automatic=True, agent=assignee.name)
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
    if ticket.first_contact_at is None:
        ticket.first_contact_at = utcnow()
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
    return activity


def log_email(ticket: Ticket, actor: User, *, direction: str, subject: str, summary: str | None) -> Activity:
    _ensure_open(ticket)
    if direction not in EMAIL_DIRECTIONS:
        raise TicketRuleError("Choose whether the email was sent or received.")
    activity = _record(ticket, "email", actor, summary or None, direction=direction, subject=subject)
    _mark_contacted(ticket)
    return activity


def add_note(ticket: Ticket, actor: User, body: str) -> Activity:
    return _record(ticket, "note", actor, body)


def reassign(ticket: Ticket, actor: User, assignee: User) -> None:
    _ensure_open(ticket)
    if ticket.assignee_id == assignee.id:
        return
    previous = ticket.assignee.name if ticket.assignee else None
    ticket.assignee_id = assignee.id
    ticket.assignee = assignee
    _record(ticket, "reassigned", actor, previous=previous, assignee=assignee.name)


def move_status(ticket: Ticket, actor: User, status: str) -> None:
    """Move an open ticket between the working columns; closing goes through :func:`close_ticket`."""
    if status not in STATUSES or status == "closed":
        raise TicketRuleError("Choose New, Contacted or Action plan. To close, use Close ticket.")
    if ticket.status == status:
        return
    if ticket.status == "closed":
        _record(ticket, "reopened", actor, previous_outcome=ticket.outcome)
        ticket.closed_at = ticket.outcome = ticket.closing_note = None
    _record(ticket, "status", actor, previous=ticket.status, status=status)
    ticket.status = status


def close_ticket(ticket: Ticket, actor: User, *, outcome: str, note: str) -> None:
    _ensure_open(ticket)
    if outcome not in OUTCOMES:
        raise TicketRuleError("Choose an outcome.")
    if not (note or "").strip():
        raise TicketRuleError("Write a closing note.")
    previous = ticket.status
    ticket.status, ticket.outcome, ticket.closing_note, ticket.closed_at = "closed", outcome, note.strip(), utcnow()
    _record(ticket, "closed", actor, note.strip(), outcome=outcome, previous=previous)


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


BOARD_COLUMN_LIMIT = 50


def board_counts(assignee_id: int | None = None) -> dict[str, int]:
    """How many tickets are in each status (of one assignee when given), in one grouped query."""
    statement = select(Ticket.status, func.count(Ticket.id)).group_by(Ticket.status)
    if assignee_id is not None:
        statement = statement.where(Ticket.assignee_id == assignee_id)
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: count for status, count in db.session.execute(statement).all()})
    return counts


def board_tickets(assignee_id: int | None = None, limit: int = BOARD_COLUMN_LIMIT) -> dict[str, list[Ticket]]:
    """At most ``limit`` cards per status, with contact, response and assignee, in one query.

    Working columns list the oldest tickets first (they have waited longest); the closed
    column lists the most recently closed. A ``row_number()`` window picks the rows per
    column, so the number of queries does not grow with the number of tickets.
    """
    closed_first = case((Ticket.status == "closed", Ticket.closed_at), else_=None)
    position = func.row_number().over(
        partition_by=Ticket.status, order_by=(closed_first.desc(), Ticket.opened_at.asc(), Ticket.id.asc())
    ).label("position")
    ranked = select(Ticket.id.label("ticket_id"), position).where(Ticket.tenant_id == current_tenant_id())
    if assignee_id is not None:
        ranked = ranked.where(Ticket.assignee_id == assignee_id)
    ranked = ranked.subquery("ranked")
    rows = db.session.execute(
        select(Ticket)
        .join(ranked, ranked.c.ticket_id == Ticket.id)
        .where(ranked.c.position <= limit)
        .order_by(Ticket.status, ranked.c.position)
        .options(joinedload(Ticket.contact), joinedload(Ticket.response), joinedload(Ticket.assignee))
    ).scalars().all()
    columns: dict[str, list[Ticket]] = {status: [] for status in STATUSES}
    for ticket in rows:
        columns.setdefault(ticket.status, []).append(ticket)
    return columns


def assignable_members() -> list[User]:
    """Active admins, managers and agents of the current tenant, by name: who a ticket can be given to."""
    return _members_with_roles(WORKING_ROLES)
