"""Helpers for the task, action-plan and SLA tests: make a task or an item, apply and tick plans, read notices."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from app.accounts.models import User
from app.extensions import db
from app.settings.models import ActionPlanTemplate
from app.settings.services import DEFAULT_ACTION_PLANS, get_settings
from app.tenancy import tenant_context
from app.tickets.models import Ticket
from app.workflow import action_plan
from app.workflow.models import ActionPlanItem, ScheduledNotice, Task
from app.notifications import SLA_KINDS
from tests.support.data import answer, make_contact
from tests.support.tickets import HTMX, ticket_url

DEFAULT_PLAN = next(iter(DEFAULT_ACTION_PLANS))
MONDAY_9AM = datetime(2025, 3, 3, 14, 0, tzinfo=timezone.utc)


def notices_of(app, tenant_id: int, ticket_id: int) -> dict[str, dict]:
    """The ticket's SLA notices by kind: due, sent and cancelled times."""
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(select(ScheduledNotice).where(
            ScheduledNotice.ticket_id == ticket_id, ScheduledNotice.kind.in_(SLA_KINDS))).scalars()
        found = {n.kind: {"due_at": n.due_at, "sent_at": n.sent_at, "cancelled_at": n.cancelled_at, "key": n.key}
                 for n in rows}
        db.session.remove()
    return found


def set_sla(app, tenant_id: int, **values) -> None:
    """Change the organisation's workflow settings (e.g. ``business_hours_only=False``)."""
    with app.app_context(), tenant_context(tenant_id):
        settings = get_settings()
        for name, value in values.items():
            setattr(settings, name, value)
        db.session.commit()
        db.session.remove()


def add_plan_item(client, org, ticket_id, htmx=False, **fields):
    data = {"item-title": "Call the payer about denials", "item-owner_id": "", "item-owner_team": "Billing team",
            "item-due_date": "2030-06-03", "item-note": "Ask for the rep's name"}
    data.update(fields)
    return client.post(ticket_url(org, ticket_id, "action-plan/items"), data=data, headers=HTMX if htmx else None)


def tick_item(client, org, item_id, done=True, htmx=True):
    return client.post(f"/t/{org['slug']}/action-plan/items/{item_id}/done", data={"done": "y"} if done else {},
                       headers=HTMX if htmx else None)


def plan_items(app, org, ticket_id) -> list[ActionPlanItem]:
    with app.app_context(), tenant_context(org["tenant_id"]):
        items = db.session.execute(select(ActionPlanItem).where(ActionPlanItem.ticket_id == ticket_id)
                                   .order_by(ActionPlanItem.position)).scalars().all()
        db.session.expunge_all()
        db.session.remove()
    return items


def apply_plan(client, org, ticket_id, template_id, htmx=False):
    return client.post(ticket_url(org, ticket_id, "action-plan"), data={"plan-template_id": str(template_id)},
                       headers=HTMX if htmx else None)


def plan_template_id(app, org, name=DEFAULT_PLAN) -> int:
    with app.app_context(), tenant_context(org["tenant_id"]):
        found = db.session.execute(select(ActionPlanTemplate.id).where(ActionPlanTemplate.name == name)).scalar_one()
        db.session.remove()
    return found


def item_id(app, tenant_id: int) -> int:
    """An action-plan item of a new ticket, from the organisation's default plan."""
    ticket_id = new_ticket(app, tenant_id, "Ivy Item")
    with app.app_context(), tenant_context(tenant_id):
        ticket = db.session.get(Ticket, ticket_id)
        template = db.session.execute(select(ActionPlanTemplate).limit(1)).scalar_one()
        actor = db.session.execute(select(User).limit(1)).scalar_one()
        action_plan.apply_template(ticket, actor, template)
        db.session.commit()
        found = db.session.execute(select(ActionPlanItem.id).where(ActionPlanItem.ticket_id == ticket_id)
                                   .limit(1)).scalar_one()
        db.session.remove()
    return found


def task_id(app, tenant_id: int) -> int:
    """A cadence task of a new ticket."""
    ticket_id = new_ticket(app, tenant_id, "Tess Task")
    with app.app_context(), tenant_context(tenant_id):
        found = db.session.execute(select(Task.id).where(Task.ticket_id == ticket_id).limit(1)).scalar_one()
        db.session.remove()
    return found


def new_ticket(app, tenant_id: int, name: str) -> int:
    response_id = answer(app, tenant_id, make_contact(app, tenant_id, name), 2, "Slow to answer")
    with app.app_context(), tenant_context(tenant_id):
        ticket_id = db.session.execute(select(Ticket.id).where(Ticket.response_id == response_id)).scalar_one()
        db.session.remove()
    return ticket_id
