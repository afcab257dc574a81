"""Everything the ticket page and its fragments show, built in one place.

The ticket routes (:mod:`app.tickets.routes`) and the task and action-plan routes (:mod:`app.workflow.routes`)
both answer with the ticket region or one of its forms; both build what the templates need with
:func:`ticket_page_context`, so a template never runs a query and a form that came back with errors travels
as an argument, not through ``g``.
"""
from __future__ import annotations

from flask import abort, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from app.customers.forms import AtRiskForm
from app.customers.models import CustomerAccount
from app.feedback import recovery
from app.settings.services import active_action_plan_templates, get_settings
from app.submissions import once
from app.tenancy import WORKING_ROLES, current_membership, current_tenant, current_tenant_id
from app.tickets import services
from app.notifications import personal
from app.tickets.forms import CallForm, CloseForm, ComposeForm, EmailForm, NoteForm, ReassignForm, StatusForm
from app.tickets.models import CALL_OUTCOMES, EMAIL_DIRECTIONS, OUTCOMES, STATUSES, Status, Ticket
from app.timeutil import localize, utcnow
from app.workflow import action_plan
from app.workflow import todos as workflow_tasks
from app.views import refused, render_page, saved
from app.workflow.forms import ApplyPlanForm, ItemForm, TaskForm

PAGE = "tickets/show.html"
REGION = "tickets/_ticket.html"

# The action forms on a ticket page, by the name of their template in tickets/forms/.
ACTION_FORMS = {
    "call": CallForm, "compose": ComposeForm, "email": EmailForm, "note": NoteForm,
    "reassign": ReassignForm, "status": StatusForm, "close": CloseForm,
}
LABELS = {"STATUSES": STATUSES, "OUTCOMES": OUTCOMES, "CALL_OUTCOMES": CALL_OUTCOMES,
          "EMAIL_DIRECTIONS": EMAIL_DIRECTIONS, "EMAIL_TEMPLATES": personal.TEMPLATES}

# The activity composer's tabs, and the panel (form) each shows. The Email tab sends an email, or with
# ``?tab=email-log`` logs one sent or received elsewhere. Status, assignee and close live in the header.
TABS = {"call": "Call", "email": "Email", "note": "Note", "task": "Task"}
PANELS = {"call": "call", "email": "compose", "email-log": "email", "note": "note", "task": "task"}
TAB_OF_PANEL = {"call": "call", "compose": "email", "email": "email-log", "note": "note", "task": "task"}
CLOSED_PANELS = ("note",)


def chosen_tab(ticket: Ticket, forms: dict[str, FlaskForm], tab: str | None = None) -> str:
    """The composer tab to show: the one a form came back with errors on, else the one asked for (``tab``, or
    ``?tab=`` in the URL), else Call (Note on a closed ticket, which takes only notes)."""
    for name in forms:
        if name in TAB_OF_PANEL:
            return TAB_OF_PANEL[name]
    tab = tab or request.args.get("tab")
    closed = ticket.status == Status.CLOSED
    if tab in PANELS and (not closed or PANELS[tab] in CLOSED_PANELS):
        return tab
    return "note" if closed else "call"


def chosen_template(value: str | None = None) -> str:
    """The template a new email starts from: ``?template=`` when it names one, else the second outreach."""
    value = value or request.args.get("template")
    return value if value in personal.TEMPLATES else "second_outreach"


def load_ticket(ticket_id: int) -> Ticket:
    """The ticket with everything its page shows; missing and other tenants' tickets are the same 404."""
    ticket = services.load_ticket_page(ticket_id)
    if ticket is None or ticket.tenant_id != current_tenant_id():
        abort(404)
    return ticket


def account_of(ticket: Ticket) -> CustomerAccount | None:
    """The account a ticket is about: the one it opened under, else the contact's account now."""
    return ticket.account or ticket.contact.account


def _account_panel(ticket: Ticket, forms: dict[str, FlaskForm]) -> dict:
    """The account panel (tickets/_account_panel.html): the account, and the "Save / At risk" form for members
    who can work an open ticket."""
    account = account_of(ticket)
    can_mark = (account is not None and current_membership.role in WORKING_ROLES
                and ticket.status != Status.CLOSED)
    return {"account": account,
            "form": forms.get("at_risk") or (AtRiskForm(prefix="at_risk", formdata=None) if can_mark else None)}


def action_form(action: str, **values) -> FlaskForm:
    """One ticket action form. Each has its own prefix, so ids and names never clash on the ticket page."""
    return ACTION_FORMS[action](prefix=action, **values)


def _blank_action_forms(ticket: Ticket, panel: str, template: str) -> dict[str, FlaskForm]:
    """Fresh action forms, filled with the ticket's current values where that helps: the email on the
    composer's Email tab and the closing follow-up start from the organisation's templates, merged."""
    open_ticket = ticket.status != Status.CLOSED
    keys = ([template] if panel == "compose" else []) + (["closing_followup"] if open_ticket else [])
    drafts = personal.drafts(dict.fromkeys(keys), ticket, current_user) if keys else {}
    forms = {
        "call": action_form("call", formdata=None, called=ticket.contact.name),
        "email": action_form("email", formdata=None),
        "note": action_form("note", formdata=None),
        "reassign": action_form("reassign", formdata=None, assignee_id=ticket.assignee_id),
        "status": action_form("status", formdata=None,
                              status=ticket.status if ticket.status != Status.CLOSED else Status.ACTION_PLAN),
        "close": action_form("close", formdata=None),
    }
    if "closing_followup" in drafts:
        followup = drafts["closing_followup"]
        forms["close"].followup_subject.data = followup.subject
        forms["close"].followup_body.data = followup.text.strip()
    if panel == "compose":
        draft = drafts[template]
        forms["compose"] = action_form("compose", formdata=None, template=template, to=ticket.contact.email,
                                       subject=draft.subject, body=draft.text.strip())
    return forms


