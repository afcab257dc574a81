from sqlalchemy import select

from app.accounts.models import Membership, Tenant, User
from app.contacts.models import RecipientRole
from app.extensions import db
from app.mail import OutboxMessage
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


def _outbox(app, tenant_id: int) -> list[OutboxMessage]:
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()
        db.session.expunge_all()
    return rows


def test_sign_up_creates_organisation_admin_and_default_survey(client, app):
    response = client.post("/signup", data=SIGNUP)
    assert response.status_code == 303 and response.headers["Location"] == "/signup/sent"
    with app.app_context():
        tenant = db.session.execute(select(Tenant)).scalar_one()
        assert (tenant.name, tenant.kind, tenant.timezone) == ("Harbor Billing Partners", "billing", "America/Chicago")
        user = db.session.execute(select(User)).scalar_one()
        assert user.email == "hana@harbor.example" and user.password_hash.startswith("$argon2id$")
        assert user.email_verified_at is None
        with tenant_context(tenant.id):
            assert db.session.execute(select(Membership.role)).scalar_one() == "admin"
            survey = db.session.execute(select(Survey)).scalar_one()
            assert survey.question.startswith("How likely is it that you would recommend {organisation}")
            assert (survey.detractor_max, survey.passive_max) == (6, 8)
            roles = set(db.session.execute(select(RecipientRole.name)).scalars())
            assert roles == {"Signer", "NPS Recipient"}
        tenant_id = tenant.id
    [verification] = _outbox(app, tenant_id)
    assert (verification.kind, verification.to_address) == ("email_verification", "hana@harbor.example")
    assert "Check your email" in client.get("/signup/sent").get_data(as_text=True)


def test_sign_up_with_an_existing_address_answers_exactly_as_for_a_new_one(app):
    tenant_id, _ = make_org(app, "First Org", email="hana@harbor.example")
    taken = app.test_client().post("/signup", data=SIGNUP)
    fresh = app.test_client().post("/signup", data={**SIGNUP, "email": "new@harbor.example"})
    assert (taken.status_code, taken.headers["Location"]) == (fresh.status_code, fresh.headers["Location"])
    assert taken.get_data() == fresh.get_data()
    with app.app_context():
        assert db.session.execute(select(db.func.count()).select_from(Tenant)).scalar_one() == 2
    [notice] = _outbox(app, tenant_id)
    assert (notice.kind, notice.to_address) == ("account_exists", "hana@harbor.example")
    assert "already has an account" in notice.text_body and "/password/forgot" in notice.text_body


def test_sign_up_refuses_weak_password_and_invalid_email(client, app):
    response = client.post("/signup", data={**SIGNUP, "password": "short", "email": "not-an-email"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="password-error"' in page and "at least 12 characters" in page
    assert 'id="email-error"' in page and "valid email" in page
    with app.app_context():
        assert db.session.execute(select(db.func.count()).select_from(User)).scalar_one() == 0


def test_sign_up_refuses_a_common_password(client, app):
    response = client.post("/signup", data={**SIGNUP, "password": "Qwerty123456"})
    assert response.status_code == 422
    assert "on a list of commonly used passwords" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(db.func.count()).select_from(User)).scalar_one() == 0


def test_same_organisation_name_gets_a_distinct_slug(client, app):
    make_org(app, "Harbor Billing Partners", email="other@harbor.example")
    client.post("/signup", data=SIGNUP)
    with app.app_context():
        slugs = set(db.session.execute(select(Tenant.slug)).scalars())
    assert slugs == {"harbor-billing-partners", "harbor-billing-partners-2"}


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
