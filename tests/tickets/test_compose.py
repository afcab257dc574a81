"""Writing and sending an email from a ticket: the Email tab of the composer starts from the organisation's
templates with the merge fields filled, previews the email as it will be sent, and sends it through the outbox
from the agent (display name and Reply-To), logged on the timeline; closing can send the closing follow-up."""
from __future__ import annotations

import re
from email.utils import getaddresses, parseaddr
from html import unescape

from sqlalchemy import select

from app import emailtemplates
from app.customers.models import CustomerAccount
from app.extensions import db
from app.settings.models import RootCause
from app.submissions import new_key
from app.tenancy import tenant_context
from app.workflow.models import Task
from tests.smtp_sink import body_text
from tests.support.data import make_account, login, make_contact, run_jobs
from tests.support.html import buttons, checked, choice, field_error, text
from tests.support.mail import outbox
from tests.support.tickets import (
    HTMX, open_ticket, root_cause_id, squash, ticket_state, ticket_url, timeline_html,
)
from tests.support.workflow import add_plan_item, set_sla

CASEY = "casey.client@client.example"
PAT = "pat.partner@client.example"
SENDER = "outreach@turnaround.localhost"


def _ticket_at_anmake_account(app, org) -> tuple[int, dict[str, int]]:
    """A ticket for Casey at Lakeside, where Pat and Robin also work; Sam works elsewhere."""
    lakeside = make_account(app, org["tenant_id"], "Lakeside Orthopedics")
    elsewhere = make_account(app, org["tenant_id"], "Harbor Physio")
    people = {
        "pat": make_contact(app, org["tenant_id"], "Pat Partner", PAT, account_id=lakeside),
        "robin": make_contact(app, org["tenant_id"], "Robin Reyes", "robin@client.example", account_id=lakeside),
        "sam": make_contact(app, org["tenant_id"], "Sam Stranger", "sam@elsewhere.example", account_id=elsewhere),
    }
    return open_ticket(app, org, account_id=lakeside), people


def _send(client, org, ticket_id, htmx=False, **fields):
    data = {"compose-template": "second_outreach", "compose-to": CASEY,
            "compose-subject": "Following up on your feedback",
            "compose-body": "Hi {contact.first_name},\n\nCould we talk on Thursday?\n\n{agent.name}\n{agent.phone}"}
    data.update(fields)
    return client.post(ticket_url(org, ticket_id, "emails/send"), data=data, headers=HTMX if htmx else None)


def _preview(client, org, ticket_id, htmx=True, **fields):
    data = {"compose-template": "second_outreach", "compose-to": CASEY, "compose-subject": "Hello {contact.first_name}",
            "compose-body": "Hi {contact.first_name}, this is {agent.first_name} at {organisation}."}
    data.update(fields)
    return client.post(ticket_url(org, ticket_id, "emails/preview"), data=data, headers=HTMX if htmx else None)


def _follow_up_task(app, org, ticket_id) -> Task:
    with app.app_context(), tenant_context(org["tenant_id"]):
        task = db.session.execute(select(Task).where(Task.ticket_id == ticket_id, Task.kind == "email")).scalar_one()
        db.session.expunge(task)
        db.session.remove()
    return task


def _value(page: str, field_id: str) -> str | None:
    """What a text input or textarea shows."""
    match = re.search(rf'<(?:input|textarea)[^>]*\bid="{field_id}"[^>]*>([^<]*)', page)
    if match is None:
        return None
    value = re.search(r'\bvalue="([^"]*)"', match.group(0))
    # A textarea's first line break is markup (HTML drops it), not part of the value.
    return unescape(value.group(1)) if value else unescape(match.group(1)).removeprefix("\r\n")


