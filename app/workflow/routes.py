"""Tasks and action plans: the My tasks page, and the task and action-plan panels of a ticket page.

The panels live inside the ticket region, so every change here answers the way a ticket action does
(see :mod:`app.tickets.routes`): a plain post redirects to the ticket page with a flash; an htmx post gets
the re-rendered ticket region (status, progress and the close form all stay in step); a form that does
not validate comes back with status 422 and its messages next to the fields, only that form for htmx.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from app.extensions import db
from app.settings.models import ActionPlanTemplate
from app.settings.services import active_action_plan_templates, get_settings
from app.tenancy import WORKING_ROLES, current_membership, current_tenant, get_or_404, require_role
from app.tickets import routes as ticket_routes
from app.tickets import services as ticket_services
from app.tickets.models import Ticket
from app.timeutil import localize, utcnow
from app.views import render_page
from app.workflow import action_plan
from app.workflow import todos as workflow_tasks
from app.workflow.forms import ApplyPlanForm, DoneForm, ItemForm, TaskForm
from app.workflow.models import ActionPlanItem, Task
from app.workflow.todos import WorkflowRuleError

bp = Blueprint("workflow", __name__, url_prefix="/t/<tenant_slug>")

can_work = require_role(*WORKING_ROLES)


@bp.app_template_global("ticket_workflow")
def ticket_workflow(ticket: Ticket) -> dict:
    """What the ticket page's task and action-plan panels (and the close form) show, loaded once per request.

    A fixed number of queries: the ticket's tasks, its items and, for members who can work it, the
    members who can own an item, the active action plans and the organisation's cadence setting.
    A form that came back with errors (``g.workflow_forms``) is shown in place of the blank one.
    """
    cache = g.setdefault("_ticket_workflow", {})
    if ticket.id in cache:
        return cache[ticket.id]
    tasks = workflow_tasks.ticket_tasks(ticket.id)
    items = action_plan.ticket_items(ticket.id)
    editable = current_membership.role in WORKING_ROLES and ticket.status != "closed"
    now = utcnow()
    context = {
        "now": now, "today": localize(now, current_tenant.timezone).date(),
        "tasks": tasks, "plan_items": items, "progress": action_plan.progress(items), "editable": editable,
        "outreach": workflow_tasks.outreach(ticket.activities, tasks), "forms": {}, "item_forms": {},
    }
    if editable:
        members = ticket_services.assignable_members()
        errored: dict[str, FlaskForm] = g.get("workflow_forms", {})
        task_form = errored.get("task") or TaskForm(prefix="task", formdata=None)
        item_form = errored.get("item") or ItemForm(prefix="item", formdata=None, owner_id=ticket.assignee_id)
        apply_form = errored.get("apply") or ApplyPlanForm(prefix="plan", formdata=None)
        apply_form.set_templates(active_action_plan_templates())
        item_form.set_members(members)
        item_forms = {}
        for item in items:
            form = errored.get(f"item-{item.id}") or ItemForm(prefix=f"item-{item.id}", formdata=None, obj=item)
            form.set_members(members)
            item_forms[item.id] = form
        context.update(forms={"task": task_form, "item": item_form, "apply": apply_form}, item_forms=item_forms,
                       stop_after_cadence=get_settings().stop_after_cadence)
    cache[ticket.id] = context
    return context


def _now_local():
    """The organisation's wall-clock time now, without a timezone (to compare with typed times)."""
    return localize(utcnow(), current_tenant.timezone).replace(tzinfo=None)


def _done(ticket_id: int, message: str, category: str = "success"):
    """Commit and answer as a ticket action does: the ticket region for htmx, else a 303 to the ticket page."""
    return ticket_routes._done(ticket_id, message, category)


# Each form on the panels: its key in ``g.workflow_forms``, the id of its frame, and its template.
TASK_FORM = ("task", "task-form", "workflow/_task_form.html")
ITEM_FORM = ("item", "item-form", "workflow/_item_form.html")
APPLY_FORM = ("apply", "apply-plan", "workflow/_apply_form.html")


def _item_edit_form(item: ActionPlanItem) -> tuple[str, str, str]:
    return f"item-{item.id}", f"item-{item.id}-edit", "workflow/_item_edit.html"


