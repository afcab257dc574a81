"""The email log: admins see every message of their organisation with its state, filter by state,
open a message, and see its HTML body in a sandboxed frame whose links open the whole window."""
from __future__ import annotations

import re
from html import unescape as html_unescape
from types import SimpleNamespace

from sqlalchemy import select, update

from app.accounts.models import Tenant, User
from app.contacts.models import Contact
from app.extensions import db
from app.mail import OutboxMessage, queue_email
from app.surveys import services as surveys
from app.surveys.sending import run_send
from app.tenancy import tenant_context
from app.timeutil import utcnow
from tests.support.data import answer, login, make_contact, run_jobs
from tests.support.html import selected

HTMX = {"HX-Request": "true"}
SANDBOX_CSP = ("sandbox allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation; "
               "default-src 'none'; style-src 'unsafe-inline'; img-src data:")


def _queue_plain(app, tenant_id, count, subject="Note {n}"):
    """Queue ``count`` simple messages (team-invitation template) without sending them."""
    with app.app_context(), tenant_context(tenant_id):
        tenant = db.session.get(Tenant, tenant_id)
        ids = []
        for n in range(count):
            ids.append(queue_email(
                kind="team_invitation", to_address=f"person{n}@example.com", to_name=f"Person {n}",
                subject=subject.format(n=n), template="team_invitation",
                context={"inviter": SimpleNamespace(name="Ada Admin"), "tenant": tenant, "role": "Agent",
                         "link": "http://localhost/invitations/x", "expires_at": utcnow()},
            ).id)
        db.session.commit()
        db.session.remove()
    return ids


def _message_id(app, tenant_id, kind) -> int:
    with app.app_context(), tenant_context(tenant_id):
        message_id = db.session.execute(
            select(OutboxMessage.id).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id).limit(1)
        ).scalar_one()
        db.session.remove()
    return message_id


def _send_survey(app, tenant_id, contact_id) -> int:
    with app.app_context(), tenant_context(tenant_id):
        tenant = db.session.get(Tenant, tenant_id)
        sender = db.session.execute(select(User).where(User.name == "Ada Admin")).scalar_one()
        send = surveys.send_survey(tenant=tenant, survey=surveys.default_survey(),
                                   contacts=[db.session.get(Contact, contact_id)], sent_by=sender)
        db.session.commit()
        run_send(send.id)
    return _message_id(app, tenant_id, "survey_invitation")


