"""The hosted survey page: a GET records nothing, the page records the score on load, the form amends
the one response, expired and invalid links are friendly, bad scores are refused."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select, update

from app.extensions import db
from app.mail import OutboxMessage
from app.surveys.models import DEFAULT_FOLLOWUPS, Response, SurveyInvitation
from app.tenancy import tenant_context
from app.tickets.models import Ticket
from app.timeutil import utcnow
from tests.support.data import make_contact, make_invitation
from tests.support.html import label

HTMX = {"HX-Request": "true"}


def _setup(app, org, name="Casey Client"):
    contact_id = make_contact(app, org["tenant_id"], name)
    return make_invitation(app, org["tenant_id"], contact_id)


def _responses(app, tenant_id) -> list[Response]:
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(select(Response)).scalars().all()
        db.session.expunge_all()
        db.session.remove()
    return rows


def _count(app, tenant_id, model) -> int:
    with app.app_context(), tenant_context(tenant_id):
        n = db.session.execute(select(func.count()).select_from(model)).scalar_one()
        db.session.remove()
    return n


def _expire(app, tenant_id, *, response=False, invitation=False):
    past = utcnow() - timedelta(minutes=1)
    with app.app_context(), tenant_context(tenant_id):
        if response:
            db.session.execute(update(Response).values(amendable_until=past))
        if invitation:
            db.session.execute(update(SurveyInvitation).values(expires_at=past))
        db.session.commit()
        db.session.remove()


def test_get_of_the_link_records_nothing(app, client, org):
    token = _setup(app, org)
    for url in (f"/s/{token}", f"/s/{token}?score=2", f"/s/{token}?score=10"):
        page = client.get(url)
        assert page.status_code == 200
        assert "Send feedback" in page.get_data(as_text=True)
    assert _count(app, org["tenant_id"], Response) == 0
    assert _count(app, org["tenant_id"], Ticket) == 0
    assert _count(app, org["tenant_id"], OutboxMessage) == 0


def test_page_shows_question_picker_with_score_selected_and_records_on_load(app, client, org):
    token = _setup(app, org)
    html = client.get(f"/s/{token}?score=3").get_data(as_text=True)
    assert "How likely is it that you would recommend Acme Billing to a friend or colleague?" in html
    for score in range(11):
        assert label(html, f"score-{score}")
        assert f'id="score-{score}" value="{score}"' in html
    assert re.search(r'id="score-3" value="3" checked', html)
    assert len(re.findall(r"\schecked", html)) == 1
    assert DEFAULT_FOLLOWUPS["detractor"] in html
    assert label(html, "comment") and '<textarea id="comment" name="comment"' in html
    # The element that records the score as soon as a browser shows the page.
    assert re.search(rf'hx-post="/s/{re.escape(token)}/score" hx-vals=\'\{{"score": "3"\}}\' hx-trigger="load"', html)
    # Changing the score re-posts it and swaps in the follow-up question.
    assert re.search(rf'hx-post="/s/{re.escape(token)}/score" hx-trigger="change" hx-target="#followup"', html)
    # CSRF header for htmx, and nothing the CSP would block.
    assert 'hx-headers=\'{"X-CSRFToken": ' in html
    assert "style=" not in html and "hx-on" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)


def test_page_without_score_selects_nothing_and_does_not_autosave(app, client, org):
    token = _setup(app, org)
    html = client.get(f"/s/{token}").get_data(as_text=True)
    assert " checked" not in html
    assert 'hx-trigger="load"' not in html
    html = client.get(f"/s/{token}?score=abc").get_data(as_text=True)
    assert " checked" not in html and 'hx-trigger="load"' not in html


def test_load_post_records_the_score(app, client, org):
    token = _setup(app, org)
    result = client.post(f"/s/{token}/score", data={"score": "8"}, headers=HTMX)
    assert result.status_code == 200
    body = result.get_data(as_text=True)
    assert DEFAULT_FOLLOWUPS["passive"] in body and "Your score of 8 is saved" in body
    [response] = _responses(app, org["tenant_id"])
    assert (response.score, response.band, response.comment) == (8, "passive", None)


def test_score_of_6_opens_a_ticket(app, client, org):
    token = _setup(app, org)
    assert client.post(f"/s/{token}/score", data={"score": "6"}, headers=HTMX).status_code == 200
    assert _count(app, org["tenant_id"], Ticket) == 1


def test_score_of_7_does_not_open_a_ticket(app, client, org):
    token = _setup(app, org)
    assert client.post(f"/s/{token}/score", data={"score": "7"}, headers=HTMX).status_code == 200
    assert _count(app, org["tenant_id"], Response) == 1
    assert _count(app, org["tenant_id"], Ticket) == 0


def test_second_submit_amends_the_single_response(app, client, org):
    token = _setup(app, org)
    client.post(f"/s/{token}/score", data={"score": "3"}, headers=HTMX)
    first = client.post(f"/s/{token}", data={"score": "3", "comment": "Slow support"})
    assert first.status_code == 303 and first.headers["Location"].endswith(f"/s/{token}/thanks")
    second = client.post(f"/s/{token}", data={"score": "5", "comment": "  Slow support, billing errors  "})
    assert second.status_code == 303
    [response] = _responses(app, org["tenant_id"])
    assert (response.score, response.comment) == (5, "Slow support, billing errors")
    assert _count(app, org["tenant_id"], Ticket) == 1


def test_plain_form_post_leads_to_thank_you_page(app, client, org):
    token = _setup(app, org)
    page = client.post(f"/s/{token}", data={"score": "9", "comment": "Great team"}, follow_redirects=True)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Thank you for your feedback" in html and "Great team" in html
    assert f'href="/s/{token}"' in html  # change your answer


def test_htmx_submit_returns_the_thank_you_fragment(app, client, org):
    token = _setup(app, org)
    result = client.post(f"/s/{token}", data={"score": "10", "comment": "Love it"}, headers=HTMX)
    assert result.status_code == 200
    html = result.get_data(as_text=True)
    assert "Thank you for your feedback" in html and "<html" not in html
    [response] = _responses(app, org["tenant_id"])
    assert (response.score, response.band, response.comment) == (10, "promoter", "Love it")


def test_visiting_again_shows_the_recorded_score_and_comment(app, client, org):
    token = _setup(app, org)
    client.post(f"/s/{token}", data={"score": "4", "comment": "Invoices were wrong"})
    html = client.get(f"/s/{token}").get_data(as_text=True)
    assert re.search(r'id="score-4" value="4" checked', html)
    assert "Invoices were wrong</textarea>" in html
    assert "You answered 4" in html
    assert 'hx-trigger="load"' not in html  # nothing to record again


def test_changing_band_shows_the_other_followup_question(app, client, org):
    token = _setup(app, org)
    detractor = client.post(f"/s/{token}/score", data={"score": "2"}, headers=HTMX).get_data(as_text=True)
    assert DEFAULT_FOLLOWUPS["detractor"] in detractor and DEFAULT_FOLLOWUPS["promoter"] not in detractor
    promoter = client.post(f"/s/{token}/score", data={"score": "10"}, headers=HTMX).get_data(as_text=True)
    assert DEFAULT_FOLLOWUPS["promoter"] in promoter and DEFAULT_FOLLOWUPS["detractor"] not in promoter
    [response] = _responses(app, org["tenant_id"])
    assert (response.score, response.band) == (10, "promoter")


def test_after_the_amend_window_the_link_has_expired_and_post_changes_nothing(app, client, org):
    token = _setup(app, org)
    client.post(f"/s/{token}", data={"score": "3", "comment": "first"})
    _expire(app, org["tenant_id"], response=True)
    page = client.get(f"/s/{token}?score=9")
    assert page.status_code == 410
    assert "This survey link has expired" in page.get_data(as_text=True)
    assert client.post(f"/s/{token}", data={"score": "9", "comment": "changed"}).status_code == 410
    fragment = client.post(f"/s/{token}/score", data={"score": "9"}, headers=HTMX)
    assert fragment.status_code == 410 and fragment.headers["HX-Retarget"] == "#survey"
    [response] = _responses(app, org["tenant_id"])
    assert (response.score, response.comment) == (3, "first")


def test_unanswered_invitation_past_its_lifetime_has_expired(app, client, org):
    token = _setup(app, org)
    _expire(app, org["tenant_id"], invitation=True)
    page = client.get(f"/s/{token}?score=5")
    assert page.status_code == 410 and "This survey link has expired" in page.get_data(as_text=True)
    assert client.post(f"/s/{token}/score", data={"score": "5"}, headers=HTMX).status_code == 410
    assert _count(app, org["tenant_id"], Response) == 0


def test_unknown_or_tampered_token_shows_a_friendly_404(app, client, org):
    token = _setup(app, org)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in ("nonsense", tampered, "x" * 150):
        page = client.get(f"/s/{bad}?score=5")
        assert page.status_code == 404
        html = page.get_data(as_text=True)
        assert "This survey link is not valid" in html and "Traceback" not in html
        assert client.post(f"/s/{bad}", data={"score": "5"}).status_code == 404
        assert client.post(f"/s/{bad}/score", data={"score": "5"}, headers=HTMX).status_code == 404
    assert _count(app, org["tenant_id"], Response) == 0


def test_score_out_of_range_or_not_a_number_is_refused_with_422(app, client, org):
    token = _setup(app, org)
    for bad in ("11", "-1", "abc", "", "6.5"):
        result = client.post(f"/s/{token}", data={"score": bad, "comment": "hello"})
        assert result.status_code == 422, bad
        html = result.get_data(as_text=True)
        assert "Choose a score from 0 to 10." in html
        assert "hello</textarea>" in html  # the comment is kept
        fragment = client.post(f"/s/{token}/score", data={"score": bad}, headers=HTMX)
        assert fragment.status_code == 422 and "Choose a score from 0 to 10." in fragment.get_data(as_text=True)
    assert client.post(f"/s/{token}", data={"comment": "no score"}).status_code == 422
    assert _count(app, org["tenant_id"], Response) == 0


def test_public_page_works_with_csrf_enabled(app, org):
    token = _setup(app, org)
    client = app.test_client()
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        html = client.get(f"/s/{token}?score=8").get_data(as_text=True)
        csrf = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', html).group(1)
        assert f'name="csrf_token" value="{csrf}"' in html
        assert client.post(f"/s/{token}/score", data={"score": "8"}, headers=HTMX).status_code == 400
        assert _count(app, org["tenant_id"], Response) == 0
        loaded = client.post(f"/s/{token}/score", data={"score": "8"}, headers={**HTMX, "X-CSRFToken": csrf})
        assert loaded.status_code == 200
        submitted = client.post(f"/s/{token}", data={"score": "8", "comment": "ok", "csrf_token": csrf})
        assert submitted.status_code == 303
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    [response] = _responses(app, org["tenant_id"])
    assert (response.score, response.comment) == (8, "ok")


def test_survey_page_is_not_cached_and_not_indexed(app, client, org):
    token = _setup(app, org)
    page = client.get(f"/s/{token}?score=5")
    assert page.headers["Cache-Control"] == "no-store"
    assert "noindex" in page.headers["X-Robots-Tag"]
