"""Accounts pages (called Companies, Practices or Programmes by the organisation's kind): the list with search,
add and edit, an account's page (contacts, answers, NPS by month, tickets, status history, team), its status
changes and team; and "Save / At risk" from a ticket.

Everyone in the organisation reads; admins, managers and agents change accounts.
"""
from __future__ import annotations

from flask import Blueprint, abort, request, url_for
from flask_login import current_user

from app.confirm import confirm_page
from app.customers import services
from app.customers.forms import AccountForm, AtRiskForm, StatusForm, TeamMemberForm
from app.customers.models import (
    ACCOUNT_STATUSES, AccountStatus, AccountTeamMember, CustomerAccount, account_noun, account_noun_plural,
)
from app.rules import RuleError
from app.tickets.page import account_of, load_ticket, once_per_ticket_form, ticket_refused, ticket_saved
from app.tickets.services import ensure_open
from app.tenancy import WORKING_ROLES, current_membership, current_tenant, get_or_404, require_role
from app.views import place_error, refused, render_page, saved

bp = Blueprint("customers", __name__, url_prefix="/t/<tenant_slug>/accounts")

PER_PAGE = 25
RESPONSES_PER_PAGE = 20


@bp.app_context_processor
def _nouns():
    """What the organisation calls an account ("Company", "Companies"), for the header and the pages, and the
    names of account statuses (the ticket timeline names them too)."""
    tenant = current_tenant._get_current_object() if current_tenant else None
    kind = tenant.kind if tenant is not None else None
    return {"account_noun": account_noun(kind), "account_nouns": account_noun_plural(kind),
            "ACCOUNT_STATUSES": ACCOUNT_STATUSES}


def _can_edit() -> bool:
    return current_membership.role in WORKING_ROLES


@bp.get("/")
def index():
    q = (request.args.get("q") or "").strip()[:200]
    status = request.args.get("status") or ""
    status = status if status in ACCOUNT_STATUSES else ""
    page = services.account_page(q, status, request.args.get("after"), per_page=PER_PAGE)
    return render_page("customers/index.html", "customers/_results.html", q=q, status_filter=status, accounts=page,
                       counts=services.contact_counts([a.id for a in page.items]), statuses=ACCOUNT_STATUSES,
                       can_edit=_can_edit())


@bp.get("/suggestions")
def suggestions():
    """The accounts whose name contains what was typed in a contact form's Account field, as its <datalist>."""
    q = (request.args.get("account") or "").strip()[:160]
    return render_page("customers/_suggestions.html", "customers/_suggestions.html",
                       names=services.suggestions(q))


def _form_page(form: AccountForm, account: CustomerAccount | None):
    if request.method == "POST":
        return refused("customers/form.html", None, lambda: {"form": form, "account": account})
    return render_page("customers/form.html", form=form, account=account)


@bp.route("/new", methods=["GET", "POST"])
@require_role(*WORKING_ROLES)
def new():
    form = AccountForm(formdata=request.form if request.method == "POST" else None,
                       data={"owner_id": current_user.id} if request.method == "GET" else None)
    form.set_members(services.owner_candidates())
    if form.validate_on_submit():
        try:
            account = services.create_account(**form.account_fields())
        except RuleError as error:
            place_error(form, error)
        else:
            return saved(f"{account_noun(current_tenant.kind)} added.", url_for("customers.show", account_id=account.id))
    return _form_page(form, None)


@bp.route("/<int:account_id>/edit", methods=["GET", "POST"])
@require_role(*WORKING_ROLES)
def edit(account_id: int):
    account = get_or_404(CustomerAccount, account_id)
    if request.method == "GET":
        form = AccountForm(formdata=None, data={"name": account.name, "external_id": account.external_id,
                                                "owner_id": account.owner_id or 0, "notes": account.notes})
    else:
        form = AccountForm()
    form.set_members(services.owner_candidates())
    if form.validate_on_submit():
        try:
            changed = services.update_account(account, **form.account_fields())
        except RuleError as error:
            place_error(form, error)
        else:
            noun = account_noun(current_tenant.kind)
            return saved(f"{noun} saved." if changed else "Nothing changed.",
                         url_for("customers.show", account_id=account.id))
    return _form_page(form, account)


def _show_context(account: CustomerAccount, status_form: StatusForm | None = None,
                  team_form: TeamMemberForm | None = None) -> dict:
    """Everything the account page shows, in a fixed number of queries whatever the account's size."""
    contacts, contact_count = services.account_contacts(account)
    open_tickets, open_count = services.account_tickets(account, closed=False)
    closed_tickets, closed_count = services.account_tickets(account, closed=True)
    can_edit = _can_edit()
    context = {
        "account": account, "can_edit": can_edit, "team": services.team(account),
        "contacts": contacts, "contact_count": contact_count, "contacts_shown": services.CONTACTS_SHOWN,
        "responses": services.responses_page(account, request.args.get("after"), RESPONSES_PER_PAGE),
        "nps": services.nps_by_month(account, current_tenant), "open_tickets": open_tickets,
        "open_count": open_count, "closed_tickets": closed_tickets, "closed_count": closed_count,
        "tickets_shown": services.TICKETS_SHOWN, "history": services.status_history(account),
        "statuses": ACCOUNT_STATUSES,
    }
    if can_edit:
        context["status_form"] = status_form or StatusForm(
            formdata=None, status=AccountStatus.AT_RISK if account.status == AccountStatus.ACTIVE else AccountStatus.ACTIVE)
        if team_form is None:
            team_form = TeamMemberForm(formdata=None)
        team_form.set_choices(services.owner_candidates(), services.active_functions())
        context["team_form"] = team_form
    return context


