"""Working a ticket: every action as a plain form post (303 + flash) and through htmx (fragment in place)."""
from __future__ import annotations

from app.accounts.models import User
from app.extensions import db
from app.tickets import services
from tests.support.html import field_error, selected, shown_status, text
from tests.support.tickets import (
    HTMX, any_root_cause, open_ticket, root_cause_id, squash, ticket_state, ticket_url, timeline_html, with_ticket,
)


def _close(app, org, ticket_id):
    with_ticket(app, org["tenant_id"], ticket_id, lambda t: services.close_ticket(
        t, db.session.get(User, org["manager"]), outcome="not_resolved", note="They moved to a competitor.", root_cause_ids=any_root_cause()))


def test_log_call_by_plain_post_redirects_with_a_flash_and_moves_new_to_contacted(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    response = client.post(ticket_url(org, ticket_id, "calls"), data={
        "call-called": "Casey's assistant", "call-outcome": "left_voicemail", "call-notes": "Will call back at 3pm",
    })
    assert response.status_code == 303
    assert response.headers["Location"].endswith(ticket_url(org, ticket_id))

    state = ticket_state(app, org["tenant_id"], ticket_id)
    assert state["status"] == "contacted" and state["first_contact_at"] is not None
    assert state["kinds"][:2] == ["status", "call"]
    kind, actor_id, body, details = state["activities"][1]
    assert (actor_id, body, details) == (org["agent"], "Will call back at 3pm",
                                         {"called": "Casey's assistant", "outcome": "left_voicemail"})

    page = squash(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "Call logged: Left voicemail." in page
    assert "Alex Agent called Casey's assistant: Left voicemail." in text(page)
    assert shown_status(page) == "Contacted"


def test_log_call_through_htmx_returns_the_updated_ticket_fragment(app, org, as_member):
    ticket_id = open_ticket(app, org)
    response = as_member("agent").post(ticket_url(org, ticket_id, "calls"), headers=HTMX,
                                       data={"call-called": "", "call-outcome": "connected", "call-notes": ""})
    assert response.status_code == 200
    fragment = squash(response.get_data(as_text=True))
    assert "<!doctype html>" not in fragment and "<header class=\"container-fluid" not in fragment
    assert '<div id="ticket">' in fragment
    assert '<div id="flashes" hx-swap-oob="true">' in fragment and "Call logged: Connected." in fragment
    # Who was called defaults to the contact; the first contact attempt moves the ticket on.
    assert "Alex Agent called Casey Client: Connected." in text(timeline_html(fragment))
    assert shown_status(fragment) == "Contacted"
    assert ticket_state(app, org["tenant_id"], ticket_id)["status"] == "contacted"


def test_log_call_needs_an_outcome(app, org, as_member):
    ticket_id = open_ticket(app, org)
    response = as_member("agent").post(ticket_url(org, ticket_id, "calls"), headers=HTMX,
                                       data={"call-called": "Casey", "call-outcome": ""})
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#action-call"
    fragment = response.get_data(as_text=True)
    assert field_error(fragment, "call-outcome") == "Choose how the call went."
    assert ticket_state(app, org["tenant_id"], ticket_id)["kinds"] == ["email", "opened"]


def test_log_email_requires_a_subject_and_records_direction(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("manager")
    missing = client.post(ticket_url(org, ticket_id, "emails"), data={"email-direction": "outbound", "email-subject": " "})
    assert missing.status_code == 422
    page = missing.get_data(as_text=True)
    assert "<!doctype html>" in page and 'id="email-subject-error"' in page and "Enter the email&#39;s subject." in page
    assert ticket_state(app, org["tenant_id"], ticket_id)["status"] == "new"

    response = client.post(ticket_url(org, ticket_id, "emails"), headers=HTMX, data={
        "email-direction": "outbound", "email-subject": "Sorry about your bill", "email-summary": "Offered a call",
    })
    assert response.status_code == 200
    timeline = squash(timeline_html(response.get_data(as_text=True)))
    assert "Mia Manager logged an email (sent to contact): “Sorry about your bill”." in text(timeline)
    assert "Offered a call" in text(timeline)
    assert ticket_state(app, org["tenant_id"], ticket_id)["status"] == "contacted"


def test_add_note_requires_a_body(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    empty = client.post(ticket_url(org, ticket_id, "notes"), headers=HTMX, data={"note-body": "   "})
    assert empty.status_code == 422 and empty.headers["HX-Retarget"] == "#action-note"
    assert "Write the note before adding it." in empty.get_data(as_text=True)

    response = client.post(ticket_url(org, ticket_id, "notes"), data={"note-body": "Customer prefers email"})
    assert response.status_code == 303
    state = ticket_state(app, org["tenant_id"], ticket_id)
    assert state["activities"][0][:3] == ("note", org["agent"], "Customer prefers email")
    assert state["status"] == "new"  # a note is not a contact attempt


def test_reassign_changes_the_assignee_and_only_to_working_members(app, org, other_org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("manager")
    for not_allowed in (org["viewer"], other_org["agent"], 0):
        refused = client.post(ticket_url(org, ticket_id, "assignee"), data={"reassign-assignee_id": str(not_allowed)})
        assert refused.status_code == 422
        assert 'id="reassign-assignee_id-error"' in refused.get_data(as_text=True)
    assert ticket_state(app, org["tenant_id"], ticket_id)["assignee_id"] == org["agent"]

    response = client.post(ticket_url(org, ticket_id, "assignee"), headers=HTMX,
                           data={"reassign-assignee_id": str(org["admin"])})
    assert response.status_code == 200
    fragment = squash(response.get_data(as_text=True))
    assert "Assigned to <strong>Ada Admin</strong>" in fragment
    assert "Mia Manager reassigned the ticket from Alex Agent to Ada Admin." in text(fragment)
    assert ticket_state(app, org["tenant_id"], ticket_id)["assignee_id"] == org["admin"]


def test_move_status_and_moving_a_closed_ticket_reopens_it(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    response = client.post(ticket_url(org, ticket_id, "status"), data={"status-status": "action_plan"})
    assert response.status_code == 303
    assert ticket_state(app, org["tenant_id"], ticket_id)["status"] == "action_plan"
    refused = client.post(ticket_url(org, ticket_id, "status"), data={"status-status": "closed"})
    assert refused.status_code == 422 and "Choose New, Contacted, Action plan or Waiting on customer." in refused.get_data(as_text=True)

    _close(app, org, ticket_id)
    response = client.post(ticket_url(org, ticket_id, "status"), headers=HTMX, data={"status-status": "contacted"})
    assert response.status_code == 200
    fragment = squash(response.get_data(as_text=True))
    assert "reopened and moved to Contacted" in fragment
    assert "Alex Agent reopened the ticket (it was closed as Not resolved)." in text(fragment)
    assert "Alex Agent moved the ticket from Closed to Contacted." in text(fragment)
    state = ticket_state(app, org["tenant_id"], ticket_id)
    assert (state["status"], state["outcome"], state["closing_note"], state["closed_at"]) == ("contacted", None, None, None)
    assert state["kinds"][:3] == ["status", "reopened", "closed"]


def test_close_requires_an_outcome_shown_next_to_the_field_and_changes_nothing(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    before = ticket_state(app, org["tenant_id"], ticket_id)

    plain = client.post(ticket_url(org, ticket_id, "close"), data={"close-outcome": "", "close-note": "Sorted it out"})
    assert plain.status_code == 422
    page = squash(plain.get_data(as_text=True))
    assert "<!doctype html>" in page
    assert 'aria-describedby="close-outcome-error" aria-invalid="true" id="close-outcome"' in page
    assert field_error(page, "close-outcome") == "Choose an outcome."
    assert "Sorted it out" in page  # what they typed is kept

    htmx = client.post(ticket_url(org, ticket_id, "close"), headers=HTMX, data={"close-note": "Sorted it out"})
    assert htmx.status_code == 422
    assert (htmx.headers["HX-Retarget"], htmx.headers["HX-Reswap"]) == ("#action-close", "outerHTML")
    fragment = htmx.get_data(as_text=True)
    assert fragment.lstrip().startswith('<article id="action-close"') and "<!doctype html>" not in fragment
    assert "Choose an outcome." in fragment
    assert ticket_state(app, org["tenant_id"], ticket_id) == before


def test_close_requires_a_closing_note(app, org, as_member):
    ticket_id = open_ticket(app, org)
    response = as_member("agent").post(ticket_url(org, ticket_id, "close"),
                                       data={"close-outcome": "resolved", "close-note": "  "})
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "close-note") == "Write a closing note."
    assert ticket_state(app, org["tenant_id"], ticket_id)["status"] == "new"


def test_closing_shows_the_outcome_and_leaves_only_note_and_reopen(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    response = client.post(ticket_url(org, ticket_id, "close"), headers=HTMX,
                           data={"close-outcome": "resolved", "close-note": "Refunded and apologised",
                                 "close-root_causes": root_cause_id(app, org["tenant_id"])})
    assert response.status_code == 200
    fragment = squash(response.get_data(as_text=True))
    assert "D-0001 closed: Resolved." in fragment
    assert "Closed: Resolved" in text(fragment) and "Refunded and apologised" in fragment
    assert "Alex Agent closed the ticket: Resolved." in text(fragment)
    assert shown_status(fragment) == "Closed"
    state = ticket_state(app, org["tenant_id"], ticket_id)
    assert (state["status"], state["outcome"], state["closing_note"]) == ("closed", "resolved", "Refunded and apologised")
    assert state["closed_at"] is not None

    page = client.get(ticket_url(org, ticket_id)).get_data(as_text=True)
    assert "Add note</button>" in page and "Move ticket</button>" in page and "Moving a closed ticket reopens it." in page
    assert "Log call</button>" not in page and "Close ticket</button>" not in page

    # A stale page may still post a call: the rule is explained, and nothing is recorded.
    late = client.post(ticket_url(org, ticket_id, "calls"), data={"call-outcome": "connected"})
    assert late.status_code == 422
    assert "This ticket is closed. Reopen it to make changes." in late.get_data(as_text=True)
    assert ticket_state(app, org["tenant_id"], ticket_id)["kinds"][0] == "closed"


def test_unassigned_ticket_preselects_nobody_and_requires_a_choice(app, org, as_member):
    ticket_id = open_ticket(app, org)

    def unassign(ticket):
        ticket.assignee_id = None

    with_ticket(app, org["tenant_id"], ticket_id, unassign)
    client = as_member("manager")
    page = squash(client.get(ticket_url(org, ticket_id)).get_data(as_text=True))
    assert "Assigned to nobody" in text(page)
    assert selected(page, "reassign-assignee_id") == "Choose a team member…"

    response = client.post(ticket_url(org, ticket_id, "assignee"), headers=HTMX, data={"reassign-assignee_id": ""})
    assert response.status_code == 422 and response.headers["HX-Retarget"] == "#action-reassign"
    assert "Choose who should work this ticket." in response.get_data(as_text=True)

    response = client.post(ticket_url(org, ticket_id, "assignee"), data={"reassign-assignee_id": str(org["agent"])})
    assert response.status_code == 303
    state = ticket_state(app, org["tenant_id"], ticket_id)
    assert state["assignee_id"] == org["agent"]
    assert state["activities"][0][3] == {"previous": None, "assignee": "Alex Agent"}
