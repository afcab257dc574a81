"""API tokens: made by admins in Settings → API, shown once, stored hashed, revocable, with last-used time;
requests without a valid token are 401, and a read-only token is refused every change."""
from __future__ import annotations

import re

from app.api.models import ApiToken
from app.extensions import db
from app.security import hash_token
from app.tenancy import tenant_context
from tests.api.conftest import Api, make_token
from tests.support.data import add_member, audit_entries, login


def test_an_admin_creates_a_token_shown_once_and_stored_hashed(app, as_member, org):
    client = as_member("admin")
    page = client.get(f"/t/{org['slug']}/settings/api/")
    assert page.status_code == 200 and "Create a token" in page.get_data(as_text=True)
    created = client.post(f"/t/{org['slug']}/settings/api/", data={"name": "HubSpot sync", "scope": "read_write"})
    assert created.status_code == 303
    shown = client.get(created.headers["Location"])
    html = shown.get_data(as_text=True)
    assert "shown only once" in html and shown.headers["Cache-Control"] == "no-store"
    secret = re.search(r'value="(ta_[^"]+)"', html).group(1)
    assert secret not in client.get(created.headers["Location"]).get_data(as_text=True), "shown once"
    with app.app_context(), tenant_context(org["tenant_id"]):
        token = db.session.execute(db.select(ApiToken)).scalar_one()
        assert token.token_hash == hash_token(secret) and secret not in (token.prefix + token.name)
        assert (token.name, token.scope, token.created_by_id) == ("HubSpot sync", "read_write", org["admin"])
    again = client.get(f"/t/{org['slug']}/settings/api/").get_data(as_text=True)
    assert secret not in again and "HubSpot sync" in again and "Never" in again

    assert Api(app.test_client(), secret).get("/contacts").status_code == 200
    assert "Never" not in client.get(f"/t/{org['slug']}/settings/api/").get_data(as_text=True), "last used is shown"
    assert [entry.summary for entry in audit_entries(app, org["tenant_id"])] == ["API token “HubSpot sync” created"]


def test_a_token_needs_a_name_and_only_admins_manage_tokens(app, as_member, org):
    client = as_member("admin")
    refused = client.post(f"/t/{org['slug']}/settings/api/", data={"name": " ", "scope": "read"})
    assert refused.status_code == 422 and "Give the token a name." in refused.get_data(as_text=True)
    assert "/settings/api/" in client.get(f"/t/{org['slug']}/settings/").get_data(as_text=True)
    manager = app.test_client()
    login(manager, app, org["manager"])
    assert manager.get(f"/t/{org['slug']}/settings/api/").status_code == 403
    assert "/settings/api/" not in manager.get(f"/t/{org['slug']}/settings/").get_data(as_text=True)


def test_a_revoked_token_is_refused(app, as_member, org, client):
    secret = make_token(app, org["tenant_id"], org["admin"])
    api = Api(client, secret)
    assert api.get("/contacts").status_code == 200
    admin = as_member("admin")
    with app.app_context(), tenant_context(org["tenant_id"]):
        token_id = db.session.execute(db.select(ApiToken.id)).scalar_one()
    confirm = admin.get(f"/t/{org['slug']}/settings/api/{token_id}/revoke").get_data(as_text=True)
    assert "Revoke the token “Sync”?" in confirm
    assert admin.post(f"/t/{org['slug']}/settings/api/{token_id}/revoke").status_code == 303
    refused = Api(app.test_client(), secret).get("/contacts")
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "unauthorized"


def test_missing_bad_and_foreign_scheme_tokens_are_401(client):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic dXNlcjpwYXNz"},
                    {"Authorization": "Bearer "}):
        response = client.get("/api/v1/contacts", headers=headers)
        assert response.status_code == 401, headers
        assert response.get_json() == {"error": {"code": "unauthorized", "field": None,
                                                 "message": "Send a valid API token as 'Authorization: Bearer <token>'."}}


def test_a_token_stops_working_when_its_admin_leaves_or_is_no_longer_an_admin(app, org, client):
    from app.accounts.models import Membership

    admin_two = add_member(app, org["tenant_id"], "admin", "Second Admin", "second@acme.example")
    api = Api(client, make_token(app, org["tenant_id"], admin_two))
    assert api.get("/contacts").status_code == 200
    for change in ({"role": "manager"}, {"role": "admin", "is_active": False}):
        with app.app_context(), tenant_context(org["tenant_id"]):
            db.session.execute(db.update(Membership).where(Membership.user_id == admin_two).values(**change))
            db.session.commit()
        assert api.get("/contacts").status_code == 401, change


def test_a_read_only_token_reads_but_every_change_is_403(read_api):
    assert read_api.get("/contacts").status_code == 200
    for method, path in (("post", "/contacts"), ("patch", "/contacts/1"), ("delete", "/contacts/1"),
                         ("put", "/contacts/by-email/a@b.example"), ("post", "/accounts"), ("patch", "/tickets/1"),
                         ("post", "/survey-sends"), ("post", "/webhook-endpoints"), ("delete", "/webhook-endpoints/1"),
                         ("post", "/tickets/1/activities")):
        response = getattr(read_api, method)(path, **({} if method == "delete" else {"json": {}}))
        assert response.status_code == 403, (method, path)
        assert response.get_json()["error"]["code"] == "read_only_token"


def test_unknown_api_paths_answer_json(api):
    response = api.get("/nothing-here")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert api.get("/contacts/0").status_code == 404
    assert api.get("/contacts?email=a%00b").get_json()["error"]["code"] == "bad_request"
