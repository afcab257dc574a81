"""Tickets through the API: list with filters, read with the timeline, move, reassign, close and log activities
with the ticket page's rules, each change in the audit log under the token's name."""
from __future__ import annotations

from tests.support.data import audit_entries
from tests.support.tickets import open_ticket, root_cause_id, ticket_state


def test_tickets_are_listed_with_filters_and_read_with_their_timeline(app, api, org):
    first = open_ticket(app, org, "Ann Client")
    second = open_ticket(app, org, "Bob Client")
    listed = api.get("/tickets?status=new").get_json()["data"]
    assert [t["id"] for t in listed] == [first, second]
    assignee = listed[0]["assignee_id"]
    assert {t["id"] for t in api.get(f"/tickets?assignee_id={assignee}").get_json()["data"]} <= {first, second}
    assert api.get("/tickets?status=closed").get_json()["data"] == []
    assert api.get("/tickets?status=lost").status_code == 422
    detail = api.get(f"/tickets/{first}").get_json()
    assert detail["reference"] == "D-0001" and detail["timeline"][-1]["kind"] == "opened"
    assert detail["opened_at"].endswith("Z")


def test_a_ticket_moves_and_is_reassigned_through_the_ticket_rules(app, api, org):
    ticket_id = open_ticket(app, org)
    waiting = api.patch(f"/tickets/{ticket_id}", json={"status": "waiting"})
    assert waiting.status_code == 422
    assert waiting.get_json()["error"]["field"] == "status" and "Log a call" in waiting.get_json()["error"]["message"]
    moved = api.patch(f"/tickets/{ticket_id}", json={"status": "action_plan", "assignee_id": org["manager"]})
    assert moved.status_code == 200, moved.get_json()
    body = moved.get_json()
    assert body["status"] == "action_plan" and body["assignee_id"] == org["manager"]
    assert body["timeline"][0]["actor_id"] == org["admin"], "changes are made in the name of the token's admin"
    assert api.patch(f"/tickets/{ticket_id}", json={"assignee_id": org["viewer"]}).status_code == 422
    summaries = [(entry.summary, entry.api_token_id is not None, entry.actor_id) for entry in
                 audit_entries(app, org["tenant_id"]) if entry.area == "api"]
    assert summaries == [("Ticket D-0001 changed", True, org["admin"])]


def test_a_ticket_is_closed_with_outcome_note_and_root_cause(app, api, org):
    ticket_id = open_ticket(app, org)
    refused = api.patch(f"/tickets/{ticket_id}", json={"status": "closed", "outcome": "resolved"})
    assert refused.status_code == 422 and refused.get_json()["error"]["message"] == "Write a closing note."
    cause = int(root_cause_id(app, org["tenant_id"]))
    closed = api.patch(f"/tickets/{ticket_id}", json={"status": "closed", "outcome": "resolved",
                                                       "closing_note": "Refunded.", "root_cause_ids": [cause]})
    assert closed.status_code == 200, closed.get_json()
    assert closed.get_json()["status"] == "closed" and closed.get_json()["outcome"] == "resolved"
    again = api.patch(f"/tickets/{ticket_id}", json={"status": "closed", "outcome": "resolved",
                                                      "closing_note": "Again", "root_cause_ids": [cause]})
    assert again.status_code == 422 and again.get_json()["error"]["message"] == "This ticket is already closed."


def test_notes_calls_and_emails_are_logged_on_the_timeline(app, api, org):
    ticket_id = open_ticket(app, org)
    note = api.post(f"/tickets/{ticket_id}/activities", json={"kind": "note", "body": "Spoke to billing."})
    assert note.status_code == 201 and note.get_json()["kind"] == "note"
    call = api.post(f"/tickets/{ticket_id}/activities", json={"kind": "call", "outcome": "connected",
                                                             "body": "Agreed a refund."})
    assert call.status_code == 201 and call.get_json()["details"]["called"] == "Casey Client"
    email = api.post(f"/tickets/{ticket_id}/activities", json={"kind": "email", "direction": "outbound",
                                                              "subject": "Your refund"})
    assert email.status_code == 201
    state = ticket_state(app, org["tenant_id"], ticket_id)
    assert state["status"] == "contacted", "the first call counts as first contact, as on the page"
    assert state["kinds"][:4] == ["email", "status", "call", "note"] or state["kinds"][:4] == ["email", "call", "status", "note"]
    assert api.post(f"/tickets/{ticket_id}/activities", json={"kind": "call"}).get_json()["error"]["field"] == "outcome"
    assert api.post(f"/tickets/{ticket_id}/activities", json={"kind": "fax"}).status_code == 422
    assert api.post("/tickets/99999/activities", json={"kind": "note", "body": "x"}).status_code == 404
