"""``/api/v1/tickets``: the detractor tickets, their timelines, and the same changes the ticket page makes,
through the same services (locks, rules, timeline entries, notifications)."""
from __future__ import annotations

from flask import request
from sqlalchemy import select

from app.api import schemas
from app.api.core import ApiError, actor, audit_change, bp, get_or_404, iso, page, responses, spec, writes
from app.extensions import db
from app.tickets import services
from app.tickets.models import Activity, Status, Ticket


def serialise(ticket: Ticket) -> dict:
    return {"id": ticket.id, "reference": ticket.reference, "status": ticket.status, "trigger": ticket.trigger,
            "assignee_id": ticket.assignee_id, "contact_id": ticket.contact_id, "account_id": ticket.account_id,
            "response_id": ticket.response_id, "opened_at": iso(ticket.opened_at),
            "first_contact_due_at": iso(ticket.first_contact_due_at), "first_contact_at": iso(ticket.first_contact_at),
            "resolution_due_at": iso(ticket.resolution_due_at), "closed_at": iso(ticket.closed_at),
            "outcome": ticket.outcome, "closing_note": ticket.closing_note, "updated_at": iso(ticket.updated_at)}


def serialise_activity(activity: Activity) -> dict:
    return {"id": activity.id, "kind": activity.kind, "body": activity.body, "details": activity.details or {},
            "actor_id": activity.actor_id, "created_at": iso(activity.created_at)}


def _detail(ticket_id: int) -> dict:
    ticket = services.load_ticket_page(ticket_id)
    if ticket is None:
        raise ApiError(404)
    return {**serialise(ticket), "timeline": [serialise_activity(entry) for entry in ticket.activities]}


@bp.get("/tickets")
@spec.validate(query=schemas.TicketQuery, resp=responses(schemas.TicketList), tags=["Tickets"])
def list_tickets():
    """List tickets, oldest first, filtered by status, assignee, account, contact or last change."""
    query = request.context.query
    statement = select(Ticket)
    if query.status is not None:
        statement = statement.where(Ticket.status == query.status)
    if query.assignee_id is not None:
        statement = statement.where(Ticket.assignee_id == query.assignee_id)
    if query.account_id is not None:
        statement = statement.where(Ticket.account_id == query.account_id)
    if query.contact_id is not None:
        statement = statement.where(Ticket.contact_id == query.contact_id)
    if query.updated_since is not None:
        statement = statement.where(Ticket.updated_at >= query.updated_since)
    return page(statement, [Ticket.id], serialise, query)


@bp.get("/tickets/<int:ticket_id>")
@spec.validate(resp=responses(schemas.TicketDetail, reads_id=True), tags=["Tickets"])
def get_ticket(ticket_id: int):
    """Read a ticket with its timeline, newest entry first."""
    get_or_404(Ticket, ticket_id)
    return _detail(ticket_id), 200


@bp.patch("/tickets/<int:ticket_id>")
@spec.validate(json=schemas.TicketUpdate, resp=responses(schemas.TicketDetail, reads_id=True, write=True),
               tags=["Tickets"])
@writes
def update_ticket(ticket_id: int):
    """Reassign, move or close a ticket, with the ticket page's rules. Closing needs outcome, closing_note and
    root_cause_ids (and override_reason to close as resolved with open action-plan items)."""
    ticket = get_or_404(Ticket, ticket_id)
    body, user = request.context.json, actor()
    changes = {}
    if body.assignee_id is not None:
        members = {member.id: member for member in services.assignable_members()}
        if body.assignee_id not in members:
            raise ApiError(422, "unknown_member", "No active admin, manager or agent has this user id.",
                           "assignee_id")
        before = ticket.assignee_id
        if services.reassign(ticket, user, members[body.assignee_id]):
            changes["assignee_id"] = [before, body.assignee_id]
    if body.status is not None:
        before = ticket.status
        if body.status == Status.CLOSED:
            services.close_ticket(ticket, user, outcome=body.outcome or "", note=body.closing_note or "",
                                  root_cause_ids=body.root_cause_ids or (), override_reason=body.override_reason)
            changes["status"] = [before, Status.CLOSED]
        elif services.move_status(ticket, user, body.status):
            changes["status"] = [before, body.status]
    audit_change(f"Ticket {ticket.reference} changed", changes)
    db.session.flush()
    return _detail(ticket.id), 200


@bp.post("/tickets/<int:ticket_id>/activities")
@spec.validate(json=schemas.ActivityCreate, resp=responses(schemas.Activity, 201, reads_id=True, write=True),
               tags=["Tickets"])
@writes
def add_activity(ticket_id: int):
    """Log a note, a call or an email on the timeline, as the ticket page does (a call or email may count as
    first contact and move a new ticket to contacted)."""
    ticket = get_or_404(Ticket, ticket_id)
    body, user = request.context.json, actor()
    text = (body.body or "").strip() or None
    if body.kind == "note":
        if text is None:
            raise ApiError(422, "invalid", "Write the note.", "body")
        activity = services.add_note(ticket, user, text)
    elif body.kind == "call":
        if body.outcome is None:
            raise ApiError(422, "invalid", "Say how the call went.", "outcome")
        called = (body.called or "").strip() or ticket.contact.name
        activity = services.log_call(ticket, user, called=called, outcome=body.outcome, notes=text)
    else:
        if body.direction is None:
            raise ApiError(422, "invalid", "Say whether the email was sent or received.", "direction")
        if not (body.subject or "").strip():
            raise ApiError(422, "invalid", "Give the email's subject.", "subject")
        activity = services.log_email(ticket, user, direction=body.direction, subject=body.subject.strip(),
                                      summary=text)
    db.session.flush()
    audit_change(f"{body.kind.capitalize()} logged on ticket {ticket.reference}")
    return serialise_activity(activity), 201
