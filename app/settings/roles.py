"""Settings section: recipient roles. Admins add, rename, retire and bring back the roles contacts hold, and
choose the role new contacts start with (none by default).

A retired role stays on the contacts that have it but is no longer offered when adding contacts or sending.
"""
from __future__ import annotations

from flask import request, url_for

from app.confirm import confirm_page
from app.contacts.models import RecipientRole
from app.contacts.services import active_roles
from app.rules import RuleError
from app.settings import services
from app.settings.forms_setup import DefaultRoleForm, RoleForm
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


def _default_form(formdata=None) -> DefaultRoleForm:
    settings = services.get_settings()
    initial = {"data": {"default_contact_role_id": settings.default_contact_role_id or 0}} if formdata is None else {}
    form = DefaultRoleForm(prefix="default", formdata=formdata, **initial)
    form.set_roles(active_roles(), services.NO_DEFAULT_ROLE)
    return form


def _context(add_form: RoleForm | None = None, failed: tuple[int, RoleForm] | None = None,
             default_form: DefaultRoleForm | None = None) -> dict:
    pagination = paginate(services.recipient_roles_statement(), per_page=PER_PAGE)
    rename_forms = {role.id: _rename_form(role) for role in pagination.items}
    if failed is not None:
        rename_forms[failed[0]] = failed[1]
    return {
        "pagination": pagination,
        "counts": services.role_contact_counts(),
        "add_form": add_form or RoleForm(prefix="new", formdata=None),
        "rename_forms": rename_forms,
        "default_form": default_form or _default_form(),
        "default_role": services.default_contact_role(),
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


@bp.post("/roles/default")
@change_settings
def set_default_role():
    form = _default_form(formdata=request.form)
    if form.validate_on_submit():
        try:
            services.set_default_contact_role(services.get_settings(), form.role_id())
        except RuleError as error:
            place_error(form, error)
        else:
            role = services.default_contact_role()
            return _saved(f"New contacts now start with the role {role.name}." if role
                          else "New contacts now start with no role.")
    return _refused(default_form=form)


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


@bp.get("/roles/<int:recipient_role_id>/retire")
@change_settings
def retire_role_confirm(recipient_role_id: int):
    role = get_or_404(RecipientRole, recipient_role_id)
    held = services.role_contact_counts().get(role.id, 0)
    page = request.args.get("page", type=int)
    return confirm_page(
        title=f"Retire {role.name} · Recipient roles", question=f"Retire the recipient role {role.name}?",
        consequence=(f"The {held} contact{'s' if held != 1 else ''} holding it keep{'s' if held == 1 else ''} it, "
                     "but it is no longer offered when adding a contact or sending a survey. "
                     "You can bring it back later."),
        action=url_for("settings.retire_role", recipient_role_id=role.id, page=page),
        button=f"Retire {role.name}", cancel=url_for("settings.roles", page=page))


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
