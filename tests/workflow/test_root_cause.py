"""Closing a ticket: root causes are required, "resolved" waits for the action plan (unless a manager says why),
and the board filters closed tickets by root cause."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.settings.models import RootCause
from app.tenancy import tenant_context, unscoped
from app.tickets.models import Ticket, ticket_root_cause
from app.timeutil import utcnow
from app.workflow.models import ActionPlanItem, ScheduledNotice
from tests.support.data import login
from tests.support.html import choice, field_error, label
from tests.support.tickets import (
    HTMX,
    column_html,
    open_ticket,
    squash,
    ticket_state,
    ticket_url,
    timeline_html,
)
from tests.support.workflow import add_plan_item, apply_plan, plan_items, plan_template_id, tick_item


def _cause_ids(app, org, *labels) -> list[int]:
    with app.app_context(), tenant_context(org["tenant_id"]):
        ids = {c.label: c.id for c in db.session.execute(select(RootCause)).scalars()}
        db.session.remove()
    return [ids[label] for label in labels]


def _close(client, org, ticket_id, outcome="resolved", causes=(), htmx=False, **extra):
    data = {"close-outcome": outcome, "close-note": "Walked them through the corrected invoice.",
            "close-root_causes": [str(c) for c in causes], **extra}
    return client.post(ticket_url(org, ticket_id, "close"), data=data, headers=HTMX if htmx else None)


def _stored_causes(app, org, ticket_id) -> list[str]:
    with app.app_context(), tenant_context(org["tenant_id"]):
        labels = [c.label for c in db.session.get(Ticket, ticket_id).root_causes]
        db.session.remove()
    return labels


def test_closing_needs_a_root_cause_with_the_message_next_to_the_field(app, org, as_member):
    ticket_id = open_ticket(app, org)
    response = _close(as_member("agent"), org, ticket_id, htmx=True)
    assert response.status_code == 422 and response.headers["HX-Retarget"] == "#action-close"
    fragment = response.get_data(as_text=True)
    assert "<legend>Root causes</legend>" in fragment
    assert field_error(fragment, "close-root_causes") == "Choose at least one root cause."
    assert ticket_state(app, org["tenant_id"], ticket_id)["status"] == "new"


def test_closing_stores_the_chosen_root_causes_and_shows_them_on_the_ticket(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    response = _close(client, org, ticket_id, causes=_cause_ids(app, org, "Billing errors", "Communication"))
    assert response.status_code == 303
    assert _stored_causes(app, org, ticket_id) == ["Billing errors", "Communication"]
    with app.app_context(), tenant_context(org["tenant_id"]):
        rows = db.session.execute(unscoped(select(ticket_root_cause))).all()
        assert {row.tenant_id for row in rows} == {org["tenant_id"]} and len(rows) == 2
    state = ticket_state(app, org["tenant_id"], ticket_id)
    assert state["outcome"] == "resolved"
    assert state["activities"][0][3]["root_causes"] == ["Billing errors", "Communication"]
    page = squash(client.get(ticket_url(org, ticket_id)).get_data(as_text=True))
    billing = _cause_ids(app, org, "Billing errors")[0]
    assert f'<a href="/t/{org["slug"]}/?cause={billing}" title="Closed tickets with this root cause">Billing errors</a>' in page


def test_retired_root_causes_are_not_offered_nor_accepted(app, org, as_member):
    ticket_id = open_ticket(app, org)
    [cost] = _cause_ids(app, org, "Cost")
    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.get(RootCause, cost).retired_at = utcnow()
        db.session.commit()
    client = as_member("agent")
    page = client.get(ticket_url(org, ticket_id)).get_data(as_text=True)
    [billing] = _cause_ids(app, org, "Billing errors")
    assert choice(page, "close-root_causes", str(billing)) == ("Billing errors", False)
    assert choice(page, "close-root_causes", str(cost)) is None
    response = _close(client, org, ticket_id, causes=[cost])
    assert response.status_code == 422
    assert "Choose root causes from the list." in response.get_data(as_text=True)
    assert _stored_causes(app, org, ticket_id) == []


def test_another_organisations_root_cause_is_not_accepted(app, org, other_org, as_member):
    ticket_id = open_ticket(app, org)
    with app.app_context(), tenant_context(other_org["tenant_id"]):
        foreign = db.session.execute(select(RootCause.id).limit(1)).scalar_one()
    response = _close(as_member("agent"), org, ticket_id, causes=[foreign])
    assert response.status_code == 422
    assert ticket_state(app, org["tenant_id"], ticket_id)["status"] == "new"


def _plan_with_open_items(app, org, client) -> int:
    ticket_id = open_ticket(app, org)
    apply_plan(client, org, ticket_id, plan_template_id(app, org))
    for item in plan_items(app, org, ticket_id)[:5]:
        tick_item(client, org, item.id)
    return ticket_id


def test_resolved_is_refused_for_an_agent_while_action_plan_items_are_open(app, org, as_member):
    client = as_member("agent")
    ticket_id = _plan_with_open_items(app, org, client)
    page = squash(client.get(ticket_url(org, ticket_id)).get_data(as_text=True))
    assert "“Resolved” needs every action-plan item done (2 open); a manager can close it anyway with a reason." in page
    assert 'id="close-override_reason"' not in page
    response = _close(client, org, ticket_id, causes=_cause_ids(app, org, "Staff"), htmx=True,
                      **{"close-override_reason": "I say so"})
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "close-outcome") == (
        "2 action-plan items are still open. Finish them first, or ask a manager to close the ticket.")
    assert ticket_state(app, org["tenant_id"], ticket_id)["status"] == "action_plan"
    # Other outcomes are not held back by the plan.
    assert _close(client, org, ticket_id, "not_resolved", _cause_ids(app, org, "Staff")).status_code == 303


def test_a_manager_must_give_a_reason_to_close_resolved_with_open_items(app, org, as_member):
    client = as_member("manager")
    ticket_id = _plan_with_open_items(app, org, client)
    page = client.get(ticket_url(org, ticket_id)).get_data(as_text=True)
    assert label(page, "close-override_reason") == "Reason for closing as resolved with action-plan items open"
    response = _close(client, org, ticket_id, causes=_cause_ids(app, org, "Staff"), htmx=True)
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "close-override_reason") == (
        "2 action-plan items are still open. Give the reason for closing it as resolved anyway.")
    assert ticket_state(app, org["tenant_id"], ticket_id)["status"] == "action_plan"


def test_a_manager_closes_resolved_with_open_items_and_the_reason_goes_in_the_timeline(app, org, as_member):
    client = as_member("manager")
    ticket_id = _plan_with_open_items(app, org, client)
    response = _close(client, org, ticket_id, causes=_cause_ids(app, org, "Staff"), htmx=True,
                      **{"close-override_reason": "Training is booked for next quarter; the customer is happy."})
    assert response.status_code == 200
    state = ticket_state(app, org["tenant_id"], ticket_id)
    assert (state["status"], state["outcome"]) == ("closed", "resolved")
    kind, actor, body, details = state["activities"][0]
    assert (kind, actor) == ("closed", org["manager"])
    assert details["override_reason"] == "Training is booked for next quarter; the customer is happy."
    assert details["open_items"] == 2
    timeline = squash(timeline_html(response.get_data(as_text=True)))
    assert ("Closed as resolved with 2 action-plan items open: Training is booked for next quarter; the customer is "
            "happy.") in timeline


def test_resolved_is_allowed_once_every_item_is_done(app, org, as_member):
    client = as_member("agent")
    ticket_id = _plan_with_open_items(app, org, client)
    for item in plan_items(app, org, ticket_id)[5:]:
        tick_item(client, org, item.id)
    assert _close(client, org, ticket_id, causes=_cause_ids(app, org, "Staff")).status_code == 303
    assert ticket_state(app, org["tenant_id"], ticket_id)["outcome"] == "resolved"


def test_closing_cancels_the_reminders_and_overdue_notices_still_owed(app, org, as_member):
    client = as_member("agent")
    ticket_id = open_ticket(app, org)
    add_plan_item(client, org, ticket_id)
    _close(client, org, ticket_id, "not_resolved", _cause_ids(app, org, "Cost"))
    with app.app_context(), tenant_context(org["tenant_id"]):
        owed = db.session.execute(select(ScheduledNotice.key).where(
            ScheduledNotice.kind.in_(("task_reminder", "item_overdue")), ScheduledNotice.cancelled_at.is_(None),
            ScheduledNotice.sent_at.is_(None))).scalars().all()
        assert db.session.execute(select(ActionPlanItem)).scalar_one().done_at is None
    assert owed == []
    page = client.get(ticket_url(org, ticket_id)).get_data(as_text=True)
    assert 'type="checkbox"' not in page  # a closed ticket's plan and tasks are read-only


def test_the_board_filters_closed_tickets_by_root_cause(app, org, as_member):
    client = as_member("agent")
    billing, staff = _cause_ids(app, org, "Billing errors", "Staff")
    first, second, still_open = (open_ticket(app, org, name) for name in ("Ann Billing", "Bo Staff", "Cy Open"))
    _close(client, org, first, "not_resolved", [billing])
    _close(client, org, second, "not_resolved", [staff])
    page = squash(client.get(f"/t/{org['slug']}/?cause={billing}").get_data(as_text=True))
    closed = column_html(page, "closed")
    assert "Ann Billing" in closed and "Bo Staff" not in closed
    assert "Root cause: <strong>Billing errors</strong>" in closed
    assert "Cy Open" in column_html(page, "new")  # working columns are not filtered
    everything = client.get(f"/t/{org['slug']}/?cause=nonsense").get_data(as_text=True)
    assert "Ann Billing" in everything and "Bo Staff" in everything and "Root cause:" not in everything


def test_a_root_cause_of_another_organisation_does_not_filter_the_board(app, org, other_org):
    with app.app_context(), tenant_context(org["tenant_id"]):
        ours = db.session.execute(select(RootCause.id).limit(1)).scalar_one()
    client = app.test_client()
    login(client, app, other_org["admin"])
    page = client.get(f"/t/{other_org['slug']}/?cause={ours}").get_data(as_text=True)
    assert "Root cause:" not in page
