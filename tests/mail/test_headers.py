"""Issue 8.6: header values are cleaned when a message is built, so a name or subject with a line break
(from a CSV import or an older row) is sent on one line and can never add a header; the forms where people
type names refuse line breaks next to the field."""
from __future__ import annotations

from app.contacts.models import Contact
from app.extensions import db
from app.mail import build_message, header_value
from app.tenancy import tenant_context
from tests.support.data import login, run_jobs
from tests.mail.helpers import outbox, queue_plain


def test_a_name_and_subject_with_line_breaks_are_sent_on_one_line_and_add_no_header(app, org, smtp_sink):
    queue_plain(app, org["tenant_id"], to="dana@client.example", to_name="Dana\r\nBcc: everyone@evil.example",
                subject="Your visit\nX-Injected: yes\x1b")
    run_jobs(app)
    [row] = outbox(app, org["tenant_id"])
    assert row.status == "sent", row.last_error
    [message] = smtp_sink.messages
    assert str(message["To"]) == '"Dana Bcc: everyone@evil.example" <dana@client.example>'
    assert str(message["Subject"]) == "Your visit X-Injected: yes"
    assert message["Bcc"] is None and message["X-Injected"] is None


def test_building_never_fails_on_control_characters_in_any_header_value(app, org):
    queue_plain(app, org["tenant_id"])
    [row] = outbox(app, org["tenant_id"])
    row.from_name, row.to_name, row.subject = "Acme\u2028Billing", "Pat\tO'Neil\x7f", "Über\r\ndue\u0085"
    email = build_message(row)
    raw = email.as_string()
    assert "Acme Billing" in str(email["From"]) and "Pat O'Neil" in raw
    assert all("\n" not in str(value) and "\r" not in str(value) for _, value in email.items())
    assert header_value("  Dana \n\n Doe  ") == "Dana Doe"


def test_the_contact_form_refuses_a_name_with_a_line_break_next_to_the_field(client, app, org):
    login(client, app, org["agent"])
    response = client.post(f"/t/{org['slug']}/contacts/new",
                           data={"name": "Dana\r\nDoe", "email": "dana@client.example"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="name-error"' in page and "Keep this on one line, without line breaks." in page
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.execute(db.select(Contact)).first() is None
        db.session.remove()


def test_signing_up_refuses_a_name_with_a_line_break(client):
    response = client.post("/signup", data={
        "organisation": "Acme\nBilling", "kind": "billing", "timezone": "America/New_York",
        "name": "Ada\nAdmin", "email": "ada@acme.example", "password": "correct-horse-battery"})
    assert response.status_code in (200, 422)
    assert response.get_data(as_text=True).count("Keep this on one line, without line breaks.") == 2
