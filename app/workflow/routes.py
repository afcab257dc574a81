"""Tasks and action plans: the My tasks page, and the task and action-plan panels of a ticket page.

The panels live inside the ticket region, so every change here answers the way a ticket action does, through
:mod:`app.tickets.page`: a plain post redirects to the ticket page with a flash; an htmx post gets the
re-rendered ticket region (status, progress and the close form all stay in step); a form that does not
validate, or whose change a service refused with a :class:`~app.rules.RuleError` about one of its fields,
comes back with status 422 and its messages next to the fields, only that form for htmx.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from app.extensions import db
from app.rules import RuleError
from app.settings.models import ActionPlanTemplate
from app.settings.services import active_action_plan_templates
from app.tenancy import WORKING_ROLES, current_membership, current_tenant, get_or_404, require_role
from app.tickets import services as ticket_services
from app.tickets.models import Ticket
from app.tickets.page import once_per_ticket_form, ticket_refused, ticket_saved
from app.timeutil import localize, utcnow
from app.views import place_error, render_page, saved
from app.workflow import action_plan
from app.workflow import todos as workflow_tasks
from app.workflow.forms import ApplyPlanForm, DoneForm, ItemForm, TaskForm
from app.workflow.models import ActionPlanItem, Task

bp = Blueprint("workflow", __name__, url_prefix="/t/<tenant_slug>")

can_work = require_role(*WORKING_ROLES)


def _now_local():
    """The organisation's wall-clock time now, without a timezone (to compare with typed times)."""
    return localize(utcnow(), current_tenant.timezone).replace(tzinfo=None)


# Each form on the panels: its name in the ticket page context, the id of its frame, and its template.
TASK_FORM = ("task", "task-form", "workflow/_task_form.html")
ITEM_FORM = ("item", "item-form", "workflow/_item_form.html")
APPLY_FORM = ("apply", "apply-plan", "workflow/_apply_form.html")


def _item_edit_form(item: ActionPlanItem) -> tuple[str, str, str]:
    return f"item-{item.id}", f"item-{item.id}-edit", "workflow/_item_edit.html"


def _invalid(ticket_id: int, form: FlaskForm, name: str, frame: str, fragment: str, **extra):
    """The form again with its messages next to the fields (422): only its frame for htmx. A closed ticket
    shows no panel forms, so there the answer is the closed ticket's refusal, whatever the form said."""
    try:
        ticket_services.ensure_open(get_or_404(Ticket, ticket_id))
    except RuleError as error:
        return _refused(ticket_id, error, form)
    return ticket_refused(ticket_id, name, form, fragment, frame, **extra)


def _refused(ticket_id: int, error: RuleError, form: FlaskForm, *frame, **extra):
    """A service refused the change: its message goes next to the field it is about, or, when it is about
    the ticket (closed meanwhile), in a flash over the re-rendered ticket."""
    above = place_error(form, error) if frame else str(error)
    if above is not None:
        db.session.rollback()
        return ticket_saved(ticket_id, above, "error")
    return _invalid(ticket_id, form, *frame, **extra)


# --- My tasks --------------------------------------------------------------------------------------

@bp.get("/tasks")
def my_tasks():
    page = workflow_tasks.my_tasks(current_user.id, current_tenant.timezone, request.args.get("after"))
    return render_page("workflow/my_tasks.html", "workflow/_my_tasks.html", tasks=page,
                       groups=workflow_tasks.GROUPS, can_work=current_membership.role in WORKING_ROLES)


# --- Tasks on a ticket -----------------------------------------------------------------------------

@bp.post("/tickets/<int:ticket_id>/tasks")
@can_work
@once_per_ticket_form
def add_task(ticket_id: int):
    ticket = get_or_404(Ticket, ticket_id)
    form = TaskForm(prefix="task", now_local=_now_local())
    if not form.validate_on_submit():
        return _invalid(ticket_id, form, *TASK_FORM)
    tz = current_tenant.timezone
    try:
        task = workflow_tasks.add_task(
            ticket, current_user, title=form.title.data, due_at=workflow_tasks.local_to_utc(form.due_at.data, tz),
            remind_at=workflow_tasks.local_to_utc(form.remind_at.data, tz) if form.remind_at.data else None,
        )
    except RuleError as error:
        return _refused(ticket_id, error, form, *TASK_FORM)
    due = ticket_services.format_due(task.due_at, current_tenant)
    return ticket_saved(ticket_id, f"Task added, due {due}.", tab="task")


