"""Sending the NPS survey to chosen contacts or to everyone holding a recipient role (after a confirmation
that says how many contacts it will email and how many it skips)."""
from __future__ import annotations

from flask import Blueprint, request, url_for
from flask_login import current_user

from app.rules import RuleError
from app.surveys import sending, services
from app.surveys.forms import BY_ROLE, MAX_CHOSEN, SendToContactsForm, SendToRoleForm
from app.surveys.models import SurveySend
from app.tenancy import WORKING_ROLES, current_tenant, get_or_404, require_role
from app.views import place_error, refused, render_page, saved

bp = Blueprint("surveys", __name__, url_prefix="/t/<tenant_slug>/surveys")

PAGE = "surveys/send.html"
FRAGMENT = "surveys/_send.html"
CONTACT_LIST_FRAGMENT = "surveys/_send_contacts.html"
STATUS_PAGE = "surveys/send_status.html"
PROGRESS_FRAGMENT = "surveys/_send_progress.html"
CONTACT_LIST_LIMIT = MAX_CHOSEN


def _context(contacts_form: SendToContactsForm, role_form: SendToRoleForm, q: str = "") -> dict:
    survey = services.default_survey()
    return {
        "contacts_form": contacts_form,
        "role_form": role_form,
        "q": q,
        "choosable": services.contacts_to_choose(q, limit=CONTACT_LIST_LIMIT),
        "contact_total": services.count_contacts(),
        "list_limit": CONTACT_LIST_LIMIT,
        "question": survey.question_for(current_tenant.name),
        "preview": services.invitation_preview(current_tenant, survey, current_user._get_current_object()),
        "send_blocked": services.send_blocked_reason(current_tenant),
        "sends": sending.recent_sends(),
        "send_summary": sending.send_summary,
    }


def _fresh_forms(roles) -> tuple[SendToContactsForm, SendToRoleForm]:
    return SendToContactsForm(formdata=None), SendToRoleForm(formdata=None, roles=roles)


@bp.route("/send", methods=["GET", "POST"])
@require_role(*WORKING_ROLES)
def send():
    roles = services.roles_with_counts()
    if request.method == "GET":
        q = (request.args.get("q") or "").strip()[:200]
        contacts_form, role_form = _fresh_forms(roles)
        fragment = CONTACT_LIST_FRAGMENT if request.args.get("list") else None
        return render_page(PAGE, fragment, **_context(contacts_form, role_form, q))

    by_role = request.form.get("recipients") == BY_ROLE
    contacts_form = SendToContactsForm(formdata=None if by_role else request.form)
    role_form = SendToRoleForm(formdata=request.form if by_role else None, roles=roles)
    form = role_form if by_role else contacts_form
    recipients, plan = [], None
    if form.validate():
        if by_role:
            plan = services.plan_role_send(role_form.role)
            if not plan.recipient_count + plan.throttled_count:
                role_form.role_id.errors.append(f"No contact has the role {role_form.role.name} yet.")
                plan = None
        else:
            recipients = services.contacts_by_ids(contacts_form.contact_ids.data)
            if len(recipients) != len(set(contacts_form.contact_ids.data)):
                contacts_form.contact_ids.errors.append(
                    "Some of the chosen contacts no longer exist. Check the list and send again."
                )
                recipients = []
    if not (recipients or plan):
        return refused(PAGE, FRAGMENT, lambda: _context(contacts_form, role_form))
    plan = plan or services.plan_send(recipients)
    if by_role and (request.form.get("confirm_count", type=int) != plan.recipient_count or not plan.recipient_count):
        # A send to a role asks first, saying how many it will email; the confirmation carries that number,
        # so if the role's contacts change in between, the person is asked again with the new one.
        return render_page(PAGE, FRAGMENT, confirm=plan, **_context(contacts_form, role_form))

    try:
        services.send_survey(
            tenant=current_tenant._get_current_object(), survey=services.default_survey(),
            sent_by=current_user._get_current_object(),
            total=plan.recipient_count + plan.throttled_count if by_role else len(recipients),
            **({"role": role_form.role} if by_role else {"contacts": recipients}),
        )
    except RuleError as error:
        place_error(form, error, "role_id" if by_role else "contact_ids")
        return refused(PAGE, FRAGMENT, lambda: _context(contacts_form, role_form))
    back = url_for("surveys.send")
    if request.form.get("from_contact") and len(recipients) == 1:
        back = url_for("contacts.show", contact_id=recipients[0].id)
    return saved(plan.starting, back,
                 lambda: render_page(PAGE, FRAGMENT, **_context(*_fresh_forms(services.roles_with_counts()))),
                 "info")


@bp.get("/sends/<int:send_id>")
@require_role(*WORKING_ROLES)
def send_status(send_id: int):
    """A send's progress: a page, or for htmx the fragment that polls itself until the send is done."""
    send = get_or_404(SurveySend, send_id)
    return render_page(STATUS_PAGE, PROGRESS_FRAGMENT, send=send, send_summary=sending.send_summary)
