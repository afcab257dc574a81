"""Survey throttling: a contact surveyed recently is skipped, and the send says how many and why."""
from datetime import timedelta

from sqlalchemy import func, select

from app.extensions import db
from app.settings.models import AuditEntry, WorkflowSettings
from app.surveys.models import SurveyInvitation
from app.tenancy import tenant_context
from app.timeutil import utcnow
from tests.support.data import login, make_contact, make_invitation, run_jobs


def _invitations(app, tenant_id):
    with app.app_context(), tenant_context(tenant_id):
        return db.session.execute(select(func.count()).select_from(SurveyInvitation)).scalar_one()


def _send(client, app, org, *contact_ids):
    """Send to the contacts and let the worker run the send."""
    response = client.post(f"/t/{org['slug']}/surveys/send",
                           data={"recipients": "contacts", "contact_ids": [str(i) for i in contact_ids]})
    run_jobs(app)
    return response


def test_contact_surveyed_within_30_days_is_skipped_with_the_reason(app, client, org):
    fresh = make_contact(app, org["tenant_id"], "Fresh Face")
    recent = make_contact(app, org["tenant_id"], "Recent Rita")
    make_invitation(app, org["tenant_id"], recent)
    login(client, app, org["agent"])
    response = _send(client, app, org, fresh, recent)
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Survey sent to 1 contact." in page
    assert "1 contact was skipped because they were surveyed in the last 30 days." in page
    assert _invitations(app, org["tenant_id"]) == 2


def test_a_contact_surveyed_before_the_window_is_surveyed_again(app, client, org):
    contact = make_contact(app, org["tenant_id"], "Old Oscar")
    make_invitation(app, org["tenant_id"], contact)
    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.execute(select(SurveyInvitation)).scalar_one().created_at = utcnow() - timedelta(days=31)
        db.session.commit()
    login(client, app, org["agent"])
    _send(client, app, org, contact)
    assert _invitations(app, org["tenant_id"]) == 2


def test_when_everyone_is_throttled_nothing_is_sent_and_the_page_says_so(app, client, org):
    contact = make_contact(app, org["tenant_id"], "Recent Rita")
    make_invitation(app, org["tenant_id"], contact)
    login(client, app, org["agent"])
    page = client.get(_send(client, app, org, contact).headers["Location"]).get_data(as_text=True)
    assert "No survey was sent." in page and "surveyed in the last 30 days" in page
    assert _invitations(app, org["tenant_id"]) == 1


def test_a_shorter_window_changes_who_is_skipped(app, client, org):
    contact = make_contact(app, org["tenant_id"], "Ten Days")
    make_invitation(app, org["tenant_id"], contact)
    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.execute(select(SurveyInvitation)).scalar_one().created_at = utcnow() - timedelta(days=10)
        db.session.commit()
    login(client, app, org["admin"])
    assert client.post(f"/t/{org['slug']}/settings/throttling", data={"survey_throttle_days": "7"}).status_code == 303
    _send(client, app, org, contact)
    assert _invitations(app, org["tenant_id"]) == 2


def test_no_limit_surveys_everyone(app, client, org):
    contact = make_contact(app, org["tenant_id"], "Again Anna")
    make_invitation(app, org["tenant_id"], contact)
    login(client, app, org["admin"])
    client.post(f"/t/{org['slug']}/settings/throttling", data={"survey_throttle_days": "0"})
    _send(client, app, org, contact)
    assert _invitations(app, org["tenant_id"]) == 2


def test_throttling_by_recipient_role_reports_skips_too(app, client, org):
    make_contact(app, org["tenant_id"], "Role One", roles=("Signer",))
    recent = make_contact(app, org["tenant_id"], "Role Two", roles=("Signer",))
    make_invitation(app, org["tenant_id"], recent)
    login(client, app, org["agent"])
    with app.app_context(), tenant_context(org["tenant_id"]):
        from app.contacts.models import RecipientRole

        signer = db.session.execute(select(RecipientRole.id).where(RecipientRole.name == "Signer")).scalar_one()
    send = {"recipients": "role", "role_id": str(signer)}
    asked = client.post(f"/t/{org['slug']}/surveys/send", data=send).get_data(as_text=True)
    assert "This will email 1 contact (1 skipped: surveyed in the last 30 days — Role Two)." in asked
    response = client.post(f"/t/{org['slug']}/surveys/send", data={**send, "confirm_count": "1"})
    run_jobs(app)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Survey sent to 1 contact." in page and "Role Two" in page


def test_invalid_period_is_refused_and_nothing_saved(app, client, org):
    login(client, app, org["admin"])
    response = client.post(f"/t/{org['slug']}/settings/throttling", data={"survey_throttle_days": "3"})
    assert response.status_code == 422
    assert 'id="survey_throttle_days-error"' in response.get_data(as_text=True)
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.execute(select(WorkflowSettings.survey_throttle_days)).scalar_one() == 30


def test_change_is_audited(app, client, org):
    login(client, app, org["admin"])
    client.post(f"/t/{org['slug']}/settings/throttling", data={"survey_throttle_days": "90"})
    with app.app_context(), tenant_context(org["tenant_id"]):
        entry = db.session.execute(select(AuditEntry)).scalar_one()
        assert entry.area == "throttling" and entry.changes == {"survey_throttle_days": [30, 90]}
        assert entry.actor_id == org["admin"]


def test_managers_may_view_but_not_change_and_agents_may_not_view(app, org):
    manager, agent = app.test_client(), app.test_client()
    login(manager, app, org["manager"])
    login(agent, app, org["agent"])
    url = f"/t/{org['slug']}/settings/throttling"
    assert manager.get(url).status_code == 200
    assert manager.post(url, data={"survey_throttle_days": "7"}).status_code == 403
    assert agent.get(url).status_code == 403


def test_other_organisations_throttle_is_untouched(app, client, org, other_org):
    login(client, app, org["admin"])
    client.post(f"/t/{org['slug']}/settings/throttling", data={"survey_throttle_days": "365"})
    with app.app_context(), tenant_context(other_org["tenant_id"]):
        assert db.session.execute(select(WorkflowSettings.survey_throttle_days)).scalar_one() == 30
