"""Settings section: recipient roles. Admins add, rename, retire and bring back the roles contacts hold.

A retired role stays on the contacts that have it but is no longer offered when adding contacts or sending.
"""
from __future__ import annotations

from flask import request, url_for

from app.contacts.models import RecipientRole
from app.rules import RuleError
from app.settings import services
from app.settings.forms_setup import RoleForm
from app.settings.routes import bp, change_settings, view_settings
from app.tenancy import Role, current_membership, get_or_404
from app.views import paginate, place_error, refused, render_page, saved

PAGE = "settings/roles.html"
FRAGMENT = "settings/_roles.html"
PER_PAGE = 25


def _rename_form(role: RecipientRole, formdata=None) -> RoleForm:
    initial = {"data": {"name": role.name}} if formdata is None else {}
    form = RoleForm(prefix=f"role-{role.id}", formdata=formdata, **initial)
    form.name.label.text = f"New name for {role.name}"
    return form


def _context(add_form: RoleForm | None = None, failed: tuple[int, RoleForm] | None = None) -> dict:
    pagination = paginate(services.recipient_roles_statement(), per_page=PER_PAGE)
    rename_forms = {role.id: _rename_form(role) for role in pagination.items}
    if failed is not None:
        rename_forms[failed[0]] = failed[1]
    return {
        "pagination": pagination,
        "counts": services.role_contact_counts(),
        "add_form": add_form or RoleForm(prefix="new", formdata=None),
        "rename_forms": rename_forms,
        "can_change": current_membership.role == Role.ADMIN,
    }


def _saved(message: str):
    """After a change: the list region again for htmx, else back to the list page."""
    return saved(message, url_for("settings.roles", page=request.args.get("page", type=int)),
                 lambda: render_page(PAGE, FRAGMENT, **_context()))


def _refused(**context):
    """The form again, its message next to the field, and nothing saved (422)."""
    return refused(PAGE, FRAGMENT, lambda: _context(**context))


@bp.get("/roles")
@view_settings
def roles():
    return render_page(PAGE, FRAGMENT, **_context())


@bp.post("/roles")
@change_settings
def add_role():
    form = RoleForm(prefix="new")
    if form.validate_on_submit():
        try:
            role = services.add_recipient_role(form.name.data)
        except RuleError as error:
            place_error(form, error)
        else:
            return _saved(f"Added the recipient role {role.name}.")
    return _refused(add_form=form)


@bp.post("/roles/<int:recipient_role_id>/rename")
@change_settings
def rename_role(recipient_role_id: int):
    role = get_or_404(RecipientRole, recipient_role_id)
    form = _rename_form(role, formdata=request.form)
    if form.validate_on_submit():
        before = role.name
        try:
            services.rename_recipient_role(role, form.name.data)
        except RuleError as error:
            place_error(form, error)
        else:
            return _saved(f"Renamed {before} to {role.name}.")
    return _refused(failed=(role.id, form))


@bp.post("/roles/<int:recipient_role_id>/retire")
@change_settings
def retire_role(recipient_role_id: int):
    role = get_or_404(RecipientRole, recipient_role_id)
    services.set_recipient_role_retired(role, True)
    return _saved(f"Retired {role.name}. Contacts keep it, but it is no longer offered.")


@bp.post("/roles/<int:recipient_role_id>/restore")
@change_settings
def restore_role(recipient_role_id: int):
    role = get_or_404(RecipientRole, recipient_role_id)
    services.set_recipient_role_retired(role, False)
    return _saved(f"{role.name} is offered again.")