def _invalid(ticket_id: int, form: FlaskForm, name: str, frame: str, fragment: str, **extra):
    """The form again with its messages next to the fields (422): only its frame for htmx."""
    db.session.rollback()
    g.workflow_forms = {name: form}
    ticket = ticket_routes._load(ticket_id)
    html, status, headers = render_page("tickets/show.html", fragment, status=422,
                                        **ticket_routes._ticket_context(ticket), **extra)
    if request.htmx and not request.htmx.boosted:
        headers = {**headers, "HX-Retarget": f"#{frame}", "HX-Reswap": "outerHTML"}
    return html, status, headers


def _refused(ticket_id: int, error: WorkflowRuleError, form: FlaskForm, *frame, **extra):
    """A service refused the change: its message goes next to the field it is about, or, when it is about
    the ticket (closed meanwhile), in a flash over the re-rendered ticket."""
    field = getattr(form, error.field, None) if error.field else None
    if field is None:
        db.session.rollback()
        return _done(ticket_id, str(error), "error")
    field.errors = [*field.errors, str(error)]
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
    except WorkflowRuleError as error:
        return _refused(ticket_id, error, form, *TASK_FORM)
    due = ticket_services.format_due(task.due_at, current_tenant)
    return _done(ticket_id, f"Task “{task.title}” added, due {due}.")


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
    except WorkflowRuleError as error:
        if not from_my_tasks:
            return _refused(ticket.id, error, form)
        db.session.rollback()
        flash(str(error), "error")
        changed = False
    if changed:
        message = f"“{task.title}” done." if task.done_at else f"“{task.title}” is open again."
    else:
        message = f"“{task.title}” was already {'done' if task.done_at else 'open'}."
    if not from_my_tasks:
        return _done(ticket.id, message, "success" if changed else "info")
    db.session.commit()
    if changed:
        flash(message, "success")
    if request.htmx and not request.htmx.boosted:
        return my_tasks()
    return redirect(url_for("workflow.my_tasks"), 303)


# --- Action plan -----------------------------------------------------------------------------------

@bp.post("/tickets/<int:ticket_id>/action-plan")
@can_work
def apply_plan(ticket_id: int):
    ticket = get_or_404(Ticket, ticket_id)
    form = ApplyPlanForm(prefix="plan")
    form.set_templates(active_action_plan_templates())
    if not form.validate_on_submit():
        return _invalid(ticket_id, form, *APPLY_FORM)
    template = get_or_404(ActionPlanTemplate, form.template_id.data)
    try:
        added = action_plan.apply_template(ticket, current_user, template)
    except WorkflowRuleError as error:
        return _refused(ticket_id, error, form, *APPLY_FORM)
    count = f"{len(added)} item{'s' if len(added) != 1 else ''}"
    return _done(ticket_id, f"Action plan “{template.name}” applied: {count} added.")


@bp.post("/tickets/<int:ticket_id>/action-plan/items")
@can_work
def add_item(ticket_id: int):
    ticket = get_or_404(Ticket, ticket_id)
    form = ItemForm(prefix="item")
    form.set_members(ticket_services.assignable_members())
    if not form.validate_on_submit():
        return _invalid(ticket_id, form, *ITEM_FORM)
    try:
        item = action_plan.add_item(ticket, current_user, title=form.title.data, owner_id=form.owner_id.data,
                                    owner_team=form.owner_team.data, due_date=form.due_date.data, note=form.note.data)
    except WorkflowRuleError as error:
        return _refused(ticket_id, error, form, *ITEM_FORM)
    return _done(ticket_id, f"Item “{item.title}” added to the action plan.")


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
    except WorkflowRuleError as error:
        return _refused(ticket.id, error, form, *frame, item_id=item.id)
    return _done(ticket.id, f"Item “{item.title}” saved.")


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
    except WorkflowRuleError as error:
        return _refused(ticket.id, error, form)
    if not changed:
        return _done(ticket.id, f"“{item.title}” was already {'done' if item.done_at else 'open'}.", "info")
    db.session.flush()
    progress = action_plan.progress(action_plan.ticket_items(ticket.id))
    state = "done" if item.done_at else "open again"
    return _done(ticket.id, f"“{item.title}” {state}. Action plan: {progress}.")
