"""Email ownership: an organisation sends nothing until its first admin confirms their address."""
import pytest
from sqlalchemy import select

from app.accounts.models import Tenant, User
from app.extensions import db
from app.rules import RuleError
from app.surveys import services as surveys
from app.surveys.models import SurveyInvitation
from app.tenancy import tenant_context
from tests.support.mail import link_path, outbox
from tests.support.data import login, make_contact, make_org, slug_of

SIGNUP = {"organisation": "Harbor Billing Partners", "kind": "billing", "timezone": "America/Chicago",
          "name": "Hana Harbor", "email": "hana@harbor.example", "password": "a-long-enough-secret"}


@pytest.fixture()
def unverified(app):
    tenant_id, admin_id = make_org(app, "Acme Billing", email="ada@acme.example", verified=False)
    contact_id = make_contact(app, tenant_id, "Casey Client")
    return {"tenant_id": tenant_id, "admin": admin_id, "contact": contact_id, "slug": slug_of(app, tenant_id)}


def _sign_up(app):
    client = app.test_client()
    client.post("/signup", data=SIGNUP)
    with app.app_context():
        tenant_id = db.session.execute(select(Tenant.id)).scalar_one()
    return client, tenant_id


def test_unverified_admin_can_explore_but_the_send_page_says_why_nothing_is_sent(client, app, unverified):
    login(client, app, unverified["admin"])
    assert client.get(f"/t/{unverified['slug']}/").status_code == 200
    page = client.get(f"/t/{unverified['slug']}/surveys/send").get_data(as_text=True)
    assert "No survey is sent until Ada Admin" in page and "ada@acme.example" in page
    assert "Resend verification email" in page


def test_sending_is_refused_until_the_address_is_confirmed(client, app, unverified):
    login(client, app, unverified["admin"])
    response = client.post(f"/t/{unverified['slug']}/surveys/send",
                           data={"recipients": "contacts", "contact_ids": [unverified["contact"]]})
    assert response.status_code == 422
    assert "No survey is sent until Ada Admin" in response.get_data(as_text=True)
    assert outbox(app, unverified["tenant_id"], "survey_invitation") == []
    with app.app_context(), tenant_context(unverified["tenant_id"]):
        assert db.session.execute(select(SurveyInvitation)).first() is None


def test_the_send_service_itself_refuses_for_an_unverified_organisation(app, unverified):
    with app.app_context(), tenant_context(unverified["tenant_id"]):
        tenant = db.session.get(Tenant, unverified["tenant_id"])
        with pytest.raises(RuleError, match="confirms their email address"):
            surveys.send_survey(tenant=tenant, survey=surveys.default_survey(),
                                contacts=surveys.contacts_to_choose(), sent_by=db.session.get(User, unverified["admin"]))


def test_the_emailed_link_confirms_the_address_logs_in_and_works_once(app):
    client, tenant_id = _sign_up(app)
    [message] = outbox(app, tenant_id, "email_verification")
    path = link_path(message)
    assert client.get("/t/harbor-billing-partners/").status_code == 302, "sign-up itself logs no one in"

    page = client.get(path)
    assert page.status_code == 200 and "Confirm my email address" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(User.email_verified_at)).scalar_one() is None, "a GET confirms nothing"

    confirmed = client.post(path)
    assert confirmed.status_code == 303 and confirmed.headers["Location"] == "/t/harbor-billing-partners/"
    board = client.get("/t/harbor-billing-partners/").get_data(as_text=True)
    assert "Your email address is confirmed" in board
    send_page = client.get("/t/harbor-billing-partners/surveys/send").get_data(as_text=True)
    assert "Resend verification email" not in send_page
    with app.app_context():
        assert db.session.execute(select(User.email_verified_at)).scalar_one() is not None

    again = app.test_client().post(path)
    assert again.status_code == 404 and "not valid" in again.get_data(as_text=True)


def test_the_token_is_stored_only_as_a_hash(app):
    from app.auth.models import AccountToken

    _, tenant_id = _sign_up(app)
    token = link_path(outbox(app, tenant_id, "email_verification")[0]).rsplit("/", 1)[1]
    with app.app_context():
        stored = db.session.execute(select(AccountToken.token_hash)).scalar_one()
    assert token not in stored and len(stored) == 64


def test_resending_sends_a_new_link_and_the_old_one_stops_working(client, app, unverified):
    login(client, app, unverified["admin"])
    first = client.post(f"/t/{unverified['slug']}/email-verification")
    assert first.status_code == 303
    client.post(f"/t/{unverified['slug']}/email-verification")
    older, newer = outbox(app, unverified["tenant_id"], "email_verification")
    assert older.to_address == newer.to_address == "ada@acme.example"
    assert app.test_client().get(link_path(older)).status_code == 404
    assert app.test_client().get(link_path(newer)).status_code == 200


def test_other_admins_cannot_read_the_link_in_the_email_log(client, app, unverified):
    login(client, app, unverified["admin"])
    client.post(f"/t/{unverified['slug']}/email-verification")
    [message] = outbox(app, unverified["tenant_id"], "email_verification")
    page = client.get(f"/t/{unverified['slug']}/emails/{message.id}").get_data(as_text=True)
    assert "Email verification" in page and "one-time link for its recipient alone" in page
    assert link_path(message) not in page
    assert client.get(f"/t/{unverified['slug']}/emails/{message.id}/html").status_code == 404


def test_accepting_a_team_invitation_confirms_the_address(client, app, org):
    from app.accounts import services as accounts

    with app.app_context(), tenant_context(org["tenant_id"]):
        tenant = db.session.get(Tenant, org["tenant_id"])
        accounts.invite_member(tenant=tenant, email="nina@acme.example", role="agent",
                               invited_by=db.session.get(User, org["admin"]))
        db.session.commit()
    [invitation] = outbox(app, org["tenant_id"], "team_invitation")
    client.post(link_path(invitation), data={"name": "Nina Newbie", "password": "nina-strong-password"})
    with app.app_context():
        nina = db.session.execute(select(User).where(User.email == "nina@acme.example")).scalar_one()
        assert nina.email_verified_at is not None
