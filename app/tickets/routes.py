"""The ticket board, the ticket page and the actions that work a ticket.

Every action is a POST: route → service (which raises :class:`~app.rules.RuleError` to refuse) → answer,
all through :mod:`app.tickets.page`: a change that worked gets ``ticket_saved`` (303 back to the ticket page
with a flash, or the re-rendered ticket region for htmx); a refused one ``ticket_refused`` (422: the whole
page for a plain post, only that form for htmx). What the page and its fragments show comes from
``ticket_page_context``. Each action runs once per submission key (``once_per_ticket_form``, see
:mod:`app.submissions`): a double click does the work once and both posts get the same answer.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import current_user
from flask_wtf import FlaskForm

from app.notifications import personal
from app.rules import RuleError
from app.tenancy import WORKING_ROLES, current_membership, get_or_404, require_role
from app.tickets import board as ticket_board
from app.tickets import services
from app.tickets.models import CALL_OUTCOMES, OUTCOMES, STATUSES, Status, Ticket
from app.tickets.page import (
    LABELS, PAGE, REGION, action_form, load_ticket, once_per_ticket_form, ticket_page_context, ticket_refused,
    ticket_saved,
)
from app.views import place_error, render_page, wants_fragment
from app.workflow.ticket_sla import sla_state

bp = Blueprint("tickets", __name__, url_prefix="/t/<tenant_slug>")

# ``sla_state(ticket)`` for the SLA line on board cards and the ticket header (it computes, it never queries).
bp.add_app_template_global(sla_state, "sla_state")
# Templates compare a ticket's status with ``Status.CLOSED`` rather than a string.
bp.add_app_template_global(Status, "Status")


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

@bp.get("/tickets/<int:ticket_id>")
def show(ticket_id: int):
    return render_page(PAGE, REGION, **ticket_page_context(load_ticket(ticket_id)))


@bp.get("/tickets/<int:ticket_id>/composer")
def composer(ticket_id: int):
    """The activity composer on the tab in ``?tab=`` (and the email on ``?template=``): the composer alone
    for htmx, else the ticket page with it."""
    return render_page(PAGE, "tickets/_composer.html", **ticket_page_context(load_ticket(ticket_id)))


# --- Actions ---------------------------------------------------------------------------------------

def _refused(ticket_id: int, action: str, form: FlaskForm, error: RuleError | None = None):
    """A ticket action form that did not validate, or whose change a rule refused."""
    above = place_error(form, error) if error is not None else None
    return ticket_refused(ticket_id, action, form, f"tickets/forms/_{action}.html", f"action-{action}", above)


@bp.post("/tickets/<int:ticket_id>/calls")
@require_role(*WORKING_ROLES)
@once_per_ticket_form
def log_call(ticket_id: int):
    ticket = get_or_404(Ticket, ticket_id)
    form = action_form("call")
    if not form.validate_on_submit():
        return _refused(ticket_id, "call", form)
    called = form.called.data or ticket.contact.name
    try:
        services.log_call(ticket, current_user, called=called, outcome=form.outcome.data, notes=form.notes.data)
    except RuleError as error:
        return _refused(ticket_id, "call", form, error)
    return ticket_saved(ticket_id, f"Call logged: {CALL_OUTCOMES[form.outcome.data]}.", tab="call")


@bp.post("/tickets/<int:ticket_id>/emails")
@require_role(*WORKING_ROLES)
@once_per_ticket_form
def log_email(ticket_id: int):
    ticket = get_or_404(Ticket, ticket_id)
    form = action_form("email")
    if not form.validate_on_submit():
        return _refused(ticket_id, "email", form)
    try:
        services.log_email(ticket, current_user, direction=form.direction.data, subject=form.subject.data,
                           summary=form.summary.data)
    except RuleError as error:
        return _refused(ticket_id, "email", form, error)
    return ticket_saved(ticket_id, "Email logged.", tab="email-log")


def _compose_form(ticket: Ticket) -> FlaskForm:
    form = action_form("compose")
    form.set_copies(services.copy_candidates(ticket))
    return form


def _email(form: FlaskForm) -> services.Email:
    return services.Email(template=form.template.data, to_address=form.to.data, subject=form.subject.data,
                          body=form.body.data, cc_ids=tuple(form.cc.data or ()))


@bp.post("/tickets/<int:ticket_id>/emails/preview")
@require_role(*WORKING_ROLES)
def preview_email(ticket_id: int):
    """The email as it will be sent (sender, recipients, subject and text, merge fields filled), changing
    nothing: for htmx the preview alone, else the ticket page with the form kept and the preview below it."""
    ticket = get_or_404(Ticket, ticket_id)
    form = _compose_form(ticket)
    if not form.validate_on_submit():
        return _refused(ticket_id, "compose", form)
    email = _email(form)
    problems, copied = services.email_problems(ticket, email)
    if ticket.status == Status.CLOSED:
        problems[None] = "This ticket is closed. Reopen it to make changes."
    if problems:
        return _refused(ticket_id, "compose", form, RuleError.on_fields(problems))
    rendered = personal.render(email.template, ticket, current_user, email.subject, email.body)
    name, reply_to = personal.sender(current_user)
    preview = {"from_name": name, "from_address": current_app.config["MAIL_SENDER_ADDRESS"], "reply_to": reply_to,
               "to": email.to_address, "cc": [contact.email for contact in copied], "subject": rendered.subject,
               "text": rendered.text}
    if wants_fragment():
        return render_template("tickets/_email_preview.html", email_preview=preview), 200, {"Vary": "HX-Request"}
    return render_page(PAGE, None, **ticket_page_context(load_ticket(ticket_id), {"compose": form},
                                                          email_preview=preview))


@bp.post("/tickets/<int:ticket_id>/emails/send")
@require_role(*WORKING_ROLES)
@once_per_ticket_form
def send_email(ticket_id: int):
    """Send a personal email from the agent through the outbox; it is logged on the timeline."""
    ticket = get_or_404(Ticket, ticket_id)
    form = _compose_form(ticket)
    if not form.validate_on_submit():
        return _refused(ticket_id, "compose", form)
    try:
        services.send_email(ticket, current_user, _email(form))
    except RuleError as error:
        return _refused(ticket_id, "compose", form, error)
    return ticket_saved(ticket_id, "Email sent.", tab="email")


@bp.post("/tickets/<int:ticket_id>/notes")
@require_role(*WORKING_ROLES)
@once_per_ticket_form
def add_note(ticket_id: int):
    ticket = get_or_404(Ticket, ticket_id)
    form = action_form("note")
    if not form.validate_on_submit():
        return _refused(ticket_id, "note", form)
    services.add_note(ticket, current_user, form.body.data)
    return ticket_saved(ticket_id, "Note added.", tab="note")


@bp.post("/tickets/<int:ticket_id>/assignee")
@require_role(*WORKING_ROLES)
@once_per_ticket_form
def reassign(ticket_id: int):
    ticket = get_or_404(Ticket, ticket_id)
    members = {user.id: user for user in services.assignable_members()}
    form = action_form("reassign")
    form.set_members(members.values(), ticket.assignee_id)
    if not form.validate_on_submit():
        return _refused(ticket_id, "reassign", form)
    assignee = members[form.assignee_id.data]
    try:
        changed = services.reassign(ticket, current_user, assignee)
    except RuleError as error:
        return _refused(ticket_id, "reassign", form, error)
    if not changed:
        return ticket_saved(ticket_id, f"{ticket.reference} is already assigned to them.", "info")
    return ticket_saved(ticket_id, f"{ticket.reference} reassigned.")


@bp.post("/tickets/<int:ticket_id>/status")
@require_role(*WORKING_ROLES)
@once_per_ticket_form
def move_status(ticket_id: int):
    ticket = get_or_404(Ticket, ticket_id)
    form = action_form("status")
    if not form.validate_on_submit():
        return _refused(ticket_id, "status", form)
    status = form.status.data
    try:
        services.lock_ticket(ticket)
        reopening = ticket.status == Status.CLOSED
        changed = services.move_status(ticket, current_user, status)
    except RuleError as error:
        return _refused(ticket_id, "status", form, error)
    if not changed:
        return ticket_saved(ticket_id, f"{ticket.reference} is already in {STATUSES[status]}.", "info")
    verb = "reopened and moved" if reopening else "moved"
    return ticket_saved(ticket_id, f"{ticket.reference} {verb} to {STATUSES[status]}.")


@bp.post("/tickets/<int:ticket_id>/close")
@require_role(*WORKING_ROLES)
@once_per_ticket_form
def close(ticket_id: int):
    """Close the ticket, optionally sending the closing follow-up email in the same step. A refusal lists
    every reason at once (the form's own checks and the closing rules), each next to its field."""
    ticket = get_or_404(Ticket, ticket_id)
    form = action_form("close")
    valid = form.validate_on_submit()
    followup = None
    if form.send_followup.data:
        followup = services.Email(template="closing_followup", to_address=ticket.contact.email,
                                  subject=form.followup_subject.data, body=form.followup_body.data)
    if not valid:
        if ticket.status != Status.CLOSED:
            problems, _, _ = services.close_problems(
                ticket, current_user, outcome=form.outcome.data, note=form.note.data,
                root_cause_ids=form.root_causes.data or (), override_reason=form.override_reason.data,
                followup=followup)
            for name, message in problems.items():
                if not form[name].errors:
                    form[name].errors = [*form[name].errors, message]
        return _refused(ticket_id, "close", form)
    try:
        services.close_ticket(ticket, current_user, outcome=form.outcome.data, note=form.note.data,
                              root_cause_ids=form.root_causes.data, override_reason=form.override_reason.data,
                              followup=followup)
    except RuleError as error:
        return _refused(ticket_id, "close", form, error)
    sent = " The follow-up email is on its way." if followup is not None else ""
    return ticket_saved(ticket_id, f"{ticket.reference} closed: {OUTCOMES[form.outcome.data]}.{sent}")
