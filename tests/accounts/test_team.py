import re
from datetime import timedelta

from sqlalchemy import select

from app.accounts.models import Membership, TeamInvitation, User
from app.extensions import db
from app.tenancy import tenant_context
from app.timeutil import utcnow
from tests.smtp_sink import body_text
from tests.support.data import login, run_jobs


def _invite(client, org, email="newbie@example.com", role="agent"):
    return client.post(f"/t/{org['slug']}/team/invitations", data={"email": email, "role": role})


def _link_from_sink(smtp_sink, email):
    message = smtp_sink.to(email)[-1]
    return re.search(r"http://localhost(/invitations/\S+)", body_text(message)).group(1)


def test_admin_invites_a_member_who_sets_a_password_and_joins(app, client, org, smtp_sink):
    login(client, app, org["admin"])
    response = _invite(client, org, role="manager")
    assert response.status_code == 303
    run_jobs(app)
    message = smtp_sink.to("newbie@example.com")[0]
    assert "Acme Billing" in message["Subject"]
    path = _link_from_sink(smtp_sink, "newbie@example.com")

    newcomer = app.test_client()
    page = newcomer.get(path)
    assert page.status_code == 200 and "Join Acme Billing" in page.get_data(as_text=True)
    response = newcomer.post(path, data={"name": "Nina Newbie", "password": "nina-strong-password"})
    assert response.status_code == 303
    assert newcomer.get(f"/t/{org['slug']}/").status_code == 200
    with app.app_context(), tenant_context(org["tenant_id"]):
        user = db.session.execute(select(User).where(User.email == "newbie@example.com")).scalar_one()
        membership = db.session.execute(select(Membership).where(Membership.user_id == user.id)).scalar_one()
        assert membership.role == "manager"
    assert newcomer.get(path).status_code == 404, "the link works only once"


def test_invitation_link_expires_after_seven_days(app, client, org, smtp_sink):
    login(client, app, org["admin"])
    _invite(client, org)
    run_jobs(app)
    path = _link_from_sink(smtp_sink, "newbie@example.com")
    with app.app_context(), tenant_context(org["tenant_id"]):
        invitation = db.session.execute(select(TeamInvitation)).scalar_one()
        assert timedelta(days=6, hours=23) < invitation.expires_at - utcnow() <= timedelta(days=7)
        invitation.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    response = app.test_client().get(path)
    assert response.status_code == 404
    assert "expired" in response.get_data(as_text=True)


def test_tampered_invitation_token_gets_a_friendly_page(client):
    response = client.get("/invitations/not-a-real-token")
    assert response.status_code == 404
    assert "not valid" in response.get_data(as_text=True)


def test_existing_user_joins_a_second_organisation_and_switches(app, client, org, other_org, smtp_sink):
    login(client, app, org["admin"])
    bo_email = "bo@bayside.example"
    _invite(client, org, email=bo_email)
    run_jobs(app)
    path = _link_from_sink(smtp_sink, bo_email)

    bo = app.test_client()
    assert bo.get(path).status_code == 302, "an existing user is asked to log in first"
    login(bo, app, other_org["agent"])
    assert bo.post(path).status_code == 303
    page = bo.get("/orgs").get_data(as_text=True)
    assert "Acme Billing" in page and "Bayside Clinic" in page
    assert bo.get(f"/t/{org['slug']}/").status_code == 200
    assert bo.get(f"/t/{other_org['slug']}/").status_code == 200
    assert bo.get("/").headers["Location"] == "/orgs"


def test_only_admins_invite(app, client, org):
    for role in ("manager", "agent", "viewer"):
        c = app.test_client()
        login(c, app, org[role])
        assert _invite(c, org, email=f"x-{role}@example.com").status_code == 403
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.execute(select(TeamInvitation)).first() is None


def test_invalid_invitation_email_is_refused_next_to_the_field(app, client, org):
    login(client, app, org["admin"])
    response = _invite(client, org, email="not an email")
    assert response.status_code == 422
    assert 'id="email-error"' in response.get_data(as_text=True)
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.execute(select(TeamInvitation)).first() is None


def test_inviting_an_existing_member_is_refused(app, client, org):
    login(client, app, org["admin"])
    response = _invite(client, org, email="alex@acme.example")
    assert response.status_code == 422
    assert "already a member" in response.get_data(as_text=True)


def test_htmx_invite_returns_the_team_fragment(app, client, org):
    login(client, app, org["admin"])
    response = client.post(f"/t/{org['slug']}/team/invitations", data={"email": "frag@example.com", "role": "viewer"},
                           headers={"HX-Request": "true"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in page
    assert "frag@example.com" in page and "Pending invitations" in page


def test_revoked_invitation_no_longer_works(app, client, org, smtp_sink):
    login(client, app, org["admin"])
    _invite(client, org)
    run_jobs(app)
    path = _link_from_sink(smtp_sink, "newbie@example.com")
    with app.app_context(), tenant_context(org["tenant_id"]):
        invitation_id = db.session.execute(select(TeamInvitation.id)).scalar_one()
    assert client.post(f"/t/{org['slug']}/team/invitations/{invitation_id}/revoke").status_code == 303
    assert app.test_client().get(path).status_code == 404


def test_team_page_lists_members_with_roles(app, client, org):
    login(client, app, org["viewer"])
    page = client.get(f"/t/{org['slug']}/team/").get_data(as_text=True)
    for name in ("Ada Admin", "Mia Manager", "Alex Agent", "Val Viewer"):
        assert name in page
    assert "Send invitation" not in page, "only admins see the invite form"


def test_weak_password_on_accepting_is_refused(app, client, org, smtp_sink):
    login(client, app, org["admin"])
    _invite(client, org)
    run_jobs(app)
    path = _link_from_sink(smtp_sink, "newbie@example.com")
    response = app.test_client().post(path, data={"name": "Nina", "password": "short"})
    assert response.status_code == 422 and 'id="password-error"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(User).where(User.email == "newbie@example.com")).first() is None