@bp.post("/tasks/<int:task_id>/done")
@can_work
def set_task_done(task_id: int):
    task = get_or_404(Task, task_id)
    ticket = get_or_404(Ticket, task.ticket_id)
    form = DoneForm()
    if not form.validate_on_submit():
        abort(400)
    from_my_tasks = request.form.get("back") == "tasks"
    try:
        changed = workflow_tasks.set_task_done(task, ticket, bool(form.done.data))
    except RuleError as error:
        if not from_my_tasks:
            return _refused(ticket.id, error, form)
        db.session.rollback()
        flash(str(error), "error")
        changed = False
    if changed:
        message = "Task done." if task.done_at else "Task open again."
    else:
        message = f"The task was already {'done' if task.done_at else 'open'}."
    if not from_my_tasks:
        return ticket_saved(ticket.id, message, "success" if changed else "info")
    return saved(message if changed else None, url_for("workflow.my_tasks"), my_tasks)


# --- Action plan -----------------------------------------------------------------------------------

@bp.post("/tickets/<int:ticket_id>/action-plan")
@can_work
@once_per_ticket_form
def apply_plan(ticket_id: int):
    ticket = get_or_404(Ticket, ticket_id)
    form = ApplyPlanForm(prefix="plan")
    form.set_templates(active_action_plan_templates())
    if not form.validate_on_submit():
        return _invalid(ticket_id, form, *APPLY_FORM)
    template = get_or_404(ActionPlanTemplate, form.template_id.data)
    try:
        added = action_plan.apply_template(ticket, current_user, template)
    except RuleError as error:
        return _refused(ticket_id, error, form, *APPLY_FORM)
    count = f"{len(added)} item{'s' if len(added) != 1 else ''}"
    return ticket_saved(ticket_id, f"Action plan “{template.name}” applied: {count} added.")


@bp.post("/tickets/<int:ticket_id>/action-plan/items")
@can_work
@once_per_ticket_form
def add_item(ticket_id: int):
    ticket = get_or_404(Ticket, ticket_id)
    form = ItemForm(prefix="item")
    form.set_members(ticket_services.assignable_members())
    if not form.validate_on_submit():
        return _invalid(ticket_id, form, *ITEM_FORM)
    try:
        action_plan.add_item(ticket, current_user, title=form.title.data, owner_id=form.owner_id.data,
                             owner_team=form.owner_team.data, due_date=form.due_date.data, note=form.note.data)
    except RuleError as error:
        return _refused(ticket_id, error, form, *ITEM_FORM)
    return ticket_saved(ticket_id, "Item added to the action plan.")


@bp.post("/action-plan/items/<int:item_id>")
@can_work
def update_item(item_id: int):
    item = get_or_404(ActionPlanItem, item_id)
    ticket = get_or_404(Ticket, item.ticket_id)
    frame = _item_edit_form(item)
    form = ItemForm(prefix=frame[0])
    form.set_members(ticket_services.assignable_members())
    if not form.validate_on_submit():
        return _invalid(ticket.id, form, *frame, item_id=item.id)
    try:
        action_plan.update_item(item, ticket, title=form.title.data, owner_id=form.owner_id.data,
                                owner_team=form.owner_team.data, due_date=form.due_date.data, note=form.note.data)
    except RuleError as error:
        return _refused(ticket.id, error, form, *frame, item_id=item.id)
    return ticket_saved(ticket.id, "Item saved.")


@bp.post("/action-plan/items/<int:item_id>/done")
@can_work
def set_item_done(item_id: int):
    item = get_or_404(ActionPlanItem, item_id)
    ticket = get_or_404(Ticket, item.ticket_id)
    form = DoneForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        changed = action_plan.set_item_done(item, ticket, current_user, bool(form.done.data))
    except RuleError as error:
        return _refused(ticket.id, error, form)
    if not changed:
        return ticket_saved(ticket.id, f"The item was already {'done' if item.done_at else 'open'}.", "info")
    db.session.flush()
    progress = action_plan.progress(action_plan.ticket_items(ticket.id))
    state = "done" if item.done_at else "open again"
    return ticket_saved(ticket.id, f"Item {state}. Action plan: {progress}.")
