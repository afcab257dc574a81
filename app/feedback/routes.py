"""The feedback inbox: read every response, mark it reviewed, tag it with themes, open a ticket by hand,
and download the responses or tickets behind the current filters as CSV."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.feedback import export, inbox
from app.rules import RuleError
from app.surveys.models import BAND_LABELS, Response, source_label
from app.tenancy import MANAGING_ROLES, WORKING_ROLES, current_membership, current_tenant, get_or_404, parse_id, \
    require_role
from app.views import render_page, saved

bp = Blueprint("feedback", __name__, url_prefix="/t/<tenant_slug>/feedback")

PAGE, RESULTS, ROW = "feedback/index.html", "feedback/_results.html", "feedback/_row.html"


def _zone() -> ZoneInfo:
    return ZoneInfo(current_tenant.timezone)


def _row_context(response: Response, message: str | None = None, error: str | None = None) -> dict:
    return {"response": response, "tickets": inbox.tickets_for([response]), "themes": inbox.active_themes(),
            "row_message": message, "row_error": error, **_labels()}


def _labels() -> dict:
    return {"BAND_LABELS": BAND_LABELS, "source_label": source_label,
            "can_work": current_membership.role in WORKING_ROLES,
            "can_open_ticket": current_membership.role in MANAGING_ROLES}


@bp.get("/")
def index():
    chosen = inbox.InboxFilter.from_args(request.args)
    page = inbox.inbox_page(chosen, _zone(), request.args.get("after"))
    return render_page(PAGE, RESULTS, chosen=chosen, responses=page, tickets=inbox.tickets_for(page.items),
                       themes=inbox.active_themes(), accounts=inbox.account_choices(), **inbox.people_choices(),
                       PERIODS=inbox.PERIODS, SOURCES=inbox.source_choices(),
                       REVIEWED=inbox.REVIEWED, **_labels())


def _back(response: Response) -> str:
    """Where a plain post returns to: the inbox with the filters it came from (only our own URL)."""
    back = request.form.get("back", "")
    inbox_url = url_for("feedback.index")
    return back if back.startswith(inbox_url) and "//" not in back else f"{inbox_url}#response-{response.id}"


@bp.post("/<int:response_id>/reviewed")
@require_role(*WORKING_ROLES)
def reviewed(response_id: int):
    response = get_or_404(Response, response_id)
    marked = request.form.get("reviewed", "1") != "0"
    inbox.mark_reviewed(response, current_user, marked)
    message = "Marked reviewed." if marked else "Marked not reviewed."
    return saved(None, _back(response), lambda: render_page(ROW, ROW, **_row_context(response, message)))


@bp.post("/<int:response_id>/themes")
@require_role(*WORKING_ROLES)
def themes(response_id: int):
    response = get_or_404(Response, response_id)
    ids = [parse_id(raw) for raw in request.form.getlist("themes")]
    try:
        if None in ids:
            raise RuleError("Choose themes from the list.", "themes")
        inbox.set_themes(response, ids)
    except RuleError as error:
        db.session.rollback()
        response = get_or_404(Response, response_id)
        if not request.htmx:
            flash(error.message, "error")
            return redirect(_back(response), 303)
        html, _, headers = render_page(ROW, ROW, **_row_context(response, error=error.message))
        return html, 422, headers
    return saved(None, _back(response), lambda: render_page(ROW, ROW, **_row_context(response, "Themes saved.")))


@bp.post("/<int:response_id>/ticket")
@require_role(*MANAGING_ROLES)
def open_ticket(response_id: int):
    response = get_or_404(Response, response_id)
    try:
        ticket = inbox.open_ticket_by_hand(response, current_user)
        db.session.flush()
    except (RuleError, IntegrityError):
        db.session.rollback()
        response = get_or_404(Response, response_id)
        existing = inbox.tickets_for([response]).get(response.id)
        if existing is None:
            abort(409)
        return saved(None, url_for("tickets.show", ticket_id=existing.id))
    return saved(f"Ticket {ticket.reference} opened.", url_for("tickets.show", ticket_id=ticket.id))


@bp.get("/responses.csv")
def responses_csv():
    chosen = inbox.InboxFilter.from_args(request.args)
    return export.responses_csv(chosen, _zone())


@bp.get("/tickets.csv")
def tickets_csv():
    chosen = inbox.InboxFilter.from_args(request.args)
    return export.tickets_csv(chosen, _zone())
