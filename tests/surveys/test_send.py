"""Sending the survey: to chosen contacts or by recipient role, through the outbox to a real SMTP server."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from app.contacts.models import RecipientRole
from app.extensions import db
from app.mail import OutboxMessage
from app.surveys.models import SurveyInvitation
from app.tenancy import tenant_context
from tests.smtp_sink import body_html, body_text
from tests.support.data import login, make_contact, make_invitation, run_jobs
from tests.support.html import choice, label

QUESTION = "How likely is it that you would recommend Acme Billing to a friend or colleague?"


def _url(org):
    return f"/t/{org['slug']}/surveys/send"


def _counts(app, tenant_id):
    """(invitations, outbox messages) of the tenant."""
    with app.app_context(), tenant_context(tenant_id):
        counts = (db.session.execute(select(func.count(SurveyInvitation.id))).scalar_one(),
                  db.session.execute(select(func.count(OutboxMessage.id))).scalar_one())
        db.session.remove()
    return counts


def _invited(app, tenant_id):
    """Contact ids invited, and who sent them."""
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(select(SurveyInvitation.contact_id, SurveyInvitation.sent_by_id)).all()
        db.session.remove()
    return sorted(rows)


def _role_id(app, tenant_id, name):
    with app.app_context(), tenant_context(tenant_id):
        role_id = db.session.execute(select(RecipientRole.id).where(RecipientRole.name == name)).scalar_one()
        db.session.remove()
    return role_id


def test_send_page_shows_question_email_preview_and_labelled_choices(client, app, org):
    casey = make_contact(app, org["tenant_id"], "Casey Client")
    login(client, app, org["agent"])
    response = client.get(_url(org))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"<blockquote>{QUESTION}</blockquote>" in page
    assert "Acme Billing: how likely are you to recommend us?" in page  # subject in the preview
    assert "Hi [First name]," in page and "10: [personal link for score 10]" in page
    assert choice(page, "contact_ids", str(casey)) == ("Casey Client <casey.client@client.example>", False)
    assert label(page, "role_id") == "Recipient role"
    assert "NPS Recipient (1 contact)" in page and "Signer (0 contacts)" in page
    assert "Send survey to selected contacts</button>" in page and "Send survey to everyone with this role</button>" in page
    assert "style=" not in page and "<script>" not in page and "hx-on" not in page


def test_send_to_selected_contacts_delivers_survey_emails_with_score_links(client, app, org, smtp_sink):
    casey = make_contact(app, org["tenant_id"], "Casey Client")
    dana = make_contact(app, org["tenant_id"], "Dana Doe", roles=())
    make_contact(app, org["tenant_id"], "Not Chosen")
    login(client, app, org["agent"])
    response = client.post(_url(org), data={"recipients": "contacts", "contact_ids": [casey, dana]})
    assert response.status_code == 303 and response.headers["Location"].endswith("/surveys/send")
    assert "Sending the survey to 2 contacts." in client.get(response.headers["Location"]).get_data(as_text=True)
    run_jobs(app)
    assert "Survey sent to 2 contacts." in client.get(response.headers["Location"]).get_data(as_text=True)
    assert _invited(app, org["tenant_id"]) == [(casey, org["agent"]), (dana, org["agent"])]
    assert _counts(app, org["tenant_id"]) == (2, 2)

    messages = smtp_sink.wait_for(2)
    assert sorted(str(m["To"]) for m in messages) == ["Casey Client <casey.client@client.example>",
                                                       "Dana Doe <dana.doe@client.example>"]
    message = smtp_sink.to("casey.client@client.example")[0]
    assert message["Subject"] == "Acme Billing: how likely are you to recommend us?"
    assert message["From"] == "Acme Billing <outreach@turnaround.localhost>"  # the organisation, not Turnaround
    assert message["Reply-To"] == "alex@acme.example"
    text, html = body_text(message), body_html(message)
    assert "Hi Casey," in text and QUESTION in text and QUESTION in html
    links = re.findall(r"http://localhost/s/([A-Za-z0-9_-]+)\?score=(\d+)", text)
    assert [int(score) for _, score in links] == list(range(11))
    assert len({token for token, _ in links}) == 1  # one personal token per invitation
    html_scores = re.findall(rf'href="http://localhost/s/{links[0][0]}\?score=(\d+)"', html)
    assert [int(s) for s in html_scores] == list(range(11))
    other_token = re.findall(r"/s/([A-Za-z0-9_-]+)\?score=0", body_text(smtp_sink.to("dana.doe@client.example")[0]))
    assert other_token and other_token[0] != links[0][0]


def test_send_by_role_reaches_only_contacts_with_that_role(client, app, org, smtp_sink):
    signer = make_contact(app, org["tenant_id"], "Sam Signer", roles=("Signer",))
    both = make_contact(app, org["tenant_id"], "Bea Both", roles=("Signer", "NPS Recipient"))
    make_contact(app, org["tenant_id"], "Nora Nps", roles=("NPS Recipient",))
    make_contact(app, org["tenant_id"], "Rolf Roleless", roles=())
    login(client, app, org["manager"])
    signers = {"recipients": "role", "role_id": _role_id(app, org["tenant_id"], "Signer")}
    response = client.post(_url(org), data=signers)
    assert response.status_code == 200 and "This will email 2 contacts." in response.get_data(as_text=True)
    assert _counts(app, org["tenant_id"]) == (0, 0)
    response = client.post(_url(org), data={**signers, "confirm_count": "2"})
    assert response.status_code == 303
    run_jobs(app)
    assert [c for c, _ in _invited(app, org["tenant_id"])] == sorted([signer, both])
    assert sorted(str(m["To"]) for m in smtp_sink.wait_for(2)) == [
        "Bea Both <bea.both@client.example>", "Sam Signer <sam.signer@client.example>"]


def test_empty_selection_is_refused_next_to_the_field_and_nothing_is_sent(client, app, org):
    make_contact(app, org["tenant_id"], "Casey Client")
    login(client, app, org["agent"])
    response = client.post(_url(org), data={"recipients": "contacts"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="contact_ids-error"' in page and "Choose at least one contact" in page
    response = client.post(_url(org), data={"recipients": "contacts", "contact_ids": list(range(1, 202))})
    assert response.status_code == 422 and "Choose at most 200 contacts" in response.get_data(as_text=True)
    response = client.post(_url(org), data={"recipients": "contacts", "contact_ids": "abc"})
    assert response.status_code == 422 and "Choose contacts from the list." in response.get_data(as_text=True)
    assert _counts(app, org["tenant_id"]) == (0, 0)


def test_role_nobody_holds_is_refused(client, app, org):
    make_contact(app, org["tenant_id"], "Nora Nps", roles=("NPS Recipient",))
    login(client, app, org["agent"])
    response = client.post(_url(org), data={"recipients": "role", "role_id": _role_id(app, org["tenant_id"], "Signer")})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="role_id-error"' in page and "No contact has the role Signer yet." in page
    response = client.post(_url(org), data={"recipients": "role", "role_id": "nonsense"})
    assert response.status_code == 422 and "Choose one of the recipient roles listed." in response.get_data(as_text=True)
    assert _counts(app, org["tenant_id"]) == (0, 0)


def test_htmx_send_returns_the_fragment_with_the_message(client, app, org):
    casey = make_contact(app, org["tenant_id"], "Casey Client")
    login(client, app, org["agent"])
    response = client.post(_url(org), data={"recipients": "contacts", "contact_ids": [casey]}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert "<html" not in fragment and "<h1>" not in fragment
    assert '<div id="flashes" hx-swap-oob="true">' in fragment and "Sending the survey to 1 contact." in fragment
    assert "Queued 0 of 1" in fragment and 'hx-trigger="every 1s"' in fragment  # its progress, polling
    assert f'value="{casey}" checked' not in fragment  # the form starts afresh
    error = client.post(_url(org), data={"recipients": "contacts"}, headers={"HX-Request": "true"})
    assert error.status_code == 422 and "Choose at least one contact" in error.get_data(as_text=True)
    run_jobs(app)
    assert _counts(app, org["tenant_id"]) == (1, 1)


def test_contact_list_can_be_filtered_and_kept_as_a_fragment(client, app, org):
    make_contact(app, org["tenant_id"], "Alice Adams", "alice@wonder.example")
    make_contact(app, org["tenant_id"], "Bob Brown")
    login(client, app, org["agent"])
    page = client.get(_url(org), query_string={"q": "WONDER"}).get_data(as_text=True)
    assert "Alice Adams" in page and "Bob Brown" not in page and "<h1>Send survey</h1>" in page
    fragment = client.get(_url(org), query_string={"q": "bob", "list": 1}, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Bob Brown" in fragment and "Alice Adams" not in fragment and "<blockquote>" not in fragment


def test_send_from_the_contact_page_returns_there(client, app, org):
    casey = make_contact(app, org["tenant_id"], "Casey Client")
    login(client, app, org["admin"])
    page = client.get(f"/t/{org['slug']}/contacts/{casey}").get_data(as_text=True)
    assert f'action="{_url(org)}"' in page and f'name="contact_ids" value="{casey}"' in page
    response = client.post(_url(org), data={"recipients": "contacts", "contact_ids": casey, "from_contact": "1"})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/contacts/{casey}")
    run_jobs(app)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Sending the survey to 1 contact." in page and "Awaiting answer" in page


def test_viewer_cannot_send(client, app, org):
    casey = make_contact(app, org["tenant_id"], "Casey Client")
    login(client, app, org["viewer"])
    assert client.get(_url(org)).status_code == 403
    assert client.post(_url(org), data={"recipients": "contacts", "contact_ids": casey}).status_code == 403
    assert 'href="/t/acme-billing/surveys/send"' not in client.get(f"/t/{org['slug']}/contacts/").get_data(as_text=True)
    assert _counts(app, org["tenant_id"]) == (0, 0)


def test_sending_in_one_organisation_touches_nothing_in_another(client, app, org, other_org, smtp_sink):
    mine = make_contact(app, org["tenant_id"], "Casey Client")
    theirs = make_contact(app, other_org["tenant_id"], "Olga Outsider", roles=("NPS Recipient",))
    login(client, app, org["agent"])
    # Another organisation's contact id is not a recipient, alone or mixed in.
    response = client.post(_url(org), data={"recipients": "contacts", "contact_ids": [theirs]})
    assert response.status_code == 422
    response = client.post(_url(org), data={"recipients": "contacts", "contact_ids": [mine, theirs]})
    assert response.status_code == 422
    # Nor is another organisation's role.
    response = client.post(_url(org), data={"recipients": "role",
                                            "role_id": _role_id(app, other_org["tenant_id"], "NPS Recipient")})
    assert response.status_code == 422
    assert _counts(app, org["tenant_id"]) == (0, 0)
    response = client.post(_url(org), data={"recipients": "role", "confirm_count": "1",
                                            "role_id": _role_id(app, org["tenant_id"], "NPS Recipient")})
    assert response.status_code == 303
    run_jobs(app)
    assert _counts(app, org["tenant_id"]) == (1, 1)
    assert _counts(app, other_org["tenant_id"]) == (0, 0)
    assert [str(m["To"]) for m in smtp_sink.wait_for(1)] == ["Casey Client <casey.client@client.example>"]
    assert client.get(f"/t/{other_org['slug']}/surveys/send").status_code == 404


def _confirmation(html: str) -> str:
    match = re.search(r'<article id="send-confirm".*?</article>', html, re.S)
    assert match, "no confirmation shown"
    return match.group(0)


def test_a_send_to_a_role_first_says_how_many_it_will_email_and_who_it_skips_then_sends_on_confirmation(
        client, app, org, smtp_sink):
    recent = make_contact(app, org["tenant_id"], "Rita Recent", roles=("Signer",))
    make_contact(app, org["tenant_id"], "Sam Signer", roles=("Signer",))
    make_contact(app, org["tenant_id"], "Bea Both", roles=("Signer", "NPS Recipient"))
    make_invitation(app, org["tenant_id"], recent)
    before = _counts(app, org["tenant_id"])
    login(client, app, org["agent"])
    role_id = _role_id(app, org["tenant_id"], "Signer")

    response = client.post(_url(org), data={"recipients": "role", "role_id": role_id})
    assert response.status_code == 200
    confirmation = _confirmation(response.get_data(as_text=True))
    assert "Send the survey to everyone with the role Signer?" in confirmation
    assert ("This will email 2 contacts (1 skipped: surveyed in the last 30 days — Rita Recent)."
            in confirmation)
    assert re.search(r'<input type="hidden" name="confirm_count" value="2">\s*<button type="submit">'
                     r'Send to 2 contacts</button>', confirmation)
    assert ">Cancel</a>" in confirmation
    assert _counts(app, org["tenant_id"]) == before

    response = client.post(_url(org), data={"recipients": "role", "role_id": role_id, "confirm_count": "2"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert ("Sending the survey to 2 contacts; 1 contact is skipped because it was surveyed in the last 30 days."
            in fragment and "Rita Recent" in fragment)
    assert 'id="send-confirm"' not in fragment
    run_jobs(app)
    [send_id] = re.findall(r'id="survey-send-(\d+)"', fragment)
    progress = client.get(f"/t/{org['slug']}/surveys/sends/{send_id}", headers={"HX-Request": "true"})
    summary = progress.get_data(as_text=True)
    assert "Survey sent to 2 contacts. 1 contact was skipped because they were surveyed in the last 30 days." in summary
    assert "hx-trigger" not in summary and "<progress" not in summary  # done: the polling stops
    assert sorted(str(m["To"]) for m in smtp_sink.wait_for(2)) == [
        "Bea Both <bea.both@client.example>", "Sam Signer <sam.signer@client.example>"]


def test_a_confirmation_for_another_number_asks_again_with_the_new_count(client, app, org):
    make_contact(app, org["tenant_id"], "Sam Signer", roles=("Signer",))
    make_contact(app, org["tenant_id"], "Late Signer", roles=("Signer",))
    login(client, app, org["agent"])
    response = client.post(_url(org), data={"recipients": "role", "confirm_count": "1",
                                            "role_id": _role_id(app, org["tenant_id"], "Signer")})
    assert response.status_code == 200
    assert "Send to 2 contacts</button>" in _confirmation(response.get_data(as_text=True))
    assert _counts(app, org["tenant_id"]) == (0, 0)


def test_when_everyone_with_the_role_was_surveyed_recently_the_confirmation_offers_no_send(client, app, org):
    recent = make_contact(app, org["tenant_id"], "Rita Recent", roles=("Signer",))
    make_invitation(app, org["tenant_id"], recent)
    login(client, app, org["agent"])
    response = client.post(_url(org), data={"recipients": "role", "confirm_count": "0",
                                            "role_id": _role_id(app, org["tenant_id"], "Signer")})
    confirmation = _confirmation(response.get_data(as_text=True))
    assert "This will email 0 contacts (1 skipped: surveyed in the last 30 days — Rita Recent)." in confirmation
    assert "<button" not in confirmation and ">Back</a>" in confirmation
    assert _counts(app, org["tenant_id"]) == (1, 0)


def test_invitations_come_from_the_sender_name_with_replies_to_the_address_the_admin_chose(client, app, org, smtp_sink):
    casey = make_contact(app, org["tenant_id"], "Casey Client")
    login(client, app, org["admin"])
    assert client.post(f"/t/{org['slug']}/settings/survey-content/sender", data={
        "sender-sender_name": "Acme Customer Success", "sender-reply_to_address": "success@acme.example"},
    ).status_code == 303
    page = client.get(_url(org)).get_data(as_text=True)
    assert "<strong>From:</strong> Acme Customer Success (replies go to success@acme.example)" in page
    assert client.post(_url(org), data={"recipients": "contacts", "contact_ids": [casey]}).status_code == 303
    run_jobs(app)
    [message] = smtp_sink.wait_for(1)
    assert message["From"] == "Acme Customer Success <outreach@turnaround.localhost>"
    assert message["Reply-To"] == "success@acme.example"


def test_the_confirmation_of_a_send_to_a_role_counts_in_the_database(client, app, org):
    """Asking "This will email N contacts" takes the same statements for 3 holders of a role as for 30,
    skipped contacts included, and names only the first few of those skipped."""
    from tests.support.tickets import count_queries

    login(client, app, org["manager"])
    signers = {"recipients": "role", "role_id": _role_id(app, org["tenant_id"], "Signer")}
    statements = []
    for total in (3, 30):
        for i in range(total - (0 if total == 3 else 3)):
            contact_id = make_contact(app, org["tenant_id"], f"Holder {total}-{i:02d}", roles=("Signer",))
            if i % 3 == 0:
                make_invitation(app, org["tenant_id"], contact_id)
        with count_queries(app) as seen:
            page = client.post(_url(org), data=signers).get_data(as_text=True)
        statements.append(len(seen))
    assert statements[0] == statements[1]
    assert "This will email 20 contacts (10 skipped: surveyed in the last 30 days — " in page
    assert "and 5 more)" in page
    assert _counts(app, org["tenant_id"])[1] == 0  # asked, nothing sent
