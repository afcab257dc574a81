"""Task and action-plan forms posted twice do their work once (see app.submissions)."""
from __future__ import annotations

from app.submissions import new_key
from tests.support.html import text
from tests.support.tickets import open_ticket, squash, ticket_state
from tests.support.workflow import add_plan_item, plan_items


def test_a_double_add_item_adds_one_item_and_moves_the_ticket_once(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    key = new_key()
    first = add_plan_item(client, org, ticket_id, **{"item-submission_key": key})
    second = add_plan_item(client, org, ticket_id, htmx=True, **{"item-submission_key": key})
    assert first.status_code == 303 and second.status_code == 200
    assert "Item added to the action plan." in text(squash(second.get_data(as_text=True)))
    assert [item.title for item in plan_items(app, org, ticket_id)] == ["Call the payer about denials"]
    assert ticket_state(app, org["tenant_id"], ticket_id)["kinds"].count("status") == 1


def test_two_item_forms_with_their_own_keys_add_two_items(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    for _ in range(2):
        assert add_plan_item(client, org, ticket_id, **{"item-submission_key": new_key()}).status_code == 303
    assert len(plan_items(app, org, ticket_id)) == 2