def test_the_email_tab_starts_from_the_second_outreach_with_the_contact_and_merge_fields_filled(app, org, as_member):
    ticket_id, people = _ticket_at_anmake_account(app, org)
    page = as_member("agent").get(ticket_url(org, ticket_id) + "?tab=email").get_data(as_text=True)
    assert "Send email" in buttons(page) and "Preview email" in buttons(page)
    assert _value(page, "compose-to") == CASEY
    assert _value(page, "compose-subject") == "Following up: your feedback to Acme Billing"
    body = _value(page, "compose-body")
    assert body.startswith("Hi Casey,\n\nI tried to reach you about the feedback you gave Acme Billing.")
    assert "Alex Agent" in body and "{" not in body
    # Copies: the others at the contact's account, never the contact or people at other accounts.
    assert choice(page, "compose-cc", str(people["pat"])) == (f"Pat Partner <{PAT}>", False)
    assert choice(page, "compose-cc", str(people["robin"])) == ("Robin Reyes <robin@client.example>", False)
    assert choice(page, "compose-cc", str(people["sam"])) is None
    assert "From you: it shows your name, Alex Agent, and replies come to alex@acme.example." in text(page)


def test_the_closing_follow_up_template_and_the_organisations_own_wording_are_used(app, org, as_member):
    ticket_id = open_ticket(app, org)
    with app.app_context(), tenant_context(org["tenant_id"]):
        emailtemplates.save("closing_followup", "Thanks from {organisation}, {contact.first_name}",
                            "Dear {contact.name},\n\nThanks again.\n\n{agent.name}")
        db.session.commit()
        db.session.remove()
    client = as_member("agent")
    page = client.get(ticket_url(org, ticket_id) + "?tab=email&template=closing_followup").get_data(as_text=True)
    assert _value(page, "compose-subject") == "Thanks from Acme Billing, Casey"
    assert _value(page, "compose-body") == "Dear Casey Client,\n\nThanks again.\n\nAlex Agent"
    assert _value(page, "compose-template") == "closing_followup"
    # Through htmx the tab link swaps only the composer.
    fragment = client.get(ticket_url(org, ticket_id, "composer") + "?tab=email", headers=HTMX).get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="composer"') and "<!doctype html>" not in fragment
    assert _value(fragment, "compose-subject") == "Following up: your feedback to Acme Billing"


