"""Integrations through the API: connected with the settings page's service and checks, the signing secret
shown once, never a credential, removed as the settings page removes them, each change audited under the token."""
from __future__ import annotations

import json
import time


from app.extensions import db
from app.integrations.models import Integration
from app.integrations.sources.generic import sign
from app.tenancy import tenant_context
from tests.support.data import audit_entries


def test_a_typeform_integration_is_connected_with_its_field_refs_and_its_secret_shown_once(app, api, org, as_member):
    made = api.post("/integrations", json={"kind": "typeform", "name": "Clinic NPS form",
                                           "settings": {"score_ref": "nps", "comment_ref": "why"}})
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["kind"] == "typeform" and body["name"] == "Clinic NPS form" and body["enabled"] is True
    assert body["settings"] == {"score_ref": "nps", "comment_ref": "why"}
    assert body["signing_secret"].startswith("whsec_")
    assert body["receiving_url"].startswith("http://localhost/hooks/")

    listed = api.get("/integrations").get_json()["data"]
    assert [item["id"] for item in listed] == [body["id"]]
    assert "signing_secret" not in listed[0] and body["signing_secret"] not in json.dumps(listed)
    assert api.get(f"/integrations/{body['id']}").get_json()["receiving_url"] == body["receiving_url"]

    # The settings page shows the same integration, with the refs given through the API.
    page = as_member("admin").get(f"/t/{org['slug']}/settings/integrations/{body['id']}").get_data(as_text=True)
    assert "Clinic NPS form" in page and body["receiving_url"] in page and 'value="nps"' in page

    summaries = [(entry.area, entry.summary, entry.api_token_id is not None, entry.actor_id)
                 for entry in audit_entries(app, org["tenant_id"])]
    assert ("integrations", "Integration connected: Typeform “Clinic NPS form”", True, org["admin"]) in summaries
    assert ("api", f"Integration {body['id']} connected", True, org["admin"]) in summaries


def test_credentials_are_stored_encrypted_and_never_returned(app, api, org):
    made = api.post("/integrations", json={"kind": "delighted", "credentials": {"api_key": "dlt-private-key-1"}})
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["name"] == "Delighted" and body["credentials_stored"] == ["api_key"]
    assert body["signing_secret"] is None, "Delighted signs with its own key"
    for answer in (made, api.get("/integrations"), api.get(f"/integrations/{body['id']}")):
        assert "dlt-private-key-1" not in answer.get_data(as_text=True)
    with app.app_context(), tenant_context(org["tenant_id"]):
        stored = db.session.get(Integration, body["id"])
        assert "dlt-private-key-1" not in (stored.credentials or "")
        db.session.remove()

    hubspot = api.post("/integrations", json={"kind": "hubspot", "credentials": {"access_token": "pat-na1-x"}})
    assert hubspot.status_code == 201
    assert hubspot.get_json()["receiving_url"] is None
    assert hubspot.get_json()["settings"] == {"api_base_url": "https://api.hubapi.com"}, "defaults filled in"


def test_the_qualtrics_key_is_only_in_the_answer_that_connects_it(app, api):
    made = api.post("/integrations", json={"kind": "qualtrics", "credentials": {"api_token": "qt-token"},
                                           "settings": {"api_base_url": "https://fra1.qualtrics.com"}}).get_json()
    assert made["signing_secret"].startswith("whsec_") and "?key=whsec_" in made["receiving_url"]
    shown = api.get(f"/integrations/{made['id']}").get_json()
    assert "?key=" not in shown["receiving_url"] and made["receiving_url"].startswith(shown["receiving_url"])
    assert made["signing_secret"] not in json.dumps(api.get("/integrations").get_json())


