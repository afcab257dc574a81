"""Email templates: an editor per template with its merge fields and a live preview; what is saved is sent."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.settings.models import EmailTemplate
from app.tenancy import tenant_context
from tests.smtp_sink import body_html, body_text
from tests.support.data import answer, audit_entries, login, make_contact, run_jobs
from tests.support.html import field_error, label, text

HTMX = {"HX-Request": "true"}
EVIL_BODY = (
    "Hi {contact.first_name},<script>alert(1)</script>\n\n"
    '<a href="javascript:alert(2)">Click me</a> and <p onclick="alert(3)">talk to {agent.name}</p>'
    '<img src=x onerror="alert(4)">'
)


def _url(org, path: str = "", slug: str | None = None) -> str:
    return f"/t/{slug or org['slug']}/settings/email-templates{path}"


def _rows(app, tenant_id: int) -> dict[str, tuple[str, str]]:
    with app.app_context(), tenant_context(tenant_id):
        rows = {t.key: (t.subject, t.body) for t in db.session.execute(select(EmailTemplate)).scalars()}
        db.session.remove()
    return rows


def _audit(app, tenant_id: int) -> list[tuple[str, str, dict]]:
    return [(e.area, e.summary, dict(e.changes)) for e in audit_entries(app, tenant_id)]


def _frame_url(html: str) -> str:
    match = re.search(r'<iframe class="email-frame" src="([^"]+)" sandbox referrerpolicy="no-referrer"', html)
    assert match, "no sandboxed preview frame"
    return match.group(1).replace("&amp;", "&")


def _intro_for(app, tenant_id: int, smtp_sink, name: str = "Casey Client"):
    contact_id = make_contact(app, tenant_id, name)
    answer(app, tenant_id, contact_id, 3, "The invoice was wrong")
    run_jobs(app)
    address = f"{name.lower().replace(' ', '.')}@client.example"
    intros = [m for m in smtp_sink.to(address) if m["X-Turnaround-Kind"] == "detractor_intro"]
    assert len(intros) == 1
    return intros[0]


def test_the_templates_page_lists_every_template_and_whose_wording_it_uses(app, client, org):
    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.add(EmailTemplate(key="reminder", subject="Nudge: {task.title}", body="Hi"))
        db.session.commit()
    login(client, app, org["admin"])
    page = client.get(_url(org)).get_data(as_text=True)
    for label in ("Survey invitation", "Detractor introduction", "Second outreach", "Manager alert", "Reminder",
                  "Closing follow-up"):
        assert f">{label}</a>" in page
    assert re.search(r">Reminder</a></td>\s*<td>[^<]*</td>\s*<td><strong>Your own</strong>", page)
    assert re.search(r">Second outreach</a></td>\s*<td>[^<]*</td>\s*<td>Default</td>", page)


def test_the_editor_lists_the_allowed_merge_fields_and_previews_the_current_wording(app, client, org):
    login(client, app, org["admin"])
    response = client.get(_url(org, "/detractor_intro"))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert label(page, "subject") == "Subject" and label(page, "body") == "Body"
    for field, sample in [("agent.name", "Sam Rivera"), ("contact.first_name", "Dana"),
                          ("ticket.reference", "D-0042")]:
        assert f"{{{field}}} {sample}" in text(page)
    assert "{contact.email}" not in text(page)  # the manager alert has it; the introduction does not
    assert 'hx-trigger="input changed delay:400ms, change"' in page
    assert "Subject: Your feedback to Acme Billing: can we talk?" in text(page)
    frame = client.get(_frame_url(page))
    assert frame.status_code == 200 and "Sam Rivera at Acme Billing" in frame.get_data(as_text=True)
    assert frame.headers["Content-Security-Policy"].startswith("sandbox; default-src 'none'")
    assert "style=" not in re.sub(r"<iframe.*?</iframe>", "", page, flags=re.S).split("<main", 1)[1]


def test_the_live_preview_renders_the_draft_with_sample_values_and_saves_nothing(app, client, org):
    login(client, app, org["admin"])
    response = client.post(_url(org, "/detractor_intro/preview"), headers=HTMX, data={
        "subject": "A word from {agent.first_name} about {ticket.reference}",
        "body": "Dear {contact.first_name},\n\n<strong>We are sorry.</strong>\n\n{agent.name}"})
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert "<!doctype html>" not in fragment
    assert "Subject: A word from Sam about D-0042" in text(fragment)
    assert "Dear Dana,\n\nWe are sorry.\n\nSam Rivera" in fragment
    frame = client.get(_frame_url(fragment))
    assert frame.status_code == 200
    assert "<p>Dear Dana,</p><p><strong>We are sorry.</strong></p><p>Sam Rivera</p>" in frame.get_data(as_text=True)
    assert frame.headers["Content-Security-Policy"].startswith("sandbox;")
    assert _rows(app, org["tenant_id"]) == {} and _audit(app, org["tenant_id"]) == []


def test_the_preview_works_without_javascript_as_a_whole_page(app, client, org):
    login(client, app, org["admin"])
    response = client.post(_url(org, "/reminder/preview"), data={
        "subject": "Due soon: {task.title}", "body": "Hi {recipient.first_name}, {task.title} is due {task.due}."})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<!doctype html>" in page and "Subject: Due soon: 2nd call" in text(page)
    assert "Hi {recipient.first_name}, {task.title} is due {task.due}.</textarea>" in page


def test_an_unknown_merge_field_is_named_next_to_its_field_and_nothing_is_saved(app, client, org):
    login(client, app, org["admin"])
    response = client.post(_url(org, "/detractor_intro"), data={
        "subject": "Hello {contact.first_name}", "body": "Your number is {contact.ssn} and {Contact.Name}."})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_error(page, "body") == (
        "Unknown merge fields {contact.ssn}, {Contact.Name}. Use only the merge fields listed for this email.")
    assert 'id="subject-error"' not in page
    htmx = client.post(_url(org, "/detractor_intro"), headers=HTMX, data={
        "subject": "About {ticket.comment}", "body": "Hi"})
    assert htmx.status_code == 422
    fragment = htmx.get_data(as_text=True)
    assert "<!doctype html>" not in fragment
    assert field_error(fragment, "subject").startswith("Unknown merge field {ticket.comment}.")
    assert _rows(app, org["tenant_id"]) == {} and _audit(app, org["tenant_id"]) == []


def test_saving_stores_the_wording_and_audits_subject_and_body_before_and_after(app, client, org):
    login(client, app, org["admin"])
    response = client.post(_url(org, "/second_outreach"), data={
        "subject": "Still hoping to talk, {contact.first_name}", "body": "Tom & Jerry say hi, {contact.first_name}."})
    assert response.status_code == 303 and response.headers["Location"].endswith(_url(org, "/second_outreach"))
    assert _rows(app, org["tenant_id"]) == {
        "second_outreach": ("Still hoping to talk, {contact.first_name}", "Tom & Jerry say hi, {contact.first_name}.")}
    area, summary, changes = _audit(app, org["tenant_id"])[-1]
    assert (area, summary) == ("email_templates", "Changed the second outreach email")
    assert changes["subject"] == ["Following up: your feedback to {organisation}",
                                  "Still hoping to talk, {contact.first_name}"]
    assert changes["body"][0].startswith("Hi {contact.first_name},\n\nI tried to reach you")
    assert changes["body"][1] == "Tom & Jerry say hi, {contact.first_name}."
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved the second outreach email." in page and "your own wording" in page
    again = client.post(_url(org, "/second_outreach"), headers=HTMX, data={
        "subject": "Still hoping to talk, {contact.first_name}", "body": "Tom & Jerry say hi, {contact.first_name}."})
    assert again.status_code == 200 and "No changes to save" in again.get_data(as_text=True)
    assert len(_audit(app, org["tenant_id"])) == 1


def test_script_event_handlers_and_javascript_links_never_survive_into_preview_storage_or_mail(
        app, client, org, smtp_sink):
    login(client, app, org["admin"])
    preview = client.post(_url(org, "/detractor_intro/preview"), headers=HTMX,
                          data={"subject": "Hello", "body": EVIL_BODY}).get_data(as_text=True)
    assert "Unsafe HTML (scripts, event handlers, unsafe links) will be removed when you save." in preview
    frame = client.get(_frame_url(preview)).get_data(as_text=True)
    saved = client.post(_url(org, "/detractor_intro"), headers=HTMX, data={"subject": "Hello", "body": EVIL_BODY})
    assert saved.status_code == 200
    assert ("HTML that emails may not carry (scripts, event handlers, unsafe links) was removed."
            in saved.get_data(as_text=True))
    stored = _rows(app, org["tenant_id"])["detractor_intro"][1]
    message = _intro_for(app, org["tenant_id"], smtp_sink)
    for html in (frame, stored, body_html(message), body_text(message)):
        assert "<script" not in html and "alert(" not in html
        assert "javascript:" not in html and "onclick" not in html and "onerror" not in html
    assert "Click me" in body_html(message) and "talk to" in body_html(message)
    # The editor shows the stored text escaped, never as live markup.
    editor = client.get(_url(org, "/detractor_intro")).get_data(as_text=True)
    assert "<script>" not in editor.split("<main", 1)[1]


def test_an_edited_detractor_introduction_is_what_arrives_in_the_smtp_sink(app, client, org, smtp_sink):
    login(client, app, org["admin"])
    client.post(_url(org, "/detractor_intro"), data={
        "subject": "{contact.first_name}, {agent.first_name} from {organisation} here",
        "body": "Dear {contact.first_name},\n\nThis is <strong>Quokka wording 7731</strong> from {agent.name}."})
    message = _intro_for(app, org["tenant_id"], smtp_sink)
    assert message["Subject"] == "Casey, Alex from Acme Billing here"
    assert "Dear Casey,\n\nThis is Quokka wording 7731 from Alex Agent." in body_text(message).replace("\r\n", "\n")
    assert "Quokka wording 7731 from Alex Agent." in text(body_html(message))


def test_reset_to_default_deletes_the_organisations_wording_and_is_audited(app, client, org, smtp_sink):
    login(client, app, org["admin"])
    client.post(_url(org, "/detractor_intro"), data={"subject": "Custom subject", "body": "Custom body"})
    response = client.post(_url(org, "/detractor_intro/reset"), headers=HTMX)
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert "The detractor introduction email is back to the default wording." in fragment
    assert "Reset to default" not in fragment and "default wording" in fragment
    assert _rows(app, org["tenant_id"]) == {}
    area, summary, changes = _audit(app, org["tenant_id"])[-1]
    assert summary == "Reset the detractor introduction email to the default wording"
    assert changes["subject"] == ["Custom subject", "Your feedback to {organisation}: can we talk?"]
    assert _intro_for(app, org["tenant_id"], smtp_sink)["Subject"] == "Your feedback to Acme Billing: can we talk?"


def test_managers_may_read_templates_but_not_save_preview_or_reset_and_agents_may_not_look(app, client, org):
    login(client, app, org["manager"])
    page = client.get(_url(org, "/detractor_intro")).get_data(as_text=True)
    assert "Only admins can change these settings." in page
    assert "<textarea" not in page and "Save template" not in page
    assert client.get(_url(org, "/detractor_intro/preview.html")).status_code == 200
    data = {"subject": "Manager wording", "body": "Hi"}
    for path in ("/detractor_intro", "/detractor_intro/preview", "/detractor_intro/reset"):
        assert client.post(_url(org, path), data=data).status_code == 403, path
    agent = app.test_client()
    login(agent, app, org["agent"])
    assert agent.get(_url(org)).status_code == 403
    assert agent.get(_url(org, "/detractor_intro")).status_code == 403
    assert agent.post(_url(org, "/detractor_intro"), data=data).status_code == 403
    assert _rows(app, org["tenant_id"]) == {}


def test_an_unknown_template_is_404(app, client, org):
    login(client, app, org["admin"])
    assert client.get(_url(org, "/no_such_email")).status_code == 404
    assert client.post(_url(org, "/no_such_email"), data={"subject": "x", "body": "y"}).status_code == 404


def test_another_organisation_keeps_its_own_wording_and_cannot_see_the_drafts(app, client, org, other_org, smtp_sink):
    login(client, app, org["admin"])
    client.post(_url(org, "/detractor_intro"), data={"subject": "Acme-only subject", "body": "Acme-only body"})
    preview = client.post(_url(org, "/detractor_intro/preview"), headers=HTMX,
                          data={"subject": "Draft", "body": "Acme secret draft"}).get_data(as_text=True)
    frame_url = _frame_url(preview)
    assert _rows(app, other_org["tenant_id"]) == {}
    outsider = app.test_client()
    login(outsider, app, other_org["admin"])
    assert outsider.get(frame_url).status_code == 404
    theirs = outsider.get(frame_url.replace(f"/t/{org['slug']}/", f"/t/{other_org['slug']}/"))
    assert "Acme secret draft" not in theirs.get_data(as_text=True)
    intro = _intro_for(app, other_org["tenant_id"], smtp_sink, "Bea Patient")
    assert intro["Subject"] == "Your feedback to Bayside Clinic: can we talk?"
    assert "Acme-only" not in body_text(intro)