def test_sending_queues_the_email_from_the_agent_and_logs_it_on_the_timeline(app, org, as_member):
    ticket_id, people = _ticket_at_anmake_account(app, org)
    client = as_member("agent")
    response = _send(client, org, ticket_id, **{"compose-cc": [str(people["pat"])]})
    assert response.status_code == 303 and response.headers["Location"].endswith(ticket_url(org, ticket_id))

    [message] = outbox(app, org["tenant_id"], "personal_email")
    assert (message.from_name, message.from_address, message.reply_to) == ("Alex Agent", SENDER, "alex@acme.example")
    assert (message.to_address, message.to_name, message.cc_addresses) == (CASEY, "Casey Client", [PAT])
    assert message.subject == "Following up on your feedback" and message.ticket_id == ticket_id
    assert message.text_body.startswith("Hi Casey,\n\nCould we talk on Thursday?\n\nAlex Agent")
    assert "<p>Hi Casey,</p>" in message.html_body

    state = ticket_state(app, org["tenant_id"], ticket_id)
    kind, actor_id, body, details = next(a for a in state["activities"] if a[0] == "email" and a[3].get("sent"))
    assert actor_id == org["agent"] and body.startswith("Hi Casey,")
    assert (details["direction"], details["subject"], details["to"], details["cc"], details["message_id"]) == (
        "outbound", "Following up on your feedback", CASEY, [PAT], message.id)
    # A personal email is a contact attempt: the cadence's follow-up email is done, the first-contact clock
    # stops (the default counts a call or a personal email) and a new ticket moves to Contacted.
    assert _follow_up_task(app, org, ticket_id).done_at is not None
    assert state["first_contact_at"] is not None and state["status"] == "contacted"

    page = squash(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "Email sent." in page
    assert (f"Alex Agent sent an email to {CASEY} (copied to {PAT}): “Following up on your feedback”."
            in text(timeline_html(page)))
    assert "1 of 1 personal email logged" in text(page)

    # The email log lists it as a personal email, with its copy.
    admin = app.test_client()
    login(admin, app, org["admin"])
    log = text(admin.get(f"/t/{org['slug']}/emails/").get_data(as_text=True))
    assert "Personal email" in log and "Following up on your feedback" in log
    shown = text(admin.get(f"/t/{org['slug']}/emails/{message.id}").get_data(as_text=True))
    assert f"Cc {PAT}" in shown and "Reply-To alex@acme.example" in shown


def test_an_email_does_not_stop_the_first_contact_clock_when_only_a_call_counts(app, org, as_member):
    set_sla(app, org["tenant_id"], first_contact_stopped_by="call")
    ticket_id = open_ticket(app, org)
    response = _send(as_member("agent"), org, ticket_id, htmx=True)
    assert response.status_code == 200 and '<div id="ticket">' in response.get_data(as_text=True)
    state = ticket_state(app, org["tenant_id"], ticket_id)
    assert state["first_contact_at"] is None and state["status"] == "new"
    assert _follow_up_task(app, org, ticket_id).done_at is not None
    assert len(outbox(app, org["tenant_id"], "personal_email")) == 1


def test_preview_shows_the_email_as_it_will_be_sent_and_changes_nothing(app, org, as_member):
    ticket_id, people = _ticket_at_anmake_account(app, org)
    client = as_member("agent")
    before = ticket_state(app, org["tenant_id"], ticket_id)
    response = _preview(client, org, ticket_id, **{"compose-cc": [str(people["robin"])]})
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="email-preview"') and "<!doctype html>" not in fragment
    shown = text(fragment)
    assert f"From Alex Agent <{SENDER}>" in shown and "Reply-To alex@acme.example" in shown
    assert f"To {CASEY}" in shown and "Cc robin@client.example" in shown
    assert "Subject Hello Casey" in shown and "Hi Casey, this is Alex at Acme Billing." in shown
    assert ticket_state(app, org["tenant_id"], ticket_id) == before
    assert outbox(app, org["tenant_id"], "personal_email") == []

    # Without JavaScript: the page again, on the Email tab, with what was typed kept and the preview below it.
    plain = client.post(ticket_url(org, ticket_id, "emails/preview"), data={
        "compose-template": "second_outreach", "compose-to": CASEY, "compose-subject": "Hello {contact.first_name}",
        "compose-body": "See you soon, {contact.first_name}.", "compose-submission_key": new_key()})
    assert plain.status_code == 200
    page = plain.get_data(as_text=True)
    assert "<!doctype html>" in page and _value(page, "compose-subject") == "Hello {contact.first_name}"
    assert "See you soon, Casey." in text(page) and "Send email" in buttons(page)
    assert outbox(app, org["tenant_id"], "personal_email") == []


def test_bad_input_is_refused_next_to_its_field_and_nothing_is_sent(app, org, as_member):
    ticket_id, people = _ticket_at_anmake_account(app, org)
    client = as_member("agent")
    before = ticket_state(app, org["tenant_id"], ticket_id)
    cases = [
        ({"compose-subject": "  "}, "compose-subject", "Enter the email's subject."),
        ({"compose-body": ""}, "compose-body", "Write the email before sending it."),
        ({"compose-to": "not an address"}, "compose-to", "Enter a valid email address, like name@example.com."),
        ({"compose-subject": "Line one\r\nBcc: someone@evil.example"}, "compose-subject",
         "Keep this on one line, without line breaks."),
        ({"compose-body": "Hi {contact.ssn}"}, "compose-body",
         "Unknown merge field {contact.ssn}. Use only the merge fields listed for this email."),
        ({"compose-cc": [str(people["sam"])]}, "compose-cc", "Copy only people at the contact's account."),
        ({"compose-cc": ["x"]}, "compose-cc", "Copy only people at the contact's account."),
    ]
    for fields, field_id, message in cases:
        response = _send(client, org, ticket_id, htmx=True, **fields)
        assert response.status_code == 422, fields
        assert response.headers["HX-Retarget"] == "#action-compose"
        fragment = response.get_data(as_text=True)
        assert fragment.lstrip().startswith('<article id="action-compose"')
        assert field_error(fragment, field_id) == message, fields
        preview = _preview(client, org, ticket_id, **fields)
        assert preview.status_code == 422 and field_error(preview.get_data(as_text=True), field_id) == message
    plain = _send(client, org, ticket_id, **{"compose-subject": ""})
    assert plain.status_code == 422
    page = plain.get_data(as_text=True)
    assert "<!doctype html>" in page and field_error(page, "compose-subject") == "Enter the email's subject."
    assert ticket_state(app, org["tenant_id"], ticket_id) == before
    assert outbox(app, org["tenant_id"], "personal_email") == []


def test_a_closed_ticket_sends_nothing_and_viewers_cannot_send(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    assert client.post(ticket_url(org, ticket_id, "close"), data={
        "close-outcome": "not_resolved", "close-note": "They moved on.",
        "close-root_causes": root_cause_id(app, org["tenant_id"])}).status_code == 303
    refused = _send(client, org, ticket_id)
    assert refused.status_code == 422
    assert "This ticket is closed. Reopen it to make changes." in text(refused.get_data(as_text=True))
    viewer = app.test_client()
    login(viewer, app, org["viewer"])
    assert _send(viewer, org, open_ticket(app, org, "Vic Other")).status_code == 403
    assert outbox(app, org["tenant_id"], "personal_email") == []


def test_closing_can_send_the_closing_follow_up_in_the_same_step(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    page = client.get(ticket_url(org, ticket_id)).get_data(as_text=True)
    assert not checked(page, "close-send_followup")
    assert _value(page, "close-followup_subject") == "Thank you for talking with Acme Billing"
    assert _value(page, "close-followup_body").startswith("Hi Casey,\n\nThank you for your time")

    data = {"close-outcome": "resolved", "close-note": "Credit agreed.",
            "close-root_causes": root_cause_id(app, org["tenant_id"]), "close-send_followup": "y",
            "close-followup_subject": "Thank you, {contact.first_name}", "close-followup_body": ""}
    refused = client.post(ticket_url(org, ticket_id, "close"), data=data, headers=HTMX)
    assert refused.status_code == 422
    assert field_error(refused.get_data(as_text=True), "close-followup_body") == "Write the email before sending it."
    assert ticket_state(app, org["tenant_id"], ticket_id)["status"] == "new"

    data["close-followup_body"] = "Hi {contact.first_name},\n\nThanks for your time today.\n\n{agent.name}"
    response = client.post(ticket_url(org, ticket_id, "close"), data=data, headers=HTMX)
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert "D-0001 closed: Resolved. The follow-up email is on its way." in fragment
    assert (f"Alex Agent sent the closing follow-up email to {CASEY}: “Thank you, Casey”."
            in text(timeline_html(fragment)))
    [message] = outbox(app, org["tenant_id"], "personal_email")
    assert (message.from_name, message.reply_to, message.to_address) == ("Alex Agent", "alex@acme.example", CASEY)
    assert message.text_body.startswith("Hi Casey,\n\nThanks for your time today.\n\nAlex Agent")
    assert ticket_state(app, org["tenant_id"], ticket_id)["status"] == "closed"


def test_closing_without_the_follow_up_sends_none(app, org, as_member):
    ticket_id = open_ticket(app, org)
    response = as_member("agent").post(ticket_url(org, ticket_id, "close"), data={
        "close-outcome": "resolved", "close-note": "Credit agreed.",
        "close-root_causes": root_cause_id(app, org["tenant_id"]),
        "close-followup_subject": "", "close-followup_body": ""})
    assert response.status_code == 303
    assert outbox(app, org["tenant_id"], "personal_email") == []


def test_closing_shows_every_reason_it_cannot_close_at_once(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    assert add_plan_item(client, org, ticket_id).status_code == 303
    for htmx in (True, False):
        response = client.post(ticket_url(org, ticket_id, "close"), headers=HTMX if htmx else None,
                               data={"close-outcome": "resolved", "close-note": ""})
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        assert field_error(page, "close-root_causes") == "Choose at least one root cause."
        assert field_error(page, "close-outcome") == (
            "1 action-plan item is still open. Finish them first, or ask a manager to close the ticket.")
        assert field_error(page, "close-note") == "Write a closing note."
        if not htmx:  # the whole page, with the close form open
            assert '<details class="ticket-close" open>' in page
    assert ticket_state(app, org["tenant_id"], ticket_id)["status"] == "action_plan"


def test_root_causes_are_checkboxes_and_two_can_be_ticked(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    page = client.get(ticket_url(org, ticket_id)).get_data(as_text=True)
    assert "<select multiple" not in page and "Ctrl" not in page
    with app.app_context(), tenant_context(org["tenant_id"]):
        causes = {c.label: c.id for c in db.session.execute(select(RootCause)).scalars()}
        db.session.remove()
    for label, cause_id in causes.items():
        assert choice(page, "close-root_causes", str(cause_id)) == (label, False)
        assert re.search(rf'<input[^>]*type="checkbox"[^>]*value="{cause_id}"', page)
    two = [str(causes["Billing errors"]), str(causes["Communication"])]
    response = client.post(ticket_url(org, ticket_id, "close"), data={
        "close-outcome": "not_resolved", "close-note": "Moved on.", "close-root_causes": two})
    assert response.status_code == 303
    closed = ticket_state(app, org["tenant_id"], ticket_id)["activities"][0]
    assert closed[3]["root_causes"] == ["Billing errors", "Communication"]


def test_the_email_arrives_from_the_agent_through_the_worker(app, org, as_member, smtp_sink):
    ticket_id, people = _ticket_at_anmake_account(app, org)
    run_jobs(app)  # the alert and the introduction
    smtp_sink.clear()
    client = as_member("agent")
    assert _send(client, org, ticket_id, **{"compose-cc": [str(people["pat"])]}).status_code == 303
    run_jobs(app)
    [received] = smtp_sink.wait_for(1)
    assert received["X-Turnaround-Kind"] == "personal_email"
    display_name, address = parseaddr(str(received["From"]))
    assert (display_name, address) == ("Alex Agent", SENDER)
    assert str(received["Reply-To"]) == "alex@acme.example"
    assert [a for _, a in getaddresses([str(received["To"])])] == [CASEY]
    assert [a for _, a in getaddresses([str(received["Cc"])])] == [PAT]
    assert str(received["Subject"]) == "Following up on your feedback"
    assert "Could we talk on Thursday?" in body_text(received) and "Hi Casey," in body_text(received)
    [message] = outbox(app, org["tenant_id"], "personal_email")
    assert message.status == "sent"
    # …and the ticket shows it, with the cadence's personal follow-up email done.
    page = client.get(ticket_url(org, ticket_id)).get_data(as_text=True)
    assert (f"Alex Agent sent an email to {CASEY} (copied to {PAT}): “Following up on your feedback”."
            in text(timeline_html(page)))
    assert _follow_up_task(app, org, ticket_id).done_at is not None


def test_a_root_cause_id_too_large_for_the_database_is_a_message_not_an_error(app, org, as_member):
    ticket_id = open_ticket(app, org)
    response = as_member("agent").post(ticket_url(org, ticket_id, "close"), data={
        "close-outcome": "resolved", "close-note": "", "close-root_causes": ["99999999999", "-1"]})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_error(page, "close-root_causes") == "Choose root causes from the list."
    assert field_error(page, "close-note") == "Write a closing note."


def test_the_same_send_posted_twice_sends_one_email(app, org, as_member):
    ticket_id = open_ticket(app, org)
    client = as_member("agent")
    key = new_key()
    first = _send(client, org, ticket_id, **{"compose-submission_key": key})
    again = _send(client, org, ticket_id, htmx=True, **{"compose-submission_key": key})
    assert first.status_code == 303 and again.status_code == 200
    assert len(outbox(app, org["tenant_id"], "personal_email")) == 1
    sent = [a for a in ticket_state(app, org["tenant_id"], ticket_id)["activities"] if a[3].get("sent")]
    assert len(sent) == 1


def test_the_email_tab_runs_a_fixed_number_of_queries_however_many_people_work_at_themake_account(app, org, as_member):
    from tests.support.tickets import count_queries

    ticket_id, _ = _ticket_at_anmake_account(app, org)
    client = as_member("agent")
    url = ticket_url(org, ticket_id) + "?tab=email"
    client.get(url)
    with count_queries(app) as few:
        assert client.get(url).status_code == 200
    with app.app_context(), tenant_context(org["tenant_id"]):
        account_id = db.session.execute(select(CustomerAccount.id).where(
            CustomerAccount.name == "Lakeside Orthopedics")).scalar_one()
    for n in range(30):
        make_contact(app, org["tenant_id"], f"Colleague {n:02d}", f"colleague{n}@client.example", account_id=account_id)
    with count_queries(app) as many:
        page = client.get(url).get_data(as_text=True)
    assert len(few) == len(many), many
    assert "Colleague 29 &lt;colleague29@client.example&gt;" in page
