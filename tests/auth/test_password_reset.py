"""Password reset by an emailed one-time link: one hour, single use, ends every session, tells nothing."""
from datetime import timedelta

from sqlalchemy import select, update

from app.auth.models import AccountToken
from app.extensions import db
from tests.support.mail import link_path, outbox
from tests.support.data import PASSWORD, login, make_org

NEW_PASSWORD = "a-brand-new-passphrase"


def _reset_link(app, client, tenant_id: int, email: str = "ada@acme.example") -> str:
    client.post("/password/forgot", data={"email": email})
    return link_path(outbox(app, tenant_id, "password_reset")[-1])


def test_login_page_offers_a_password_reset(client):
    page = client.get("/login").get_data(as_text=True)
    assert "Forgot your password?" in page and 'href="/password/forgot"' in page


def test_the_answer_is_the_same_whether_or_not_the_address_has_an_account(app):
    tenant_id, _ = make_org(app, "Acme Billing", email="ada@acme.example")
    known = app.test_client().post("/password/forgot", data={"email": "Ada@Acme.example"})
    unknown = app.test_client().post("/password/forgot", data={"email": "nobody@acme.example"})
    assert (known.status_code, known.headers["Location"]) == (unknown.status_code, unknown.headers["Location"])
    assert known.status_code == 303
    assert "If an account uses the address" in app.test_client().get(known.headers["Location"]).get_data(as_text=True)
    [message] = outbox(app, tenant_id, "password_reset")
    assert message.to_address == "ada@acme.example" and "one hour" in message.text_body


def test_a_reset_sets_the_password_ends_every_other_session_and_works_once(app):
    tenant_id, admin_id = make_org(app, "Acme Billing", email="ada@acme.example")
    elsewhere = app.test_client()
    login(elsewhere, app, admin_id)
    client = app.test_client()
    path = _reset_link(app, client, tenant_id)

    form = client.get(path).get_data(as_text=True)
    assert "New password" in form and 'autocomplete="new-password"' in form
    weak = client.post(path, data={"password": "password1234"})
    assert weak.status_code == 422 and "commonly used passwords" in weak.get_data(as_text=True)

    done = client.post(path, data={"password": NEW_PASSWORD})
    assert done.status_code == 303 and done.headers["Location"] == "/t/acme-billing/"
    assert "every other session has been logged out" in client.get("/t/acme-billing/").get_data(as_text=True)
    assert elsewhere.get("/t/acme-billing/").status_code == 302, "the other session ended"
    assert app.test_client().post("/login", data={"email": "ada@acme.example", "password": PASSWORD}).status_code == 422
    assert app.test_client().post("/login", data={"email": "ada@acme.example", "password": NEW_PASSWORD}).status_code == 302

    reused = app.test_client().post(path, data={"password": "yet-another-passphrase"})
    assert reused.status_code == 404 and "not valid" in reused.get_data(as_text=True)


def test_a_reset_link_expires_after_an_hour(app):
    tenant_id, _ = make_org(app, "Acme Billing", email="ada@acme.example")
    client = app.test_client()
    path = _reset_link(app, client, tenant_id)
    with app.app_context():
        token = db.session.execute(select(AccountToken)).scalar_one()
        assert token.expires_at - token.created_at == timedelta(hours=1)
        db.session.execute(update(AccountToken).values(expires_at=token.created_at - timedelta(seconds=1)))
        db.session.commit()
    assert client.get(path).status_code == 404
    assert client.post(path, data={"password": NEW_PASSWORD}).status_code == 404


def test_a_newer_link_replaces_the_older_one(app):
    tenant_id, _ = make_org(app, "Acme Billing", email="ada@acme.example")
    client = app.test_client()
    older = _reset_link(app, client, tenant_id)
    newer = _reset_link(app, client, tenant_id)
    assert client.get(older).status_code == 404 and client.get(newer).status_code == 200


def test_reset_requests_are_rate_limited_per_address(limited_app):
    client = limited_app.test_client()
    codes = [client.post("/password/forgot", data={"email": "ada@acme.example"}).status_code for _ in range(4)]
    assert codes == [303, 303, 303, 429]
    assert "Please wait up to an hour" in client.post("/password/forgot", data={"email": "ada@acme.example"}).get_data(as_text=True)
    assert client.post("/password/forgot", data={"email": "bo@acme.example"}).status_code == 303
