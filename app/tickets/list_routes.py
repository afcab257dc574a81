"""The ticket list beside the board: filters and order in the URL, bulk actions, saved views.

``GET /t/<slug>/tickets/`` is the page; with htmx (a filter changed, a column heading chosen, the next page)
only its table region ``ticket_list/_partial.html`` is sent back. Without JavaScript the filters are a plain
GET form with an "Apply filters" button. The page runs a fixed number of statements whatever the page size
(see :func:`list_context`).
"""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from flask import Blueprint, abort, current_app, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.confirm import confirm_page
from app.extensions import db
from app.settings.models import RootCause
from app.submissions import once
from app.teams.models import Team
from app.tenancy import WORKING_ROLES, current_membership, current_tenant, get_or_404, parse_id, require_role
from app.tickets import bulk, listing, services
from app.tickets.list_forms import BULK_ACTIONS, BulkForm, SaveViewForm
from app.tickets.models import STATUSES, SavedView
from app.views import refused, render_page, saved, wants_fragment
from app.workflow.ticket_sla import SLA_FILTERS

bp = Blueprint("ticket_list", __name__, url_prefix="/t/<tenant_slug>/tickets")

PAGE = "ticket_list/list.html"
PARTIAL = "ticket_list/_partial.html"
# Ready-made views every member has: their own tickets past due, and their teams' tickets at risk.
PRESETS = {"My overdue": {"assignee": "me", "sla": "overdue"},
           "Team at risk": {"team": "mine", "sla": "at_risk"}}
MAX_TICKED = 200


def _list_url(query: str = "") -> str:
    base = url_for("ticket_list.index")
    return f"{base}?{query}" if query else base


def _query_of(chosen: listing.ListFilter, after: str | None = None) -> str:
    args = chosen.args()
    if after:
        args["after"] = after
    return urlencode(args)


def _posted_filter(name: str = "query") -> tuple[listing.ListFilter, str | None]:
    """The filter and cursor of the list a form was posted from (its ``query`` field)."""
    args = MultiDict(parse_qsl(request.form.get(name) or "", keep_blank_values=False))
    return listing.parse_filter(args), args.get("after")


def list_context(chosen: listing.ListFilter, after: str | None, *, bulk_form: BulkForm | None = None,
                 view_form: SaveViewForm | None = None, bulk_error: str | None = None) -> dict:
    """Everything the page and its table region show, in a fixed number of statements: the page of tickets,
    the capped count, members, teams, root causes and the member's saved views (one each)."""
    user_id, timezone = current_user.id, current_tenant.timezone
    page = listing.ticket_page(chosen, user_id, timezone, after=after, limit=current_app.config["PAGE_SIZE"])
    count = listing.match_count(chosen, user_id, timezone)
    members = services.assignable_members()
    teams = db.session.execute(select(Team).order_by(Team.name)).scalars().all()
    causes = db.session.execute(select(RootCause).order_by(RootCause.label)).scalars().all()
    views = db.session.execute(
        select(SavedView).where(SavedView.user_id == user_id).order_by(SavedView.name)).scalars().all()
    can_work = current_membership.role in WORKING_ROLES
    if bulk_form is None:
        bulk_form = BulkForm(formdata=None)
    bulk_form.set_choices(members, [cause for cause in causes if cause.retired_at is None])
    query = _query_of(chosen, after)
    bulk_form.query.data = query
    if view_form is None:
        view_form = SaveViewForm(formdata=None, prefix="view")
    view_form.query.data = urlencode(chosen.args())
    return {
        "chosen": chosen, "tickets": page, "count": count, "count_label": listing.count_label(count),
        "members": members, "teams": teams, "causes": causes, "views": views, "presets": PRESETS,
        "bulk_form": bulk_form, "view_form": view_form, "bulk_error": bulk_error, "can_work": can_work,
        "bulk_actions": BULK_ACTIONS, "query": query, "after": after, "list_url": _list_url,
        "SORTS": listing.SORTS, "FIRST_DIRECTION": listing.FIRST_DIRECTION, "BANDS": listing.BANDS,
        "TRIGGERS": listing.TRIGGERS, "SLA_FILTERS": SLA_FILTERS, "STATUSES": STATUSES,
        "urlencode": urlencode,
    }


@bp.get("/")
def index():
    chosen = listing.parse_filter(request.args)
    after = request.args.get("after")
    html, status, headers = render_page(PAGE, PARTIAL, **list_context(chosen, after))
    if wants_fragment():
        # The filter form sends its empty fields too: the address bar shows only the filters chosen.
        headers = {**headers, "HX-Push-Url": _list_url(_query_of(chosen, after))}
    return html, status, headers


