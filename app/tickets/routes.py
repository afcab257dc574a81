"""The ticket board, the ticket page and the actions that work a ticket.

Every action is a POST that works as a plain form (303 back to the ticket page with a flash)
and through htmx (the ticket region is re-rendered in place). A form that does not validate
comes back with status 422: the whole page for a plain post, only that form for htmx.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from app.extensions import db
from app.tenancy import WORKING_ROLES, current_membership, current_tenant_id, get_or_404, require_role
from app.tickets import board as ticket_board
from app.tickets import services
from app.tickets.forms import CallForm, CloseForm, EmailForm, NoteForm, ReassignForm, StatusForm
from app.tickets.models import CALL_OUTCOMES, EMAIL_DIRECTIONS, OUTCOMES, STATUSES, Ticket
from app.tickets.services import TicketRuleError
from app.views import render_page
from app.workflow.ticket_sla import sla_state

bp = Blueprint("tickets", __name__, url_prefix="/t/<tenant_slug>")

# The action forms on a ticket page, by the name of their template in tickets/forms/.
ACTION_FORMS = {
    "call": CallForm, "email": EmailForm, "note": NoteForm,
    "reassign": ReassignForm, "status": StatusForm, "close": CloseForm,
}
LABELS = {"STATUSES": STATUSES, "OUTCOMES": OUTCOMES, "CALL_OUTCOMES": CALL_OUTCOMES,
          "EMAIL_DIRECTIONS": EMAIL_DIRECTIONS}


# ``sla_state(ticket)`` for the SLA line on board cards and the ticket header, wherever they are rendered.
bp.add_app_template_global(sla_state, "sla_state")


# --- Board -----------------------------------------------------------------------------------------

def _board_filter() -> tuple[str, object, ticket_board.BoardFilter]:
    """The board's Mine / All, root cause and order from the query string (anything unknown: the default)."""
    who = "mine" if request.args.get("who") == "mine" else "all"
    cause = ticket_board.root_cause_or_none(request.args.get("cause"))
    sort = "due" if request.args.get("sort") == "due" else "oldest"
    return who, cause, ticket_board.BoardFilter(assignee_id=current_user.id if who == "mine" else None,
                                         cause_id=cause.id if cause else None, sort=sort)


@bp.get("/")
def board():
    who, cause, chosen = _board_filter()
    counts = ticket_board.column_counts(chosen)
    return render_page(
        "tickets/board.html", "tickets/_board.html",
        who=who, counts=counts, columns=ticket_board.columns(chosen), total=sum(counts.values()), cause=cause,
        sort=chosen.sort, count_label=ticket_board.count_label, can_work=current_membership.role in WORKING_ROLES, **LABELS,
    )


@bp.get("/columns/<status>")
def board_column(status: str):
    """More cards of one column, after the cursor in ``?after=``: for htmx the cards to append and the next
    "more" link, else a page of that column."""
    if status not in STATUSES:
        abort(404)
    who, cause, chosen = _board_filter()
    column = ticket_board.column(status, chosen, after=request.args.get("after"))
    return render_page(
        "tickets/column.html", "tickets/_column_more.html",
        who=who, cause=cause, sort=chosen.sort, column_status=status, column=column, **LABELS,
    )


# --- Ticket page -----------------------------------------------------------------------------------

def _load(ticket_id: int) -> Ticket:
    """The ticket with everything its page shows; missing and other tenants' tickets are the same 404."""
    ticket = services.load_ticket_page(ticket_id)
    if ticket is None or ticket.tenant_id != current_tenant_id():
        abort(404)
    return ticket


def _form(action: str, **values) -> FlaskForm:
    """One action form. Each has its own prefix, so ids and names never clash on the ticket page."""
    return ACTION_FORMS[action](prefix=action, **values)


def _blank_forms(ticket: Ticket) -> dict[str, FlaskForm]:
    """Fresh action forms, filled with the ticket's current values where that helps."""
    return {
        "call": _form("call", formdata=None, called=ticket.contact.name),
        "email": _form("email", formdata=None),
        "note": _form("note", formdata=None),
        "reassign": _form("reassign", formdata=None, assignee_id=ticket.assignee_id),
        "status": _form("status", formdata=None,
                        status=ticket.status if ticket.status != "closed" else "action_plan"),
        "close": _form("close", formdata=None),
    }


def _ticket_context(ticket: Ticket, forms: dict[str, FlaskForm] | None = None,
                    rule_error: dict[str, str] | None = None) -> dict:
    """What the ticket page needs. A closed ticket offers only a note and a move (which reopens it)."""
    can_work = current_membership.role in WORKING_ROLES
    actions = list(ACTION_FORMS) if ticket.status != "closed" else ["note", "status"]
    context = {"ticket": ticket, "can_work": can_work, "forms": {}, "actions": [], "rule_error": rule_error or {},
               **LABELS}
    if can_work:
        context["forms"] = {**_blank_forms(ticket), **(forms or {})}
        context["forms"]["reassign"].set_members(services.assignable_members(), ticket.assignee_id)
        # A form that came back with errors is shown even where the ticket's state would hide it.
        context["actions"] = [a for a in ACTION_FORMS if a in actions or a in (forms or {})]
    return context


@bp.get("/tickets/<int:ticket_id>")
def show(ticket_id: int):
    ticket = _load(ticket_id)
    return render_page("tickets/show.html", "tickets/_ticket.html", **_ticket_context(ticket))


# --- Actions ---------------------------------------------------------------------------------------

