"""Tests for tasks, the outreach cadence, action plans and root causes.

The helpers here make one object of a kind for a tenant (used by the outsider-404 test in tests/test_tenancy.py).
"""
from __future__ import annotations

from sqlalchemy import select

from app.accounts.models import User
from app.extensions import db
from app.settings.models import ActionPlanTemplate
from app.tenancy import tenant_context
from app.tickets.models import Ticket
from app.workflow import action_plan
from app.workflow.models import ActionPlanItem, Task
from tests.conftest import answer, make_contact


def _new_ticket(app, tenant_id: int, name: str) -> int:
    response_id = answer(app, tenant_id, make_contact(app, tenant_id, name), 2, "Slow to answer")
    with app.app_context(), tenant_context(tenant_id):
        ticket_id = db.session.execute(select(Ticket.id).where(Ticket.response_id == response_id)).scalar_one()
        db.session.remove()
    return ticket_id


def task_id(app, tenant_id: int) -> int:
    """A cadence task of a new ticket."""
    ticket_id = _new_ticket(app, tenant_id, "Tess Task")
    with app.app_context(), tenant_context(tenant_id):
        found = db.session.execute(select(Task.id).where(Task.ticket_id == ticket_id).limit(1)).scalar_one()
        db.session.remove()
    return found


def item_id(app, tenant_id: int) -> int:
    """An action-plan item of a new ticket, from the organisation's default plan."""
    ticket_id = _new_ticket(app, tenant_id, "Ivy Item")
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
