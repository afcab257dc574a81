"""Settings section: action-plan templates (named, ordered checklists applied to tickets) and root-cause codes.

Retired templates and root causes stay on the tickets that used them but are no longer offered
(see :func:`app.settings.services.active_action_plan_templates` and :func:`~app.settings.services.active_root_causes`).
"""
from __future__ import annotations

from flask import request, url_for

from app.rules import RuleError
from app.settings import services
from app.settings.forms_setup import ActionPlanTemplateForm, RootCauseForm
from app.settings.models import ActionPlanTemplate, RootCause
from app.settings.routes import bp, change_settings, view_settings
from app.tenancy import Role, current_membership, get_or_404
from app.views import paginate, place_error, refused, render_page, saved

PLANS_PAGE = "settings/action_plans.html"
PLANS_FRAGMENT = "settings/_action_plans.html"
CAUSES_PAGE = "settings/action_plans_causes.html"
CAUSES_FRAGMENT = "settings/_action_plans_causes.html"
PER_PAGE = 25


def _saved(message: str, endpoint: str, page: str, fragment: str, context):
    """After a change: the list region again for htmx, else back to the list page (303)."""
    return saved(message, url_for(endpoint, page=request.args.get("page", type=int)),
                 lambda: render_page(page, fragment, **context()))


def _edit_form(template: ActionPlanTemplate, formdata=None) -> ActionPlanTemplateForm:
    initial = {"data": ActionPlanTemplateForm.initial(template)} if formdata is None else {}
    form = ActionPlanTemplateForm(prefix=f"plan-{template.id}", formdata=formdata, **initial)
    form.name.label.text = f"Name of {template.name}"
    form.items.label.text = f"Checklist items of {template.name}, one per line, in order"
    return form


def _list_context(statement, row_form, blank_add_form, forms_key: str, add_form=None, failed=None) -> dict:
    """One page of rows, each with its own edit form (or the one that just failed), and the add form."""
    pagination = paginate(statement, per_page=PER_PAGE)
    row_forms = {row.id: row_form(row) for row in pagination.items}
    if failed is not None:
        row_forms[failed[0]] = failed[1]
    return {
        "pagination": pagination,
        "add_form": add_form or blank_add_form(),
        forms_key: row_forms,
        "can_change": current_membership.role == Role.ADMIN,
    }


def _plans_context(add_form: ActionPlanTemplateForm | None = None,
                   failed: tuple[int, ActionPlanTemplateForm] | None = None) -> dict:
    return _list_context(services.action_plan_templates_statement(), _edit_form,
                         lambda: ActionPlanTemplateForm(prefix="new", formdata=None), "edit_forms", add_form, failed)


def _plan_saved(message: str):
    return _saved(message, "settings.action_plans", PLANS_PAGE, PLANS_FRAGMENT, _plans_context)


def _plan_refused(**context):
    return refused(PLANS_PAGE, PLANS_FRAGMENT, lambda: _plans_context(**context))


@bp.get("/action_plans")
@view_settings
def action_plans():
    return render_page(PLANS_PAGE, PLANS_FRAGMENT, **_plans_context())


@bp.post("/action_plans")
@change_settings
def add_action_plan():
    form = ActionPlanTemplateForm(prefix="new")
    if form.validate_on_submit():
        try:
            template = services.add_action_plan_template(form.name.data, form.item_list())
        except RuleError as error:
            place_error(form, error)
        else:
            return _plan_saved(f"Added the action-plan template {template.name}.")
    return _plan_refused(add_form=form)


@bp.post("/action_plans/<int:plan_template_id>")
@change_settings
def edit_action_plan(plan_template_id: int):
    template = get_or_404(ActionPlanTemplate, plan_template_id)
    form = _edit_form(template, formdata=request.form)
    if form.validate_on_submit():
        try:
            services.update_action_plan_template(template, form.name.data, form.item_list())
        except RuleError as error:
            place_error(form, error)
        else:
            return _plan_saved(f"Saved the action-plan template {template.name}.")
    return _plan_refused(failed=(template.id, form))


@bp.post("/action_plans/<int:plan_template_id>/retire")
@change_settings
def retire_action_plan(plan_template_id: int):
    template = get_or_404(ActionPlanTemplate, plan_template_id)
    services.set_action_plan_template_retired(template, True)
    return _plan_saved(f"Retired {template.name}. It is no longer offered on tickets.")


@bp.post("/action_plans/<int:plan_template_id>/restore")
@change_settings
def restore_action_plan(plan_template_id: int):
    template = get_or_404(ActionPlanTemplate, plan_template_id)
    services.set_action_plan_template_retired(template, False)
    return _plan_saved(f"{template.name} is offered on tickets again.")


def _rename_form(cause: RootCause, formdata=None) -> RootCauseForm:
    initial = {"data": {"label": cause.label}} if formdata is None else {}
    form = RootCauseForm(prefix=f"cause-{cause.id}", formdata=formdata, **initial)
    form.label.label.text = f"New label for {cause.label}"
    return form


def _causes_context(add_form: RootCauseForm | None = None, failed: tuple[int, RootCauseForm] | None = None) -> dict:
    return _list_context(services.root_causes_statement(), _rename_form,
                         lambda: RootCauseForm(prefix="new", formdata=None), "rename_forms", add_form, failed)


def _cause_saved(message: str):
    return _saved(message, "settings.root_causes", CAUSES_PAGE, CAUSES_FRAGMENT, _causes_context)


def _cause_refused(**context):
    return refused(CAUSES_PAGE, CAUSES_FRAGMENT, lambda: _causes_context(**context))


@bp.get("/root_causes")
@view_settings
def root_causes():
    return render_page(CAUSES_PAGE, CAUSES_FRAGMENT, **_causes_context())


@bp.post("/root_causes")
@change_settings
def add_root_cause():
    form = RootCauseForm(prefix="new")
    if form.validate_on_submit():
        try:
            cause = services.add_root_cause(form.label.data)
        except RuleError as error:
            place_error(form, error)
        else:
            return _cause_saved(f"Added the root cause {cause.label}.")
    return _cause_refused(add_form=form)


@bp.post("/root_causes/<int:root_cause_id>/rename")
@change_settings
def rename_root_cause(root_cause_id: int):
    cause = get_or_404(RootCause, root_cause_id)
    form = _rename_form(cause, formdata=request.form)
    if form.validate_on_submit():
        before = cause.label
        try:
            services.rename_root_cause(cause, form.label.data)
        except RuleError as error:
            place_error(form, error)
        else:
            return _cause_saved(f"Renamed {before} to {cause.label}.")
    return _cause_refused(failed=(cause.id, form))


@bp.post("/root_causes/<int:root_cause_id>/retire")
@change_settings
def retire_root_cause(root_cause_id: int):
    cause = get_or_404(RootCause, root_cause_id)
    services.set_root_cause_retired(cause, True)
    return _cause_saved(f"Retired {cause.label}. It is no longer offered when closing a ticket.")


@bp.post("/root_causes/<int:root_cause_id>/restore")
@change_settings
def restore_root_cause(root_cause_id: int):
    cause = get_or_404(RootCause, root_cause_id)
    services.set_root_cause_retired(cause, False)
    return _cause_saved(f"{cause.label} is offered again.")