def _workflow(ticket: Ticket, members: list, forms: dict[str, FlaskForm]) -> dict:
    """The task and action-plan panels (and what the close form says about them).

    A fixed number of queries: the ticket's tasks and items and, for members who can work it, the active
    action plans and the organisation's cadence setting (``members`` is already loaded).
    """
    tasks = workflow_tasks.ticket_tasks(ticket.id)
    items = action_plan.ticket_items(ticket.id)
    editable = current_membership.role in WORKING_ROLES and ticket.status != Status.CLOSED
    now = utcnow()
    context = {
        "now": now, "today": localize(now, current_tenant.timezone).date(),
        "tasks": tasks, "plan_items": items, "progress": action_plan.progress(items), "editable": editable,
        "outreach": workflow_tasks.outreach(ticket.activities, tasks), "forms": {}, "item_forms": {},
    }
    if editable:
        task_form = forms.get("task") or TaskForm(prefix="task", formdata=None)
        item_form = forms.get("item") or ItemForm(prefix="item", formdata=None, owner_id=ticket.assignee_id)
        apply_form = forms.get("apply") or ApplyPlanForm(prefix="plan", formdata=None)
        apply_form.set_templates(active_action_plan_templates())
        item_form.set_members(members)
        item_forms = {}
        for item in items:
            form = forms.get(f"item-{item.id}") or ItemForm(prefix=f"item-{item.id}", formdata=None, obj=item)
            form.set_members(members)
            item_forms[item.id] = form
        context.update(forms={"task": task_form, "item": item_form, "apply": apply_form}, item_forms=item_forms,
                       stop_after_cadence=get_settings().stop_after_cadence)
    return context


def ticket_page_context(ticket: Ticket, forms: dict[str, FlaskForm] | None = None,
                        errors: dict[str, str] | None = None, tab: str | None = None, **extra) -> dict:
    """What ``tickets/show.html`` and every fragment of it need, for the current member.

    ``forms`` are forms that came back with errors, by name: a ticket action (``call``, ``compose``,
    ``close``, …) or a panel form (``task``, ``item``, ``apply``, ``item-<id>``); they are shown in place of
    the blank ones, and the composer opens on the tab of the one that did. ``errors`` are messages shown
    above a ticket action form, by action. ``tab`` is the composer tab to show (else ``?tab=``). A closed
    ticket offers only a note and a move (which reopens it). ``extra`` is passed through (an email preview).
    """
    forms = forms or {}
    can_work = current_membership.role in WORKING_ROLES
    members = services.assignable_members() if can_work else []
    tab = chosen_tab(ticket, forms, tab)
    panel = PANELS[tab]
    template = chosen_template(forms["compose"].template.data if "compose" in forms else None)
    closed = ticket.status == Status.CLOSED
    context = {"ticket": ticket, "can_work": can_work, "forms": {}, "rule_error": errors or {},
               "wf": _workflow(ticket, members, forms), "account_panel": _account_panel(ticket, forms),
               "followup": recovery.followup_response(ticket.id) if ticket.closed_at else None,
               "tab": tab, "panel": panel, "template": template,
               "tabs": {key: label for key, label in TABS.items() if not closed or PANELS[key] in CLOSED_PANELS},
               "show_close": not closed or "close" in forms, "email_preview": None, **LABELS, **extra}
    if can_work:
        context["forms"] = {**_blank_action_forms(ticket, panel, template),
                            **{k: f for k, f in forms.items() if k in ACTION_FORMS}}
        context["forms"]["reassign"].set_members(members, ticket.assignee_id)
        if panel == "compose":
            context["forms"]["compose"].set_copies(services.copy_candidates(ticket))
    return context


def ticket_region(ticket_id: int, tab: str | None = None, **_view_args):
    """The ticket region as it is now, for htmx (the composer on ``tab``, else the URL's or the default)."""
    return render_page(PAGE, REGION, **ticket_page_context(load_ticket(ticket_id), tab=tab))


# Every post of a ticket form (actions, tasks, action plan) does its work once per submission key; a repeat
# answers htmx with the ticket as it is now (see app.submissions).
once_per_ticket_form = once(region=ticket_region)


def ticket_saved(ticket_id: int, message: str, category: str = "success", tab: str | None = None):
    """After a change to a ticket (its actions, tasks or action plan): commit and answer with the re-rendered
    ticket region for htmx (the composer staying on ``tab``), else a 303 to the ticket page."""
    return saved(message, url_for("tickets.show", ticket_id=ticket_id), lambda: ticket_region(ticket_id, tab),
                 category)


def ticket_refused(ticket_id: int, name: str, form: FlaskForm, fragment: str, target: str,
                   error: str | None = None, **extra):
    """A ticket form (action or panel) that was refused: the page again with ``form``'s messages next to its
    fields and ``error`` above it (422); for htmx only ``fragment``, swapped over the element ``target``."""
    return refused(PAGE, fragment,
                   lambda: {**ticket_page_context(load_ticket(ticket_id), {name: form},
                                                  {name: error} if error else None), **extra},
                   target=target)
