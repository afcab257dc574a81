"""Settings → Integrations as admins use it: connect a source, see its URL and secret, change its settings,
read its delivery log and payloads; nobody else gets in."""
from __future__ import annotations

import json
import time

from sqlalchemy import select

from app.extensions import db
from app.integrations.models import Integration
from app.integrations.sources.generic import sign
from app.tenancy import tenant_context
from tests.support.data import login
from tests.support.html import buttons, field_error, label, text


def base(org):
    return f"/t/{org['slug']}/settings/integrations"


def test_an_admin_connects_a_generic_source_and_sees_its_url_and_secret(app, client, org, as_member):
    as_member("admin")
    page = client.get(base(org) + "/")
    assert page.status_code == 200
    assert "No source is connected yet." in text(page.get_data(as_text=True))
    assert label(page.get_data(as_text=True), "kind") == "Source"
    refused = client.post(base(org) + "/", data={"kind": "", "name": "Patient portal"})
    assert field_error(refused.get_data(as_text=True), "kind") == "Choose the survey tool to connect."
    made = client.post(base(org) + "/", data={"kind": "generic", "name": "Patient portal"})
    assert made.status_code == 303
    shown = client.get(made.headers["Location"]).get_data(as_text=True)
    with app.app_context(), tenant_context(org["tenant_id"]):
        integration = db.session.execute(select(Integration)).scalar_one()
        token = integration.token
    seen = text(shown)
    assert ("Generic webhook connected. Give its receiving URL and signing secret to the system that will send "
            "the answers.") in seen
    assert f"http://localhost/hooks/{token}" in seen
    assert "whsec_" in seen and "webhook-signature" in seen
    assert "Make a new signing secret" in buttons(shown)
    assert len(token) >= 43  # 256 random bits, nothing derived from the organisation


def test_a_secret_is_never_stored_in_clear_and_credentials_are_not_shown_again(app, client, org, as_member):
    as_member("admin")
    client.post(base(org) + "/", data={"kind": "delighted", "name": "Delighted"})
    with app.app_context(), tenant_context(org["tenant_id"]):
        integration_id = db.session.execute(select(Integration.id)).scalar_one()
    saved = client.post(f"{base(org)}/{integration_id}", data={"name": "Delighted NPS", "enabled": "y",
                                                               "cred_api_key": "dlt-secret-key-123"})
    assert saved.status_code == 303
    page = client.get(f"{base(org)}/{integration_id}").get_data(as_text=True)
    assert "dlt-secret-key-123" not in page
    assert "Stored (encrypted). Leave blank to keep it." in text(page)
    with app.app_context(), tenant_context(org["tenant_id"]):
        integration = db.session.get(Integration, integration_id)
        assert "dlt-secret-key-123" not in (integration.credentials or "")
        assert not integration.signing_secret.startswith("whsec_")
    # Saving again with the field blank keeps the key.
    client.post(f"{base(org)}/{integration_id}", data={"name": "Delighted NPS", "enabled": "y", "cred_api_key": ""})
    with app.app_context(), tenant_context(org["tenant_id"]):
        from app.integrations.services import keys_of

        assert keys_of(db.session.get(Integration, integration_id)).credentials["api_key"] == "dlt-secret-key-123"


def test_a_private_api_base_url_is_refused_next_to_its_field(app, client, org, as_member):
    as_member("admin")
    client.post(base(org) + "/", data={"kind": "hubspot", "name": "HubSpot"})
    with app.app_context(), tenant_context(org["tenant_id"]):
        integration_id = db.session.execute(select(Integration.id)).scalar_one()
    refused = client.post(f"{base(org)}/{integration_id}", data={"name": "HubSpot", "enabled": "y",
                                                                 "set_api_base_url": "http://169.254.169.254"})
    assert refused.status_code == 422
    assert field_error(refused.get_data(as_text=True), "set_api_base_url") == \
        "The API's base URL must start with https://."
    refused = client.post(f"{base(org)}/{integration_id}", data={"name": "HubSpot", "enabled": "y",
                                                                 "set_api_base_url": "https://10.0.0.5"})
    assert field_error(refused.get_data(as_text=True), "set_api_base_url") == \
        "The API's base URL must be a public address."


def test_the_delivery_log_shows_outcomes_and_payloads_to_admins(app, client, org, as_member, connect):
    integration_id, path, secret = connect("generic")
    raw = json.dumps({"external_id": "x1", "email": "lee@example.com", "score": 9}).encode()
    now = int(time.time())
    client.post(path, data=raw, headers={"webhook-id": "msg_log", "webhook-timestamp": str(now),
                                         "webhook-signature": sign(secret, "msg_log", now, raw)})
    client.post(path, data=raw, headers={"webhook-id": "msg_bad", "webhook-timestamp": str(now),
                                         "webhook-signature": "v1,bm9wZQ=="})
    as_member("admin")
    page = client.get(f"{base(org)}/{integration_id}").get_data(as_text=True)
    seen = text(page)
    assert "Bad signature" in seen and "Waiting to be processed" in seen and "msg_log" in seen
    with app.app_context(), tenant_context(org["tenant_id"]):
        from app.integrations.models import IntegrationDelivery

        first = db.session.execute(select(IntegrationDelivery.id).order_by(IntegrationDelivery.id)).scalars().first()
    payload = client.get(f"{base(org)}/{integration_id}/deliveries/{first}").get_data(as_text=True)
    assert "lee@example.com" in text(payload)


def test_only_admins_open_integrations(app, client, org, as_member, connect):
    integration_id, _, _ = connect("generic")
    for role in ("manager", "agent", "viewer"):
        as_member(role)
        assert client.get(base(org) + "/").status_code == 403
        assert client.get(f"{base(org)}/{integration_id}").status_code == 403
    as_member("manager")
    assert "Integrations" not in text(client.get(f"/t/{org['slug']}/settings/").get_data(as_text=True))


def test_another_organisations_integration_is_404(app, client, org, other_org, connect):
    integration_id, _, _ = connect("generic")
    login(client, app, other_org["admin"])
    other = f"/t/{other_org['slug']}/settings/integrations"
    assert client.get(f"{other}/{integration_id}").status_code == 404
    assert client.post(f"{other}/{integration_id}/secret").status_code == 404
    assert client.post(f"{other}/{integration_id}/delete").status_code == 404


def test_removing_an_integration_is_confirmed_and_stops_its_url(app, client, org, as_member, connect):
    integration_id, path, _ = connect("generic")
    as_member("admin")
    confirm = client.get(f"{base(org)}/{integration_id}/delete").get_data(as_text=True)
    assert "Remove integration" in buttons(confirm)
    assert client.post(f"{base(org)}/{integration_id}/delete").status_code == 303
    assert client.post(path, json={}).status_code == 404


def test_a_new_signing_secret_refuses_the_old_one(app, client, org, as_member, connect, recorded):
    integration_id, path, secret = connect("generic")
    as_member("admin")
    assert client.post(f"{base(org)}/{integration_id}/secret").status_code == 303
    raw, now = b'{"external_id": "z", "email": "a@b.example", "score": 5}', int(time.time())
    answer = client.post(path, data=raw, headers={"webhook-id": "m", "webhook-timestamp": str(now),
                                                  "webhook-signature": sign(secret, "m", now, raw)})
    assert answer.status_code == 401
