from sqlalchemy import select

from app.accounts.models import Membership, Tenant, User
from app.contacts.models import RecipientRole
from app.extensions import db
from app.surveys.models import Survey
from app.tenancy import tenant_context
from tests.support.data import PASSWORD, login, make_org

SIGNUP = {
    "organisation": "Harbor Billing Partners",
    "kind": "billing",
    "timezone": "America/Chicago",
    "name": "Hana Harbor",
    "email": "Hana@Harbor.example",
    "password": "a-long-enough-secret",
}


def test_front_page_offers_sign_up(client):
    page = client.get("/").get_data(as_text=True)
    assert "Sign up your organisation" in page and 'href="/signup"' in page


def test_sign_up_creates_organisation_admin_and_default_survey(client, app):
    response = client.post("/signup", data=SIGNUP)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/t/harbor-billing-partners/")
    with app.app_context():
        tenant = db.session.execute(select(Tenant)).scalar_one()
        assert (tenant.name, tenant.kind, tenant.timezone) == ("Harbor Billing Partners", "billing", "America/Chicago")
        user = db.session.execute(select(User)).scalar_one()
        assert user.email == "hana@harbor.example" and user.password_hash.startswith("$argon2id$")
        with tenant_context(tenant.id):
            assert db.session.execute(select(Membership.role)).scalar_one() == "admin"
            survey = db.session.execute(select(Survey)).scalar_one()
            assert survey.question.startswith("How likely is it that you would recommend {organisation}")
            assert (survey.detractor_max, survey.passive_max) == (6, 8)
            roles = set(db.session.execute(select(RecipientRole.name)).scalars())
            assert roles == {"Signer", "NPS Recipient"}
    assert client.get("/t/harbor-billing-partners/").status_code == 200


def test_sign_up_refuses_duplicate_email_with_message_next_to_field(client, app):
    make_org(app, "First Org", email="hana@harbor.example")
    response = client.post("/signup", data=SIGNUP)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="email-error"' in page and "already exists" in page
    with app.app_context():
        assert db.session.execute(select(db.func.count()).select_from(Tenant)).scalar_one() == 1


def test_sign_up_refuses_weak_password_and_invalid_email(client, app):
    response = client.post("/signup", data={**SIGNUP, "password": "short", "email": "not-an-email"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="password-error"' in page and "at least 8 characters" in page
    assert 'id="email-error"' in page and "valid email" in page
    with app.app_context():
        assert db.session.execute(select(db.func.count()).select_from(User)).scalar_one() == 0


def test_same_organisation_name_gets_a_distinct_slug(client, app):
    make_org(app, "Harbor Billing Partners", email="other@harbor.example")
    response = client.post("/signup", data=SIGNUP)
    assert response.headers["Location"].endswith("/t/harbor-billing-partners-2/")


def test_log_in_and_log_out(client, app):
    tenant_id, admin_id = make_org(app, "Acme Billing")
    login(client, app, admin_id)
    assert client.get("/t/acme-billing/").status_code == 200
    response = client.post("/logout")
    assert response.status_code == 303
    assert client.get("/t/acme-billing/").status_code == 302


def test_wrong_password_gives_a_generic_error(client, app):
    make_org(app, "Acme Billing", email="ada@acme.example")
    for email in ("ada@acme.example", "nobody@acme.example"):
        response = client.post("/login", data={"email": email, "password": "wrong-password"})
        assert response.status_code == 422
        assert "do not match an account" in response.get_data(as_text=True)


def test_logout_ends_other_sessions_of_the_same_user(app):
    _, admin_id = make_org(app, "Acme Billing")
    first, second = app.test_client(), app.test_client()
    login(first, app, admin_id)
    login(second, app, admin_id)
    first.post("/logout")
    assert second.get("/t/acme-billing/").status_code == 302


def test_login_redirects_back_only_to_local_pages(client, app):
    _, admin_id = make_org(app, "Acme Billing", email="ada@acme.example")
    response = client.post("/login?next=https://evil.example/", data={"email": "ada@acme.example", "password": PASSWORD})
    assert response.headers["Location"] == "/t/acme-billing/"


def test_login_is_rate_limited_per_account(smtp_sink):
    from app import create_app
    from app.extensions import limiter
    from tests.support.env import database_url, redis_url

    limited = create_app({"APP_ENV": "test", "SQLALCHEMY_DATABASE_URI": database_url(), "REDIS_URL": redis_url(),
                          "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True})
    client = limited.test_client()
    try:
        codes = [client.post("/login", data={"email": "x@example.com", "password": "nope-nope-nope"}).status_code
                 for _ in range(11)]
        assert codes[:10] == [422] * 10 and codes[10] == 429
        page = client.post("/login", data={"email": "x@example.com", "password": "x"}).get_data(as_text=True)
        assert "Too many attempts" in page
        other_account = client.post("/login", data={"email": "y@example.com", "password": "nope-nope-nope"})
        assert other_account.status_code == 422, "the per-account limit does not lock out other accounts"
    finally:
        limiter.enabled = False  # the limiter is one object shared by every app in this process


def test_security_headers_are_set(client):
    response = client.get("/login")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
