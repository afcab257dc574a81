"""Scoring settings: the score bands and the ticket trigger, who may see and change them, the rules,
the audit trail, and how they drive the hosted survey page and ticket opening."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.settings.models import AuditEntry
from app.surveys.models import Response, Survey
from app.tenancy import tenant_context
from app.tickets.models import Ticket
from tests.support.data import audit_entries, login, make_contact, make_invitation
from tests.support.html import field_error, label

HTMX = {"HX-Request": "true"}
DEFAULTS = {"detractor_max": "6", "passive_max": "8", "ticket_trigger_max": "6"}


def _url(org, path: str = "") -> str:
    return f"/t/{org['slug']}/settings/scoring{path}"


def _survey(app, tenant_id: int) -> tuple[int, int, int]:
    with app.app_context(), tenant_context(tenant_id):
        survey = db.session.execute(select(Survey)).scalar_one()
        values = survey.detractor_max, survey.passive_max, survey.ticket_trigger_max
        db.session.remove()
    return values


def _audit(app, tenant_id: int) -> list[AuditEntry]:
    return audit_entries(app, tenant_id)


def _count(app, tenant_id: int, model) -> int:
    with app.app_context(), tenant_context(tenant_id):
        n = db.session.execute(select(func.count()).select_from(model)).scalar_one()
        db.session.remove()
    return n


def _set_scoring(app, client, org, **values) -> None:
    login(client, app, org["admin"])
    response = client.post(_url(org), data={**DEFAULTS, **{k: str(v) for k, v in values.items()}})
    assert response.status_code == 303, response.get_data(as_text=True)


def _answer_on_hosted_page(app, client, org, score: int) -> None:
    token = make_invitation(app, org["tenant_id"], make_contact(app, org["tenant_id"], f"Resp {score}"))
    assert client.post(f"/s/{token}/score", data={"score": str(score)}, headers=HTMX).status_code == 200


def _last_response(app, tenant_id: int) -> Response:
    with app.app_context(), tenant_context(tenant_id):
        row = db.session.execute(select(Response).order_by(Response.id.desc()).limit(1)).scalar_one()
        db.session.expunge_all()
        db.session.remove()
    return row


def test_admin_sees_the_scoring_form_with_the_current_bands_and_summary(app, client, org):
    login(client, app, org["admin"])
    page = client.get(_url(org))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for name, value in DEFAULTS.items():
        assert label(html, name)
        assert re.search(rf'id="{name}"[^>]*value="{value}"|value="{value}"[^>]*id="{name}"', html)
    assert "0–6 Detractor · 7–8 Passive · 9–10 Promoter; a ticket opens for scores 0–6" in html
    assert "Save scoring" in html
    assert f'hx-post="{_url(org, "/check")}" hx-trigger="change"' in html
    assert "style=" not in html and "hx-on" not in html


def test_manager_can_view_scoring_but_gets_403_on_save_and_check(app, client, org):
    login(client, app, org["manager"])
    page = client.get(_url(org))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Save scoring" not in html and "Only admins can change these settings." in html
    assert client.post(_url(org), data={**DEFAULTS, "detractor_max": "4"}).status_code == 403
    assert client.post(_url(org, "/check"), data=DEFAULTS).status_code == 403
    assert _survey(app, org["tenant_id"]) == (6, 8, 6)


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_agents_and_viewers_get_403_on_the_scoring_page_and_its_save(app, client, org, role):
    login(client, app, org[role])
    assert client.get(_url(org)).status_code == 403
    assert client.post(_url(org), data={**DEFAULTS, "detractor_max": "4"}).status_code == 403
    assert _survey(app, org["tenant_id"]) == (6, 8, 6)


def test_another_organisations_admin_gets_404_on_our_scoring(app, client, org, other_org):
    login(client, app, other_org["admin"])
    assert client.get(_url(org)).status_code == 404
    assert client.post(_url(org), data={**DEFAULTS, "detractor_max": "4"}).status_code == 404
    assert _survey(app, org["tenant_id"]) == (6, 8, 6)


def test_saving_scoring_changes_the_bands_and_writes_one_audit_entry(app, client, org):
    login(client, app, org["admin"])
    saved = client.post(_url(org), data={"detractor_max": "5", "passive_max": "7", "ticket_trigger_max": "4"})
    assert saved.status_code == 303 and saved.headers["Location"].endswith(_url(org, ""))
    assert _survey(app, org["tenant_id"]) == (5, 7, 4)
    [entry] = _audit(app, org["tenant_id"])
    assert entry.area == "scoring" and entry.actor_id == org["admin"]
    assert entry.changes == {"detractor_max": [6, 5], "passive_max": [8, 7], "ticket_trigger_max": [6, 4]}
    assert "0–5 Detractor · 6–7 Passive · 8–10 Promoter" in entry.summary
    page = client.get(_url(org)).get_data(as_text=True)
    assert "Scoring saved: 0–5 Detractor · 6–7 Passive · 8–10 Promoter; a ticket opens for scores 0–4." in page


def test_htmx_save_returns_the_form_fragment_with_the_new_summary(app, client, org):
    login(client, app, org["admin"])
    result = client.post(_url(org), data={**DEFAULTS, "detractor_max": "5"}, headers=HTMX)
    assert result.status_code == 200
    html = result.get_data(as_text=True)
    assert "<html" not in html and "<form" in html
    assert "0–5 Detractor · 6–8 Passive · 9–10 Promoter; a ticket opens for scores 0–6" in html
    assert 'id="flashes" hx-swap-oob="true"' in html and "Scoring saved" in html
    assert _survey(app, org["tenant_id"]) == (5, 8, 6)


def test_saving_unchanged_scoring_writes_no_audit_entry(app, client, org):
    login(client, app, org["admin"])
    page = client.post(_url(org), data=DEFAULTS, follow_redirects=True).get_data(as_text=True)
    assert "the scoring is unchanged" in page
    assert _audit(app, org["tenant_id"]) == []


@pytest.mark.parametrize("values, field, message", [
    ({"detractor_max": "-1"}, "detractor_max", "Detractor max cannot be below 0."),
    ({"detractor_max": "8"}, "detractor_max", "Detractor max must be below the passive max (8)."),
    ({"detractor_max": "7", "passive_max": "7"}, "detractor_max", "Detractor max must be below the passive max (7)."),
    ({"passive_max": "10"}, "passive_max", "Passive max must be 9 or lower, so that a 10 is always a promoter."),
    ({"ticket_trigger_max": "11"}, "ticket_trigger_max", "The ticket trigger must be a score from 0 to 10."),
    ({"ticket_trigger_max": "-1"}, "ticket_trigger_max", "The ticket trigger must be a score from 0 to 10."),
    ({"passive_max": "eight"}, "passive_max", "The passive max must be a whole number."),
    ({"detractor_max": ""}, "detractor_max", "Enter the detractor max."),
])
def test_each_scoring_rule_is_refused_next_to_its_field_and_nothing_is_saved(app, client, org, values, field,
                                                                              message):
    login(client, app, org["admin"])
    for headers in ({}, HTMX):
        result = client.post(_url(org), data={**DEFAULTS, **values}, headers=headers)
        assert result.status_code == 422
        html = result.get_data(as_text=True)
        assert field_error(html, field) == message
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="{field}"', html)
        assert ("<html" in html) is (headers == {})
    assert _survey(app, org["tenant_id"]) == (6, 8, 6)
    assert _audit(app, org["tenant_id"]) == []


def test_check_shows_the_bands_the_form_would_give_and_saves_nothing(app, client, org):
    login(client, app, org["admin"])
    result = client.post(_url(org, "/check"), data={**DEFAULTS, "detractor_max": "4", "ticket_trigger_max": "3"},
                         headers=HTMX)
    assert result.status_code == 200
    html = result.get_data(as_text=True)
    assert "With these values:</strong> 0–4 Detractor · 5–8 Passive · 9–10 Promoter; a ticket opens for scores 0–3" in html
    assert "Not saved yet" in html
    assert _survey(app, org["tenant_id"]) == (6, 8, 6)
    assert _audit(app, org["tenant_id"]) == []


def test_check_marks_a_broken_rule_with_422_while_editing(app, client, org):
    login(client, app, org["admin"])
    result = client.post(_url(org, "/check"), data={**DEFAULTS, "passive_max": "5"}, headers=HTMX)
    assert result.status_code == 422
    html = result.get_data(as_text=True)
    assert field_error(html, "detractor_max") == "Detractor max must be below the passive max (5)."
    assert "Correct the value marked above" in html
    assert _survey(app, org["tenant_id"]) == (6, 8, 6)


def test_with_detractor_max_5_a_score_of_6_is_passive_and_opens_no_ticket(app, client, org):
    _set_scoring(app, client, org, detractor_max=5, ticket_trigger_max=5)
    _answer_on_hosted_page(app, client, org, 6)
    response = _last_response(app, org["tenant_id"])
    assert (response.score, response.band) == (6, "passive")
    assert _count(app, org["tenant_id"], Ticket) == 0
    _answer_on_hosted_page(app, client, org, 5)
    assert _last_response(app, org["tenant_id"]).band == "detractor"
    assert _count(app, org["tenant_id"], Ticket) == 1


def test_ticket_opening_follows_the_trigger_not_the_detractor_band(app, client, org):
    _set_scoring(app, client, org, detractor_max=5, ticket_trigger_max=6)
    _answer_on_hosted_page(app, client, org, 6)
    assert _last_response(app, org["tenant_id"]).band == "passive"
    assert _count(app, org["tenant_id"], Ticket) == 1


def test_a_trigger_of_4_means_a_5_opens_no_ticket_but_a_4_does(app, client, org):
    _set_scoring(app, client, org, ticket_trigger_max=4)
    _answer_on_hosted_page(app, client, org, 5)
    assert _last_response(app, org["tenant_id"]).band == "detractor"
    assert _count(app, org["tenant_id"], Ticket) == 0
    _answer_on_hosted_page(app, client, org, 4)
    assert _count(app, org["tenant_id"], Ticket) == 1


def test_the_hosted_page_uses_the_new_bounds_for_the_follow_up_question(app, client, org):
    from app.surveys.models import DEFAULT_FOLLOWUPS

    _set_scoring(app, client, org, detractor_max=3, passive_max=5)
    token = make_invitation(app, org["tenant_id"], make_contact(app, org["tenant_id"]))
    html = client.get(f"/s/{token}?score=6").get_data(as_text=True)
    assert DEFAULT_FOLLOWUPS["promoter"] in html and DEFAULT_FOLLOWUPS["detractor"] not in html


def test_organisation_b_is_untouched_by_a_scoring_change(app, client, org, other_org):
    _set_scoring(app, client, org, detractor_max=3, passive_max=5, ticket_trigger_max=2)
    assert _survey(app, org["tenant_id"]) == (3, 5, 2)
    assert _survey(app, other_org["tenant_id"]) == (6, 8, 6)
    assert _audit(app, other_org["tenant_id"]) == []