def test_what_the_settings_page_refuses_is_a_422_naming_the_field(app, api):
    cases = [
        ({"kind": "fax"}, "kind"),
        ({"kind": "hubspot", "settings": {"api_base_url": "http://169.254.169.254"}}, "settings.api_base_url"),
        ({"kind": "surveymonkey", "settings": {"api_base_url": "https://10.0.0.5"}}, "settings.api_base_url"),
        ({"kind": "typeform", "settings": {"score_reff": "nps"}}, "settings.score_reff"),
        ({"kind": "generic", "credentials": {"api_key": "x"}}, "credentials.api_key"),
        ({"kind": "delighted", "credentials": {"api_key": "k" * 501}}, "credentials.api_key"),
        ({"kind": "typeform", "settings": {"score_ref": "r" * 301}}, "settings.score_ref"),
        ({"kind": "generic", "name": "n" * 121}, "name"),
        ({"kind": "generic", "name": "   "}, "name"),
        ({"kind": "generic", "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        refused = api.post("/integrations", json=body)
        assert refused.status_code == 422, (body, refused.get_json())
        assert refused.get_json()["error"]["field"] == field, (body, refused.get_json())
    message = api.post("/integrations", json=cases[1][0]).get_json()["error"]["message"]
    assert message == "The API's base URL must start with https://."
    assert api.get("/integrations").get_json()["data"] == [], "nothing was connected"


def test_a_removed_integration_stops_receiving_and_keeps_nothing_but_its_responses(app, api, org, client):
    made = api.post("/integrations", json={"kind": "generic", "name": "Portal"}).get_json()
    path = made["receiving_url"].removeprefix("http://localhost")
    body = json.dumps({"external_id": "a-1", "score": 9, "email": "pat@example.com"}).encode()
    stamp = str(int(time.time()))
    headers = {"webhook-id": "msg-1", "webhook-timestamp": stamp,
               "webhook-signature": sign(made["signing_secret"], "msg-1", stamp, body),
               "Content-Type": "application/json"}
    assert client.post(path, data=body, headers=headers).status_code == 200

    removed = api.delete(f"/integrations/{made['id']}")
    assert removed.status_code == 204
    assert api.get(f"/integrations/{made['id']}").status_code == 404
    assert api.delete(f"/integrations/{made['id']}").status_code == 404
    assert client.post(path, data=body, headers=headers).status_code == 404, "the receiving URL stops at once"
    summaries = [entry.summary for entry in audit_entries(app, org["tenant_id"]) if entry.api_token_id]
    assert "Integration removed: Generic webhook “Portal”" in summaries


def test_a_read_only_token_lists_but_cannot_connect_or_remove(app, api, read_api):
    made = api.post("/integrations", json={"kind": "generic"}).get_json()
    assert [item["id"] for item in read_api.get("/integrations").get_json()["data"]] == [made["id"]]
    refused = read_api.post("/integrations", json={"kind": "generic"})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "read_only_token"
    assert read_api.delete(f"/integrations/{made['id']}").status_code == 403
    assert api.get(f"/integrations/{made['id']}").status_code == 200


def test_another_organisations_integration_is_a_404_and_never_listed(app, api, other_api):
    theirs = other_api.post("/integrations", json={"kind": "generic", "name": "Bayside portal"}).get_json()
    assert api.get(f"/integrations/{theirs['id']}").status_code == 404
    assert api.delete(f"/integrations/{theirs['id']}").get_json()["error"]["code"] == "not_found"
    assert api.get("/integrations").get_json()["data"] == []
    assert other_api.get(f"/integrations/{theirs['id']}").status_code == 200


def test_a_repeated_connect_gets_its_secret_again_but_the_kept_answer_is_stored_encrypted(app, api, org):
    from sqlalchemy import select

    from app.api.models import IdempotentRequest

    key = {"Idempotency-Key": "connect-generic-1"}
    first = api.post("/integrations", json={"kind": "generic", "name": "Portal"}, headers=key)
    again = api.post("/integrations", json={"kind": "generic", "name": "Portal"}, headers=key)
    assert first.status_code == 201 and again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    secret = first.get_json()["signing_secret"]
    assert again.get_json()["signing_secret"] == secret
    assert len(api.get("/integrations").get_json()["data"]) == 1
    with app.app_context(), tenant_context(org["tenant_id"]):
        kept = db.session.execute(select(IdempotentRequest)).scalar_one()
        assert secret not in kept.body and "Portal" not in kept.body
        db.session.remove()
