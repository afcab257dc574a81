"""Viewers read tickets but change nothing; other tenants see nothing."""
from __future__ import annotations

import pytest

from tests.support.data import login
from tests.support.tickets import HTMX, open_ticket, ticket_state, ticket_url

ACTIONS = {
    "calls": {"call-called": "Casey", "call-outcome": "connected", "call-notes": "x"},
    "emails": {"email-direction": "outbound", "email-subject": "Hello", "email-summary": "x"},
    "notes": {"note-body": "A note"},
    "assignee": {"reassign-assignee_id": "1"},
    "status": {"status-status": "action_plan"},
    "close": {"close-outcome": "resolved", "close-note": "Done"},
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_viewer_gets_403_on_every_action_and_nothing_changes(app, org, as_member, action):
    ticket_id = open_ticket(app, org)
    before = ticket_state(app, org["tenant_id"], ticket_id)
    client = as_member("viewer")
    data = dict(ACTIONS[action])
    if action == "assignee":
        data["reassign-assignee_id"] = str(org["manager"])
    assert client.post(ticket_url(org, ticket_id, action), data=data).status_code == 403
    assert client.post(ticket_url(org, ticket_id, action), data=data, headers=HTMX).status_code == 403
    assert ticket_state(app, org["tenant_id"], ticket_id) == before


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_another_tenants_member_gets_404_on_every_action(app, org, other_org, client, action):
    ticket_id = open_ticket(app, org)
    before = ticket_state(app, org["tenant_id"], ticket_id)
    login(client, app, other_org["admin"])
    for slug in (other_org["slug"], org["slug"]):
        url = ticket_url({"slug": slug}, ticket_id, action)
        assert client.post(url, data=ACTIONS[action]).status_code == 404
    assert ticket_state(app, org["tenant_id"], ticket_id) == before


def test_logged_out_visitor_is_sent_to_log_in(app, org, client):
    ticket_id = open_ticket(app, org)
    response = client.get(ticket_url(org, ticket_id))
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post(ticket_url(org, ticket_id, "notes"), data={"note-body": "x"}).status_code == 302