# --- Bulk actions ----------------------------------------------------------------------------------

def _bulk_region(**_view_args):
    chosen, after = _posted_filter()
    return render_page(PAGE, PARTIAL, **list_context(chosen, after))


def _ticked() -> list[int]:
    ids = {parse_id(raw) for raw in request.form.getlist("ticket")}
    ids.discard(None)
    return sorted(ids)


@bp.post("/bulk")
@require_role(*WORKING_ROLES)
@once(region=_bulk_region)
def bulk_action():
    """Apply one action to the ticked tickets; answer with the list the form came from."""
    chosen, after = _posted_filter()
    members = {user.id: user for user in services.assignable_members()}
    causes = db.session.execute(select(RootCause).where(RootCause.retired_at.is_(None))
                                .order_by(RootCause.label)).scalars().all()
    form = BulkForm()
    form.set_choices(members.values(), causes)
    action = request.form.get("action")
    ticked = _ticked()
    if not form.validate() or action not in BULK_ACTIONS:
        return _bulk_refused(chosen, after, form, None if action in BULK_ACTIONS else "Choose an action.")
    if not ticked:
        return _bulk_refused(chosen, after, form, "Tick at least one ticket.")
    if len(ticked) > MAX_TICKED:
        return _bulk_refused(chosen, after, form, f"Tick at most {MAX_TICKED} tickets at a time.")
    if action == "assign":
        if form.assignee_id.data is None:
            form.assignee_id.errors = ["Choose who to assign the tickets to."]
            return _bulk_refused(chosen, after, form)
        result, done = bulk.assign(ticked, current_user, members[form.assignee_id.data]), "assigned"
    elif action == "move":
        if not form.status.data:
            form.status.errors = ["Choose the status to move the tickets to."]
            return _bulk_refused(chosen, after, form)
        result, done = bulk.move(ticked, current_user, form.status.data), f"moved to {STATUSES[form.status.data]}"
    else:
        missing = False
        if form.root_cause.data is None:
            form.root_cause.errors, missing = ["Choose a root cause for closing."], True
        if not form.note.data:
            form.note.errors, missing = ["Write a closing note."], True
        if missing:
            return _bulk_refused(chosen, after, form)
        result = bulk.close_no_response(ticked, current_user, form.note.data, [form.root_cause.data])
        done = "closed as no response"
    category = "success" if result.changed and not result.skipped else ("info" if result.changed else "error")
    return saved(result.summary(done), _list_url(_query_of(chosen, after)), _bulk_region, category)


def _bulk_refused(chosen, after, form: BulkForm, message: str | None = None):
    return refused(PAGE, PARTIAL, lambda: list_context(chosen, after, bulk_form=form, bulk_error=message),
                   target="ticket-list")


# --- Saved views -----------------------------------------------------------------------------------

@bp.post("/views")
def save_view():
    """Save the filters of the list the form was posted from under a name (a name used before is updated)."""
    chosen, _ = _posted_filter("view-query")
    form = SaveViewForm(prefix="view")
    if not form.validate():
        return refused(PAGE, None, lambda: list_context(chosen, None, view_form=form))
    query = urlencode(chosen.args())
    view = db.session.execute(select(SavedView).where(SavedView.user_id == current_user.id,
                                                      SavedView.name == form.name.data)).scalar_one_or_none()
    if view is None:
        db.session.add(SavedView(user_id=current_user.id, name=form.name.data, query=query))
        message = f"View “{form.name.data}” saved."
    else:
        view.query = query
        message = f"View “{form.name.data}” updated."
    return saved(message, _list_url(query))


def _own_view(view_id: int) -> SavedView:
    """One of the current member's saved views; anyone else's (or another organisation's) is a 404."""
    view = get_or_404(SavedView, view_id)
    if view.user_id != current_user.id:
        abort(404)
    return view


@bp.get("/views/<int:view_id>/delete")
def confirm_delete_view(view_id: int):
    view = _own_view(view_id)
    return confirm_page(
        title="Delete view", question=f"Delete the view “{view.name}”?",
        consequence="Its filters are forgotten; the tickets it showed do not change.",
        action=url_for("ticket_list.delete_view", view_id=view.id), button="Delete view", cancel=_list_url(view.query),
    )


@bp.post("/views/<int:view_id>/delete")
def delete_view(view_id: int):
    view = _own_view(view_id)
    name = view.name
    db.session.delete(view)
    return saved(f"View “{name}” deleted.", _list_url())