def test_email_log_lists_every_message_newest_first_with_state_and_attempts(app, client, org):
    answer(app, org["tenant_id"], make_contact(app, org["tenant_id"]), 3, "Too slow")
    run_jobs(app)
    _queue_plain(app, org["tenant_id"], 1, subject="Join Acme Billing on Turnaround")
    login(client, app, org["admin"])
    page = client.get(f"/t/{org['slug']}/emails/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count("Detractor alert") == 2 and "Detractor introduction" in html and "Team invitation" in html
    assert html.index("Join Acme Billing on Turnaround") < html.index("Your feedback to Acme Billing: can we talk?")
    rows = re.findall(r"<tr>\s*<td\b.*?</tr>", html, re.S)
    assert len(rows) == 4
    assert ">Queued</span>" in rows[0] and all(">Sent</span>" in row for row in rows[1:])
    assert all(re.search(r'<td data-label="Attempts">[01]</td>\s*</tr>', row) for row in rows)
    assert "casey.client@client.example" in html and "mia@acme.example" in html


def test_email_log_filters_by_state_as_page_and_htmx_fragment(app, client, org):
    ids = _queue_plain(app, org["tenant_id"], 3)
    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.execute(update(OutboxMessage).where(OutboxMessage.id == ids[1])
                           .values(status="failed", attempts=1, last_error="550 no such user"))
        db.session.commit()
        db.session.remove()
    login(client, app, org["admin"])
    page = client.get(f"/t/{org['slug']}/emails/?state=failed").get_data(as_text=True)
    assert "<html" in page and "Note 1" in page and "Note 0" not in page and "Note 2" not in page
    assert selected(page, "state") == "Failed" and "550 no such user" in page
    fragment = client.get(f"/t/{org['slug']}/emails/?state=queued", headers=HTMX)
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in html
    assert "Note 0" in html and "Note 2" in html and "Note 1" not in html
    everything = client.get(f"/t/{org['slug']}/emails/?state=bogus").get_data(as_text=True)
    assert all(f"Note {n}" in everything for n in range(3))


def test_email_log_pages_by_the_next_link(app, client, org):
    _queue_plain(app, org["tenant_id"], 27)
    login(client, app, org["admin"])
    first = client.get(f"/t/{org['slug']}/emails/").get_data(as_text=True)
    assert "Note 26" in first and ">Note 1<" not in first and "First page" not in first
    next_url = html_unescape(re.search(r'<a href="([^"]+)"[^>]*>Next →</a>', first).group(1))
    second = client.get(next_url, headers=HTMX).get_data(as_text=True)
    assert ">Note 1<" in second and ">Note 0<" in second and "Note 26" not in second
    assert "Next →" not in second and "← First page" in second


def test_email_log_reads_a_malformed_cursor_as_the_first_page(app, client, org):
    _queue_plain(app, org["tenant_id"], 2)
    login(client, app, org["admin"])
    page = client.get(f"/t/{org['slug']}/emails/?after=not-a-cursor")
    assert page.status_code == 200 and ">Note 1<" in page.get_data(as_text=True)


def test_email_log_is_for_admins_only(app, client, org):
    message_id = _queue_plain(app, org["tenant_id"], 1)[0]
    for role in ("manager", "agent", "viewer"):
        member = app.test_client()
        login(member, app, org[role])
        for url in ("", message_id, f"{message_id}/html"):
            assert member.get(f"/t/{org['slug']}/emails/{url}").status_code == 403, (role, url)
    anonymous = app.test_client().get(f"/t/{org['slug']}/emails/")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_message_page_shows_headers_text_body_and_framed_html(app, client, org):
    answer(app, org["tenant_id"], make_contact(app, org["tenant_id"]), 2, "Wrong invoices")
    run_jobs(app)
    message_id = _message_id(app, org["tenant_id"], "detractor_intro")
    login(client, app, org["admin"])
    page = client.get(f"/t/{org['slug']}/emails/{message_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Alex Agent &lt;outreach@turnaround.localhost&gt;" in html  # From: the agent's name
    assert re.search(r"Reply-To</th><td>alex@acme\.example<", html)
    assert "Casey Client &lt;casey.client@client.example&gt;" in html
    assert "Your feedback to Acme Billing: can we talk?" in html and ">Sent</span>" in html
    assert re.search(r"<pre>Hi Casey,.*?Alex Agent", html, re.S)
    assert f'<iframe class="email-frame" src="/t/{org["slug"]}/emails/{message_id}/html"' in html
    assert "frame-src 'self'" in page.headers["Content-Security-Policy"]


def test_html_body_route_is_sandboxed_and_links_open_the_whole_window(app, client, org):
    message_id = _send_survey(app, org["tenant_id"], make_contact(app, org["tenant_id"]))
    login(client, app, org["admin"])
    result = client.get(f"/t/{org['slug']}/emails/{message_id}/html")
    assert result.status_code == 200 and result.mimetype == "text/html"
    assert result.headers["Content-Security-Policy"] == SANDBOX_CSP
    assert result.headers["X-Frame-Options"] == "SAMEORIGIN"
    html = result.get_data(as_text=True)
    assert re.search(r'<head>\s*<base target="_top">', html)
    assert html.count("<base") == 1
    assert re.search(r'href="http://localhost/s/[\w-]+\?score=0"', html)
    assert re.search(r'href="http://localhost/s/[\w-]+\?score=10"', html)


def test_clicking_a_score_in_the_logged_survey_email_opens_the_survey_page(app, client, org):
    message_id = _send_survey(app, org["tenant_id"], make_contact(app, org["tenant_id"]))
    login(client, app, org["admin"])
    html = client.get(f"/t/{org['slug']}/emails/{message_id}/html").get_data(as_text=True)
    link = re.search(r'href="http://localhost(/s/[\w-]+\?score=4)"', html).group(1)
    survey_page = app.test_client().get(link)
    assert survey_page.status_code == 200
    assert re.search(r'id="score-4" value="4" checked', survey_page.get_data(as_text=True))


def test_other_organisations_messages_are_404(app, client, org, other_org):
    message_id = _queue_plain(app, org["tenant_id"], 1, subject="Acme secret")[0]
    login(client, app, other_org["admin"])
    for url in (message_id, f"{message_id}/html"):
        assert client.get(f"/t/{other_org['slug']}/emails/{url}").status_code == 404
        assert client.get(f"/t/{org['slug']}/emails/{url}").status_code == 404
    listing = client.get(f"/t/{other_org['slug']}/emails/").get_data(as_text=True)
    assert "Acme secret" not in listing


def test_in_production_links_in_the_preview_are_inert(app, client, org):
    message_id = _send_survey(app, org["tenant_id"], make_contact(app, org["tenant_id"]))
    login(client, app, org["admin"])
    app.config["APP_ENV"] = "production"
    try:
        result = client.get(f"/t/{org['slug']}/emails/{message_id}/html")
    finally:
        app.config["APP_ENV"] = "test"
    policy = result.headers["Content-Security-Policy"]
    assert policy.startswith("sandbox;") and "allow-top-navigation" not in policy and "allow-popups" not in policy
