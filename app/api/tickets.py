"""``/api/v1/tickets``: the detractor tickets, their timelines, and the same changes the ticket page makes,
through the same services (locks, rules, timeline entries, notifications)."""
from __future__ import annotations

from datetime import date, datetime

from flask import g, request
from werkzeug.datastructures import MultiDict

from app.api import schemas
from app.api.core import (ApiError, actor, audit_change, bp, check_cursor, get_or_404, iso, paged, responses, spec,
                          writes)
from app.extensions import db
from app.tickets import listing, services
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


def list_filter(query: schemas.TicketQuery) -> listing.ListFilter:
    """The ticket list's filter for the API's query: the same arguments, parsed by the list's own parser
    (the query model has already refused what the list would quietly ignore)."""
    if query.assignee is not None and query.assignee_id is not None and str(query.assignee) != str(query.assignee_id):
        raise ApiError(422, "invalid", "Give assignee or assignee_id, not both.", "assignee_id")
    args = {name: value for name in LIST_ARGUMENTS if (value := getattr(query, name)) is not None}
    if query.assignee_id is not None:
        args["assignee"] = query.assignee_id
    if query.sort is None:
        args.setdefault("sort", "opened")
        args.setdefault("dir", "asc")
    chosen = listing.parse_filter(MultiDict({name: _argument(value) for name, value in args.items()}))
    if chosen.errors:
        field, message = next(iter(chosen.errors.items()))
        raise ApiError(422, "invalid", message, field)
    return chosen


LIST_ARGUMENTS = ("status", "sla", "assignee", "team", "band", "trigger", "cause", "account", "account_id",
                  "contact_id", "opened_from", "opened_to", "updated_since", "q", "sort", "dir")


def _argument(value) -> str:
    return value.isoformat() if isinstance(value, (date, datetime)) else str(value)


@bp.get("/tickets")
@spec.validate(query=schemas.TicketQuery, resp=responses(schemas.TicketList), tags=["Tickets"])
def list_tickets():
    """List tickets with the ticket list's filters and orders (the list page's query-string arguments work
    here as they are); by default every ticket, oldest first. An unknown value is a 422 naming it."""
    query = request.context.query
    chosen = list_filter(query)
    check_cursor(query.cursor, len(listing.sort_keys(chosen.sort)))
    result = listing.ticket_page(chosen, g.api_token.created_by_id, g.tenant.timezone, after=query.cursor,
                                 limit=query.limit)
    return paged(result, serialise)


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
