"""Contacts: list and search, add, edit, and one contact's page with their survey history."""
from __future__ import annotations

from flask import Blueprint, render_template, request, url_for

from app.contacts import services
from app.contacts.forms import ContactForm
from app.contacts.models import Contact
from app.rules import RuleError
from app.customers.models import account_noun
from app.tenancy import WORKING_ROLES, current_membership, current_tenant, get_or_404, require_role
from app.timeutil import utcnow
from app.views import place_error, refused, render_page, saved

bp = Blueprint("contacts", __name__, url_prefix="/t/<tenant_slug>/contacts")

PER_PAGE = 25


@bp.get("/")
def index():
    q = (request.args.get("q") or "").strip()[:200]
    page = services.contact_page(q, request.args.get("after"), per_page=PER_PAGE)
    return render_page("contacts/index.html", "contacts/_results.html", q=q, contacts=page,
                       total=services.count_matching(q), cap=services.count_cap(q))


@bp.route("/new", methods=["GET", "POST"])
@require_role(*WORKING_ROLES)
def new():
    roles = services.active_roles()
    if request.method == "GET":
        form = ContactForm(roles=roles, data={"roles": services.default_role_ids(roles)})
    else:
        form = ContactForm(roles=roles)
    if form.validate_on_submit():
        try:
            contact = services.create_contact(**form.contact_fields())
        except RuleError as error:
            place_error(form, error)
        else:
            return saved("Contact added.", url_for("contacts.show", contact_id=contact.id))
    return _form_page(form, contact=None)


@bp.get("/<int:contact_id>")
def show(contact_id: int):
    contact = get_or_404(Contact, contact_id)
    return render_template(
        "contacts/show.html", contact=contact, history=services.survey_history(contact),
        can_edit=current_membership.role in WORKING_ROLES, now=utcnow(),
    )


@bp.route("/<int:contact_id>/edit", methods=["GET", "POST"])
@require_role(*WORKING_ROLES)
def edit(contact_id: int):
    contact = get_or_404(Contact, contact_id)
    roles = services.active_roles()
    if request.method == "GET":
        form = ContactForm(roles=roles, data=ContactForm.initial(contact))
    else:
        form = ContactForm(roles=roles)
    if form.validate_on_submit():
        try:
            services.update_contact(contact, **form.contact_fields())
        except RuleError as error:
            place_error(form, error)
        else:
            return saved("Contact saved.", url_for("contacts.show", contact_id=contact.id))
    return _form_page(form, contact=contact)


def _form_page(form: ContactForm, contact: Contact | None):
    """The add or edit page; after a refused post, with its messages and status 422."""
    form.account.label.text = account_noun(current_tenant.kind)
    # Existing accounts are suggested as the name is typed (see customers/_suggestions.html).
    form.account.render_kw = {"list": "account-suggestions", "autocomplete": "off",
                              "hx-get": url_for("customers.suggestions"), "hx-trigger": "input changed delay:250ms",
                              "hx-target": "#account-suggestions", "hx-swap": "outerHTML"}
    if request.method == "POST":
        return refused("contacts/form.html", None, lambda: {"form": form, "contact": contact})
    return render_page("contacts/form.html", form=form, contact=contact)
