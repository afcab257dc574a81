"""Tickets through the API: list with filters, read with the timeline, move, reassign, close and log activities
with the ticket page's rules, each change in the audit log under the token's name."""
from __future__ import annotations

import re

from tests.support.data import audit_entries
from tests.support.tickets import bulk_tickets, close, count_queries, open_ticket, root_cause_id, ticket_state


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


def _api_refs(api, query: str, limit: int = 2) -> list[str]:
    """Every reference ``GET /tickets?<query>`` lists, page after page of ``limit``."""
    refs, cursor = [], None
    for _ in range(20):
        url = f"/tickets?{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        answer = api.get(url)
        assert answer.status_code == 200, (query, answer.get_json())
        body = answer.get_json()
        refs += [ticket["reference"] for ticket in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return refs
    raise AssertionError("too many pages")


def _page_refs(client, org, query: str) -> list[str]:
    html = client.get(f"/t/{org['slug']}/tickets/?{query}").get_data(as_text=True)
    return re.findall(r'class="tick-label">(D-\d+)<', html)


def test_the_list_pages_filters_and_orders_list_the_same_tickets_through_the_api(app, api, org, as_member):
    ann = open_ticket(app, org, "Ann Client", 3, "The invoice was wrong")
    open_ticket(app, org, "Bob Client", 5, "Slow answers", account="Northside Practice")
    cy = open_ticket(app, org, "Cy Client", 1, None)
    dee = open_ticket(app, org, "Dee Client", 6, "Refund please", account="Southside Clinic")
    assert api.post(f"/tickets/{ann}/activities", json={"kind": "note", "body": "Promised a refund"}).status_code == 201
    assert api.patch(f"/tickets/{cy}", json={"status": "action_plan", "assignee_id": org["manager"]}).status_code == 200
    close(app, org["tenant_id"], dee, org["manager"])
    client = as_member("admin")
    queries = ["sort=opened&dir=asc", "sort=opened&dir=desc", "status=open&sort=score", "status=closed&sort=score",
               "status=action_plan&sort=opened", "band=detractor&sort=score&dir=desc", "account=north&sort=opened",
               "q=refund&sort=opened", "sort=due", "sort=status&dir=desc", "sort=updated",
               f"assignee={org['manager']}&sort=opened", "assignee=me&sort=opened", "trigger=score&sort=opened",
               "status=open&sla=ok&sort=opened", "cause=1&sort=opened", "opened_from=2000-01-01&sort=opened"]
    for query in queries:
        shown = _page_refs(client, org, query)
        assert _api_refs(api, query) == shown, query
    assert _page_refs(client, org, "q=refund&sort=opened") == ["D-0004", "D-0001"]
    assert _api_refs(api, "status=open&sort=score") == ["D-0003", "D-0001", "D-0002"]
    assert _api_refs(api, "") == ["D-0001", "D-0002", "D-0003", "D-0004"], "oldest first by default"
    assert _api_refs(api, "dir=desc") == ["D-0004", "D-0003", "D-0002", "D-0001"]
    assert _api_refs(api, f"assignee_id={org['manager']}") == ["D-0003"]


def test_bad_ticket_filters_are_errors_naming_the_parameter(app, api, org):
    open_ticket(app, org)
    for query, field in [("status=lost", "status"), ("sla=late", "sla"), ("sort=name", "sort"), ("dir=up", "dir"),
                         ("assignee=someone", "assignee"), ("team=-1", "team"), ("cause=0", "cause"),
                         ("band=angry", "band"), ("trigger=fax", "trigger"), ("opened_from=2026-13-01", "opened_from"),
                         ("opened_to=1999-12-31", "opened_to"), ("updated_since=yesterday", "updated_since"),
                         ("q=" + "x" * 201, "q"), ("account_id=0", "account_id"), ("limit=101", "limit"),
                         (f"assignee=me&assignee_id={org['agent']}", "assignee_id")]:
        refused = api.get(f"/tickets?{query}")
        assert refused.status_code == 422, (query, refused.get_json())
        assert refused.get_json()["error"]["field"] == field, (query, refused.get_json())
    assert api.get("/tickets?opened_to=1999-12-31").get_json()["error"]["message"] == \
        "Enter a date between 2000 and 2100."
    assert api.get("/tickets?q=a%00b").status_code == 400
    junk = api.get("/tickets?cursor=%25%25%25")
    assert junk.status_code == 400 and junk.get_json()["error"]["field"] == "cursor"


def test_the_earlier_ticket_filters_still_work(app, api, org):
    first = open_ticket(app, org, "Ann Client", account="Northside Practice")
    second = open_ticket(app, org, "Bob Client")
    detail = api.get(f"/tickets/{first}").get_json()
    assert [t["id"] for t in api.get(f"/tickets?account_id={detail['account_id']}").get_json()["data"]] == [first]
    assert [t["id"] for t in api.get(f"/tickets?contact_id={detail['contact_id']}").get_json()["data"]] == [first]
    later = api.get("/tickets?updated_since=2100-01-01T00:00:00Z").get_json()["data"]
    assert later == []
    assert [t["id"] for t in api.get("/tickets?updated_since=2000-01-01T00:00:00").get_json()["data"]] == [
        first, second]


def test_a_page_of_tickets_runs_the_same_statements_for_5_and_50_tickets(app, api, org):
    urls = ["/tickets?limit=100", "/tickets?limit=100&status=open&sla=ok&sort=due&q=bulk",
            f"/tickets?limit=100&team=mine&assignee={org['agent']}&sort=score&dir=desc"]
    bulk_tickets(app, org["tenant_id"], 5, assignee_id=org["agent"], start=1)
    api.get(urls[0])

    def statements(url: str) -> int:
        with count_queries(app) as seen:
            assert api.get(url).status_code == 200
        return len(seen)

    few = [statements(url) for url in urls]
    bulk_tickets(app, org["tenant_id"], 45, assignee_id=org["agent"], start=100)
    assert len(api.get(urls[0]).get_json()["data"]) == 50
    assert [statements(url) for url in urls] == few