def _done(ticket_id: int, message: str, category: str = "success"):
    """After a change: the re-rendered ticket region for htmx, else a redirect to the ticket page."""
    db.session.commit()
    flash(message, category)
    if request.htmx and not request.htmx.boosted:
        ticket = _load(ticket_id)
        return render_page("tickets/show.html", "tickets/_ticket.html", **_ticket_context(ticket))
    return redirect(url_for("tickets.show", ticket_id=ticket_id), 303)


def _invalid(ticket_id: int, action: str, form: FlaskForm, rule_error: str | None = None):
    """The form again with its errors next to the fields (422): only that form for htmx."""
    db.session.rollback()
    ticket = _load(ticket_id)
    context = _ticket_context(ticket, {action: form}, {action: rule_error} if rule_error else None)
    html, status, headers = render_page(
        "tickets/show.html", f"tickets/forms/_{action}.html", status=422, **context
    )
    if request.htmx and not request.htmx.boosted:
        headers = {**headers, "HX-Retarget": f"#action-{action}", "HX-Reswap": "outerHTML"}
    return html, status, headers


def _rule_error(ticket_id: int, action: str, form: FlaskForm, error: TicketRuleError, field: str | None = None):
    """A service refused the change: show its message next to ``field``, or above the form."""
    if field is not None:
        getattr(form, field).errors = [*getattr(form, field).errors, str(error)]
        return _invalid(ticket_id, action, form)
    return _invalid(ticket_id, action, form, str(error))


@bp.post("/tickets/<int:ticket_id>/calls")
@require_role(*WORKING_ROLES)
def log_call(ticket_id: int):
    ticket = get_or_404(Ticket, ticket_id)
    form = _form("call")
    if not form.validate_on_submit():
        return _invalid(ticket_id, "call", form)
    called = form.called.data or ticket.contact.name
    try:
        services.log_call(ticket, current_user, called=called, outcome=form.outcome.data, notes=form.notes.data)
    except TicketRuleError as error:
        return _rule_error(ticket_id, "call", form, error)
    return _done(ticket_id, f"Call to {called} logged: {CALL_OUTCOMES[form.outcome.data]}.")


@bp.post("/tickets/<int:ticket_id>/emails")
@require_role(*WORKING_ROLES)
def log_email(ticket_id: int):
    ticket = get_or_404(Ticket, ticket_id)
    form = _form("email")
    if not form.validate_on_submit():
        return _invalid(ticket_id, "email", form)
    try:
        services.log_email(ticket, current_user, direction=form.direction.data, subject=form.subject.data,
                           summary=form.summary.data)
    except TicketRuleError as error:
        return _rule_error(ticket_id, "email", form, error)
    return _done(ticket_id, f"Email “{form.subject.data}” logged.")


@bp.post("/tickets/<int:ticket_id>/notes")
@require_role(*WORKING_ROLES)
def add_note(ticket_id: int):
    ticket = get_or_404(Ticket, ticket_id)
    form = _form("note")
    if not form.validate_on_submit():
        return _invalid(ticket_id, "note", form)
    services.add_note(ticket, current_user, form.body.data)
    return _done(ticket_id, "Note added.")


@bp.post("/tickets/<int:ticket_id>/assignee")
@require_role(*WORKING_ROLES)
def reassign(ticket_id: int):
    ticket = get_or_404(Ticket, ticket_id)
    members = {user.id: user for user in services.assignable_members()}
    form = _form("reassign")
    form.set_members(members.values(), ticket.assignee_id)
    if not form.validate_on_submit():
        return _invalid(ticket_id, "reassign", form)
    assignee = members[form.assignee_id.data]
    if ticket.assignee_id == assignee.id:
        return _done(ticket_id, f"{ticket.reference} is already assigned to {assignee.name}.", "info")
    try:
        services.reassign(ticket, current_user, assignee)
    except TicketRuleError as error:
        return _rule_error(ticket_id, "reassign", form, error)
    return _done(ticket_id, f"{ticket.reference} is now assigned to {assignee.name}.")


@bp.post("/tickets/<int:ticket_id>/status")
@require_role(*WORKING_ROLES)
def move_status(ticket_id: int):
    ticket = get_or_404(Ticket, ticket_id)
    form = _form("status")
    if not form.validate_on_submit():
        return _invalid(ticket_id, "status", form)
    status = form.status.data
    if ticket.status == status:
        return _done(ticket_id, f"{ticket.reference} is already in {STATUSES[status]}.", "info")
    reopening = ticket.status == "closed"
    try:
        services.move_status(ticket, current_user, status)
    except TicketRuleError as error:
        return _rule_error(ticket_id, "status", form, error, "status")
    verb = "reopened and moved" if reopening else "moved"
    return _done(ticket_id, f"{ticket.reference} {verb} to {STATUSES[status]}.")


@bp.post("/tickets/<int:ticket_id>/close")
@require_role(*WORKING_ROLES)
def close(ticket_id: int):
    ticket = get_or_404(Ticket, ticket_id)
    form = _form("close")
    if not form.validate_on_submit():
        return _invalid(ticket_id, "close", form)
    try:
        services.close_ticket(ticket, current_user, outcome=form.outcome.data, note=form.note.data,
                              root_cause_ids=form.root_causes.data, override_reason=form.override_reason.data)
    except TicketRuleError as error:
        return _rule_error(ticket_id, "close", form, error, getattr(error, "field", None))
    return _done(ticket_id, f"{ticket.reference} closed: {OUTCOMES[form.outcome.data]}.")
