"""The ticket page: the response, the contact, the assignee and a readable timeline."""
from __future__ import annotations

from app.accounts.models import User
from app.extensions import db
from app.tickets import services
from tests.support.data import login
from tests.support.html import buttons, label, options, shown_status, text
from tests.support.tickets import HTMX, any_root_cause, open_ticket, squash, ticket_url, timeline_html, with_ticket


def test_ticket_page_shows_score_comment_contact_and_assignee(app, org, as_member):
    ticket_id = open_ticket(app, org, "Casey Client", 2, "Nobody called me back about the refund",
                            phone="+1 555 0100", account="Casey Dental", external_id="CRM-42")
    response = as_member("viewer").get(ticket_url(org, ticket_id))
    assert response.status_code == 200
    page = squash(response.get_data(as_text=True))
    assert "<title>D-0001 · Acme Billing</title>" in page
    assert '<span class="score score-large band-detractor">' in page and "</span>2</span>" in page
    assert "Detractor" in text(page)
    assert "Nobody called me back about the refund" in page
    for fact in ("Casey Client", "casey.client@client.example", "+1 555 0100", "Casey Dental", "CRM-42"):
        assert fact in page
    assert "Assigned to <strong>Alex Agent</strong>" in page
    assert shown_status(page) == "New"
    assert "Opened <time" in page and "(just now)" in page


def test_timeline_lists_every_activity_newest_first_in_plain_sentences(app, org, as_member):
    ticket_id = open_ticket(app, org, "Casey Client", 3)

    def work(ticket):
        agent, manager = db.session.get(User, org["agent"]), db.session.get(User, org["manager"])
        services.log_call(ticket, agent, called="Casey Client", outcome="left_voicemail", notes="Asked for a callback")
        services.log_email(ticket, agent, direction="inbound", subject="Re: your invoice", summary="They want a credit")
        services.add_note(ticket, agent, "Credit approved by finance")
        services.reassign(ticket, agent, manager)
        services.move_status(ticket, manager, "action_plan")
        services.close_ticket(ticket, manager, outcome="resolved", note="Credit issued", root_cause_ids=any_root_cause())
        services.move_status(ticket, manager, "contacted")
        services.note_score_change(ticket, 3, 7)
        db.session.flush()

    with_ticket(app, org["tenant_id"], ticket_id, work)
    page = as_member("agent").get(ticket_url(org, ticket_id)).get_data(as_text=True)
    timeline = squash(timeline_html(page))
    sentences = [
        "<strong>Turnaround</strong> noted that Casey Client changed their score from 3 to 7.",
        "<strong>Mia Manager</strong> moved the ticket from Closed to Contacted.",
        "<strong>Mia Manager</strong> reopened the ticket (it was closed as Resolved).",
        "<strong>Mia Manager</strong> closed the ticket: Resolved.",
        "<strong>Mia Manager</strong> moved the ticket from Contacted to Action plan.",
        "<strong>Alex Agent</strong> reassigned the ticket from Alex Agent to Mia Manager.",
        "<strong>Alex Agent</strong> added a note.",
        "<strong>Alex Agent</strong> logged an email (received from contact): “Re: your invoice”.",
        "<strong>Turnaround</strong> moved the ticket from New to Contacted (first contact attempt logged).",
        "<strong>Alex Agent</strong> called Casey Client: Left voicemail.",
        "<strong>Turnaround</strong> sent the automatic introduction email to Casey Client on behalf of Alex Agent.",
        "<strong>Turnaround</strong> opened the ticket from a score of 3 and assigned it to Alex Agent.",
    ]
    positions = [timeline.find(s) for s in sentences]
    assert -1 not in positions, [s for s, p in zip(sentences, positions) if p == -1]
    # Same-transaction rows share a timestamp to the microsecond on fast machines; the id breaks ties.
    assert positions == sorted(positions)
    for body in ("Asked for a callback", "They want a credit", "Credit approved by finance", "Credit issued"):
        assert body in text(timeline)
    assert timeline.count('<p class="when"><time datetime="') == len(sentences)


def test_missing_ticket_and_another_tenants_ticket_are_404(app, org, other_org, client):
    theirs = open_ticket(app, other_org, "Bo Customer")
    login(client, app, org["admin"])
    assert client.get(ticket_url(org, 9999)).status_code == 404
    response = client.get(ticket_url(org, theirs))
    assert response.status_code == 404 and "Bo Customer" not in response.get_data(as_text=True)
    # The owner's members still see it.
    other = app.test_client()
    login(other, app, other_org["admin"])
    assert other.get(ticket_url(other_org, theirs)).status_code == 200


def test_working_members_get_labelled_action_forms_and_viewers_none(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    tabs = {tab: client.get(ticket_url(org, ticket_id) + f"?tab={tab}").get_data(as_text=True)
            for tab in ("call", "email", "email-log", "note", "task")}
    page = tabs["call"]
    assert "Log call" in buttons(client.get(ticket_url(org, ticket_id)).get_data(as_text=True))  # Call by default
    # The header (assignee, status, close) is on every tab; the composer shows the chosen tab's form.
    for tab, tab_page in tabs.items():
        for button in ("Reassign ticket", "Move ticket", "Close ticket"):
            assert button in buttons(tab_page), tab
    for tab, button in (("call", "Log call"), ("email", "Send email"), ("email-log", "Log email"), ("note", "Add note"),
                        ("task", "Add task")):
        assert button in buttons(tabs[tab])
        assert all(other not in buttons(tabs[tab]) for other in ("Log call", "Log email", "Add note")
                   if other != button)
    for tab, field_ids in (("call", ("call-called", "call-outcome", "call-notes")),
                           ("email", ("compose-to", "compose-subject", "compose-body")),
                           ("email-log", ("email-direction", "email-subject", "email-summary")),
                           ("note", ("note-body",)),
                           ("call", ("reassign-assignee_id", "status-status", "close-outcome", "close-note"))):
        for field_id in field_ids:
            assert label(tabs[tab], field_id) and f'id="{field_id}"' in tabs[tab], field_id
    assert 'value="Casey Client"' in page  # who was called defaults to the contact
    for tab_page in tabs.values():
        assert " style=" not in tab_page and "<script>" not in tab_page and "hx-on" not in tab_page
    # Only active working members can be assigned: not the viewer.
    assert "Val Viewer" not in options(page, "reassign-assignee_id")

    viewer = app.test_client()
    login(viewer, app, org["viewer"])
    viewer_page = viewer.get(ticket_url(org, ticket_id)).get_data(as_text=True)
    assert "<form method=\"post\" action=\"/t/" not in viewer_page and "Log call" not in viewer_page


def test_ticket_page_through_htmx_is_the_ticket_fragment(app, org, as_member):
    ticket_id = open_ticket(app, org)
    fragment = as_member("agent").get(ticket_url(org, ticket_id), headers=HTMX).get_data(as_text=True)
    assert "<!doctype html>" not in fragment
    assert '<div id="ticket">' in fragment and 'id="timeline"' in fragment
