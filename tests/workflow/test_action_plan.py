"""The action plan on a ticket: applying a template, items with owners and due dates, ticking them, progress."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from app.extensions import db
from app.settings.models import ActionPlanTemplate
from app.settings.services import DEFAULT_ACTION_PLANS
from app.tenancy import tenant_context
from app.timeutil import utcnow
from app.workflow.models import ScheduledNotice
from tests.support.html import checked, field_error, label, shown_status, text
from tests.support.tickets import (
    HTMX,
    bulk_tickets,
    count_queries,
    open_ticket,
    squash,
    ticket_state,
    ticket_url,
    timeline_html,
)
from tests.support.workflow import DEFAULT_PLAN, add_plan_item, apply_plan, plan_items, plan_template_id, tick_item

UTC = timezone.utc


def _notice(app, org, item_id):
    with app.app_context(), tenant_context(org["tenant_id"]):
        notice = db.session.execute(
            select(ScheduledNotice).where(ScheduledNotice.key == f"item:{item_id}:overdue")).scalar_one_or_none()
        state = None if notice is None else (notice.kind, notice.due_at, notice.item_id, notice.cancelled_at is not None)
        db.session.remove()
    return state


def test_applying_a_plan_adds_its_items_owned_by_the_assignee_and_moves_the_ticket_to_action_plan(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    response = apply_plan(client, org, ticket_id, plan_template_id(app, org), htmx=True)
    assert response.status_code == 200
    fragment = squash(response.get_data(as_text=True))
    items = plan_items(app, org, ticket_id)
    assert [item.title for item in items] == DEFAULT_ACTION_PLANS[DEFAULT_PLAN]
    assert {item.owner_id for item in items} == {org["agent"]} and all(i.done_at is None for i in items)
    assert f"Action plan “{DEFAULT_PLAN}” applied: 7 items added." in fragment
    assert "Action plan 0 of 7 done" in text(fragment)
    assert shown_status(fragment) == "Action plan"
    state = ticket_state(app, org["tenant_id"], ticket_id)
    assert state["status"] == "action_plan"
    assert ("status", org["agent"], None, {"previous": "new", "status": "action_plan"}) in state["activities"]
    assert "Alex Agent moved the ticket from New to Action plan." in text(timeline_html(fragment))


def test_applying_the_same_plan_again_adds_nothing_and_says_so_next_to_the_field(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    apply_plan(client, org, ticket_id, plan_template_id(app, org))
    response = apply_plan(client, org, ticket_id, plan_template_id(app, org), htmx=True)
    assert response.status_code == 422 and response.headers["HX-Retarget"] == "#apply-plan"
    assert field_error(response.get_data(as_text=True), "plan-template_id") == (
        f"Every item of “{DEFAULT_PLAN}” is already on this ticket.")
    assert len(plan_items(app, org, ticket_id)) == 7


def test_a_retired_plan_is_not_offered_and_cannot_be_applied(app, org, as_member):
    ticket_id = open_ticket(app, org)
    template_id = plan_template_id(app, org)
    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.get(ActionPlanTemplate, template_id).retired_at = utcnow()
        db.session.commit()
    client = as_member("agent")
    assert DEFAULT_PLAN not in client.get(ticket_url(org, ticket_id)).get_data(as_text=True)
    response = apply_plan(client, org, ticket_id, template_id)
    assert response.status_code == 422
    assert "Choose one of the organisation&#39;s active action plans." in response.get_data(as_text=True)
    assert plan_items(app, org, ticket_id) == []


def test_a_plan_that_names_a_team_gives_that_item_to_the_team(app, org, as_member):
    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.add(ActionPlanTemplate(name="Coding", items=[
            "Coding review", {"title": "Payer call", "owner_team": "Billing team"}]))
        db.session.commit()
    ticket_id = open_ticket(app, org)
    apply_plan(as_member("agent"), org, ticket_id, plan_template_id(app, org, "Coding"))
    assert [(i.title, i.owner_id, i.owner_team) for i in plan_items(app, org, ticket_id)] == [
        ("Coding review", org["agent"], None), ("Payer call", None, "Billing team")]


def test_an_item_with_a_due_date_owes_an_overdue_notice_at_the_end_of_that_day_in_the_org_timezone(app, org, as_member):
    ticket_id = open_ticket(app, org)
    response = add_plan_item(as_member("agent"), org, ticket_id)
    assert response.status_code == 303
    [item] = plan_items(app, org, ticket_id)
    assert (item.title, item.owner_id, item.owner_team, item.due_date, item.note) == (
        "Call the payer about denials", None, "Billing team", date(2030, 6, 3), "Ask for the rep's name")
    # Midnight at the end of 3 June in New York (UTC-4 in summer).
    assert _notice(app, org, item.id) == ("item_overdue", datetime(2030, 6, 4, 4, 0, tzinfo=UTC), item.id, False)
    assert ticket_state(app, org["tenant_id"], ticket_id)["status"] == "action_plan"


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"item-title": ""}, "item-title", "Name the item."),
    ({"item-owner_team": ""}, "item-owner_id", "Choose who owns this item, or type the team that does."),
    ({"item-owner_id": "{agent}"}, "item-owner_team", "Choose a member or type a team, not both."),
    ({"item-owner_id": "999999", "item-owner_team": ""}, "item-owner_id", "Choose an active member of the team."),
    ({"item-due_date": "soon"}, "item-due_date", "Enter a date, like 2025-03-14."),
])
def test_item_form_errors_sit_next_to_the_field_and_nothing_is_saved(app, org, as_member, fields, field, message):
    ticket_id = open_ticket(app, org)
    fields = {k: v.format(agent=org["agent"]) for k, v in fields.items()}
    response = add_plan_item(as_member("agent"), org, ticket_id, htmx=True, **fields)
    assert response.status_code == 422 and response.headers["HX-Retarget"] == "#item-form"
    assert field_error(response.get_data(as_text=True), field) == message
    assert plan_items(app, org, ticket_id) == []
    assert ticket_state(app, org["tenant_id"], ticket_id)["status"] == "new"


def test_ticking_an_item_updates_progress_at_once_and_cancels_its_overdue_notice(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    add_plan_item(client, org, ticket_id)
    add_plan_item(client, org, ticket_id, **{"item-title": "AR review", "item-owner_id": str(org["manager"]),
                                        "item-owner_team": ""})
    first, second = plan_items(app, org, ticket_id)

    response = tick_item(client, org, first.id)
    assert response.status_code == 200
    fragment = squash(response.get_data(as_text=True))
    assert "Item done. Action plan: 1 of 2 done." in fragment
    assert "Action plan 1 of 2 done" in text(fragment)
    assert label(fragment, f"item-{first.id}-done") == "Call the payer about denials"
    assert checked(fragment, f"item-{first.id}-done")
    assert "Owner: Mia Manager" in fragment
    done = plan_items(app, org, ticket_id)[0]
    assert done.done_at is not None and done.done_by_id == org["agent"]
    assert _notice(app, org, first.id)[3] is True

    # Unticking (the box posts without "done") opens it again and owes the notice again.
    assert tick_item(client, org, first.id, done=False, htmx=False).status_code == 303
    assert plan_items(app, org, ticket_id)[0].done_at is None
    assert _notice(app, org, first.id)[3] is False


def test_editing_an_item_changes_its_owner_and_moves_its_overdue_notice(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    add_plan_item(client, org, ticket_id)
    [item] = plan_items(app, org, ticket_id)
    prefix = f"item-{item.id}"
    response = client.post(f"/t/{org['slug']}/action-plan/items/{item.id}", headers=HTMX, data={
        f"{prefix}-title": "Call the payer", f"{prefix}-owner_id": str(org["agent"]), f"{prefix}-owner_team": "",
        f"{prefix}-due_date": "2030-07-01", f"{prefix}-note": ""})
    assert response.status_code == 200 and "Item saved." in response.get_data(as_text=True)
    [item] = plan_items(app, org, ticket_id)
    assert (item.title, item.owner_id, item.owner_team, item.due_date, item.note) == (
        "Call the payer", org["agent"], None, date(2030, 7, 1), None)
    assert _notice(app, org, item.id)[1] == datetime(2030, 7, 2, 4, 0, tzinfo=UTC)

    bad = client.post(f"/t/{org['slug']}/action-plan/items/{item.id}", headers=HTMX, data={
        f"{prefix}-title": "", f"{prefix}-owner_id": str(org["agent"])})
    assert bad.status_code == 422 and bad.headers["HX-Retarget"] == f"#{prefix}-edit"
    assert field_error(bad.get_data(as_text=True), f"{prefix}-title") == "Name the item."

    cleared = client.post(f"/t/{org['slug']}/action-plan/items/{item.id}", data={
        f"{prefix}-title": "Call the payer", f"{prefix}-owner_id": str(org["agent"]), f"{prefix}-due_date": ""})
    assert cleared.status_code == 303
    assert _notice(app, org, item.id)[3] is True  # no due date: nothing owed


def test_board_cards_show_action_plan_progress_without_extra_queries(app, org, as_member):
    client = as_member("manager")
    first = open_ticket(app, org, "Ann Plan")
    board = f"/t/{org['slug']}/"
    client.get(board)
    with count_queries(app) as before:
        client.get(board)
    apply_plan(client, org, first, plan_template_id(app, org))
    for item in plan_items(app, org, first)[:2]:
        tick_item(client, org, item.id)
    bulk_tickets(app, org["tenant_id"], 15, status="action_plan")  # older, so the card stays among the 20 shown
    with count_queries(app) as after:
        page = client.get(board).get_data(as_text=True)
    assert len(after) == len(before), after
    card = re.search(r'<li class="card">(?:(?!</li>).)*Ann Plan.*?</li>', page, re.S).group(0)
    assert "Action plan 2/7" in text(card)
    assert page.count("Action plan 2/7") == 1 and "Action plan 0/" not in page


def test_ticket_page_runs_a_fixed_number_of_queries_however_many_tasks_and_items(app, org, as_member):
    client = as_member("agent")
    ticket_id = open_ticket(app, org)
    page = ticket_url(org, ticket_id)
    client.get(page)
    with count_queries(app) as few:
        client.get(page)
    apply_plan(client, org, ticket_id, plan_template_id(app, org))
    for n in range(12):
        add_plan_item(client, org, ticket_id, **{"item-title": f"Extra {n}"})
        client.post(ticket_url(org, ticket_id, "tasks"), data={
            "task-title": f"Task {n}", "task-due_at": "2030-06-03T15:30", "task-remind_at": ""})
    with count_queries(app) as many:
        assert client.get(page).status_code == 200
    assert len(few) == len(many), many
