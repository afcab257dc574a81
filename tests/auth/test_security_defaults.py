"""Security defaults: HSTS in production, no-store on members' pages, CSRF rotated at login, no personal data in
flash messages, password field hints, and rate limits counted in Redis."""
import json
import re

import pytest

from app import create_app
from app.config import load_config
from app.extensions import limiter
from app.jobs import redis_connection
from tests.support.data import PASSWORD, answer, login, make_contact, make_org, user_email
from tests.support.env import database_url, redis_url

SIGNUP = {"organisation": "Harbor Billing Partners", "kind": "billing", "timezone": "America/Chicago",
          "name": "Hana Harbor", "email": "not-an-email", "password": "a-long-enough-secret"}


def _app(**config):
    return create_app({"APP_ENV": "test", "SQLALCHEMY_DATABASE_URI": database_url(), "REDIS_URL": redis_url(),
                       "RATELIMIT_ENABLED": False, **config})


def test_production_responses_carry_strict_transport_security(client, smtp_sink):
    production = _app(APP_ENV="production", SECRET_KEY="s" * 64)
    assert "max-age=31536000" in production.test_client().get("/login").headers["Strict-Transport-Security"]
    assert "Strict-Transport-Security" not in client.get("/login").headers


@pytest.mark.parametrize("path", ["/", "/tickets/1", "/contacts/", "/contacts/1", "/emails/", "/surveys/send", "/team/"])
def test_members_pages_are_never_stored_by_a_cache(app, client, org, path):
    answer(app, org["tenant_id"], make_contact(app, org["tenant_id"], "Pat Patient"), 2)
    login(client, app, org["admin"])
    response = client.get(f"/t/{org['slug']}{path}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_the_csrf_secret_changes_at_login(smtp_sink, app):
    _, admin_id = make_org(app, "Acme Billing", email="ada@acme.example")
    client = _app(WTF_CSRF_ENABLED=True).test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    with client.session_transaction() as session:
        before = session["csrf_token"]
    response = client.post("/login", data={"csrf_token": token, "email": user_email(app, admin_id), "password": PASSWORD})
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert session.get("csrf_token") != before
    stale = client.post("/logout", data={"csrf_token": token})
    assert stale.status_code == 400 and "Form expired" in stale.get_data(as_text=True)


def test_flash_messages_carry_no_personal_data_in_the_session_cookie(app, client, org):
    login(client, app, org["admin"])
    response = client.post(f"/t/{org['slug']}/contacts/new",
                           data={"name": "Pat Patient", "email": "pat@client.example", "phone": "+1 555 0199",
                                 "external_id": "PAT-0042"})
    assert response.status_code == 303
    cookie = client.get_cookie("session").value
    session = app.session_interface.get_signing_serializer(app).loads(cookie)
    stored = json.dumps(session)
    assert "Contact added." in stored
    for personal in ("Pat Patient", "pat@client.example", "PAT-0042"):
        assert personal not in stored


@pytest.mark.parametrize("path, field, autocomplete", [
    ("/login", "password", "current-password"),
    ("/login", "email", "username"),
    ("/signup", "password", "new-password"),
    ("/signup", "email", "email"),
    ("/password/forgot", "email", "email"),
])
def test_fields_tell_password_managers_what_they_hold(client, path, field, autocomplete):
    page = client.get(path).get_data(as_text=True)
    control = re.search(rf'<input[^>]*\bid="{field}"[^>]*>', page).group(0)
    assert f'autocomplete="{autocomplete}"' in control
    assert f'<label for="{field}">' in page


def test_rate_limits_count_in_redis_whenever_redis_is_configured(monkeypatch):
    monkeypatch.delenv("RATELIMIT_STORAGE_URI", raising=False)
    monkeypatch.delenv("JOBS_INLINE", raising=False)
    assert load_config({"APP_ENV": "test", "REDIS_URL": "redis://cache.internal:6379/3"})[
        "RATELIMIT_STORAGE_URI"] == "redis://cache.internal:6379/3"
    assert load_config({"APP_ENV": "test", "JOBS_INLINE": True})["RATELIMIT_STORAGE_URI"] == "memory://"


def test_the_sign_up_limit_states_its_window_and_keeps_what_was_typed(limited_app):
    client = limited_app.test_client()
    codes = [client.post("/signup", data=SIGNUP).status_code for _ in range(10)]
    assert codes == [422] * 10
    with limited_app.app_context():
        assert redis_connection().keys("LIMITS*"), "the counts live in Redis, shared by every web process"
    limited = client.post("/signup", data={**SIGNUP, "name": "Hana Again"})
    page = limited.get_data(as_text=True)
    assert limited.status_code == 429
    assert "at most 10 in an hour" in page and "try again within an hour" in page
    assert 'value="Harbor Billing Partners"' in page and 'value="Hana Again"' in page
    assert "a-long-enough-secret" not in page
    assert limiter.enabled