@bp.get("/<int:account_id>")
def show(account_id: int):
    account = get_or_404(CustomerAccount, account_id)
    return render_page("customers/show.html", None, **_show_context(account))


@bp.get("/<int:account_id>/responses")
def responses(account_id: int):
    """A page of the account's answers: the region for htmx, the account page otherwise."""
    account = get_or_404(CustomerAccount, account_id)
    if request.htmx:
        page = services.responses_page(account, request.args.get("after"), RESPONSES_PER_PAGE)
        return render_page("customers/show.html", "customers/_responses.html", account=account, responses=page)
    return render_page("customers/show.html", None, **_show_context(account))


@bp.post("/<int:account_id>/status")
@require_role(*WORKING_ROLES)
def change_status(account_id: int):
    account = get_or_404(CustomerAccount, account_id)
    form = StatusForm()
    if form.validate_on_submit():
        try:
            services.change_status(account, form.status.data, form.reason.data, current_user)
        except RuleError as error:
            place_error(form, error)
        else:
            return saved(f"{account.name} is now {account.status_label.lower()}.",
                         url_for("customers.show", account_id=account.id))
    return refused("customers/show.html", None, lambda: _show_context(get_or_404(CustomerAccount, account_id),
                                                                      status_form=form))


@bp.post("/<int:account_id>/team")
@require_role(*WORKING_ROLES)
def add_team_member(account_id: int):
    account = get_or_404(CustomerAccount, account_id)
    form = TeamMemberForm()
    form.set_choices(services.owner_candidates(), services.active_functions())
    if form.validate_on_submit():
        try:
            member = services.add_team_member(account, form.user_id.data, form.function_id.data or None)
        except RuleError as error:
            place_error(form, error)
        else:
            return saved(f"Added {member.user.name} to the {account_noun(current_tenant.kind).lower()} team.",
                         url_for("customers.show", account_id=account.id))
    return refused("customers/show.html", None, lambda: _show_context(get_or_404(CustomerAccount, account_id),
                                                                      team_form=form))


def _team_member(account: CustomerAccount, member_id: int) -> AccountTeamMember:
    member = get_or_404(AccountTeamMember, member_id)
    if member.account_id != account.id:
        abort(404)
    return member


@bp.get("/<int:account_id>/team/<int:member_id>/remove")
@require_role(*WORKING_ROLES)
def remove_team_member_confirm(account_id: int, member_id: int):
    account = get_or_404(CustomerAccount, account_id)
    member = _team_member(account, member_id)
    role = f" ({member.function.name})" if member.function else ""
    return confirm_page(
        title=f"Remove {member.user.name} · {account.name}",
        question=f"Remove {member.user.name}{role} from the team of {account.name}?",
        consequence="They stay a member of your organisation; emails about this account no longer name them.",
        action=url_for("customers.remove_team_member", account_id=account.id, member_id=member.id),
        button=f"Remove {member.user.name}", cancel=url_for("customers.show", account_id=account.id))


@bp.post("/<int:account_id>/team/<int:member_id>/remove")
@require_role(*WORKING_ROLES)
def remove_team_member(account_id: int, member_id: int):
    account = get_or_404(CustomerAccount, account_id)
    member = _team_member(account, member_id)
    name = member.user.name
    services.remove_team_member(account, member)
    return saved(f"Removed {name} from the team.", url_for("customers.show", account_id=account.id))


@bp.post("/from-ticket/<int:ticket_id>/at-risk")
@require_role(*WORKING_ROLES)
@once_per_ticket_form
def at_risk_from_ticket(ticket_id: int):
    """"Save / At risk": mark the ticket's account at risk, linking the status change and the ticket."""
    ticket = load_ticket(ticket_id)
    account = account_of(ticket)
    if account is None:
        abort(404)
    form = AtRiskForm(prefix="at_risk")
    if form.validate_on_submit():
        try:
            ensure_open(ticket)
            services.change_status(account, AccountStatus.AT_RISK, form.reason.data, current_user, ticket=ticket)
        except RuleError as error:
            place_error(form, error, default_field="reason")
        else:
            return ticket_saved(ticket.id, f"{account.name} is marked at risk.")
    return ticket_refused(ticket.id, "at_risk", form, "tickets/_account_panel.html", "account-panel")
