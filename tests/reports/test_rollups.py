"""The daily rollups behind the NPS overview: past days come from them, today is live, amendments are
recomputed by the next sweep, and each organisation's rows stay its own."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from app.extensions import db
from app.jobs import sweep
from app.reports.models import ResponseDaily
from app.surveys import services as surveys
from app.surveys.models import Response, SurveyInvitation
from app.tenancy import tenant_context
from app.timeutil import utcnow
from tests.reports.support import roll_up
from tests.reports.test_nps_overview import figure
from tests.support.html import table_rows
from tests.support.data import make_contact, make_invitation


def answer_days_ago(app, tenant_id, contact_id, score, days):
    """Answer an invitation, then move the answer ``days`` back; returns the token for amending it."""
    token = make_invitation(app, tenant_id, contact_id)
    amend(app, tenant_id, token, score)
    with app.app_context(), tenant_context(tenant_id):
        invitation_id = surveys.find_invitation(token).id
        at = utcnow() - timedelta(days=days)
        db.session.execute(update(Response).where(Response.invitation_id == invitation_id).values(created_at=at))
        db.session.execute(update(SurveyInvitation).where(SurveyInvitation.id == invitation_id).values(created_at=at))
        db.session.commit()
        db.session.remove()
    return token


def amend(app, tenant_id, token, score):
    with app.app_context():
        invitation = surveys.find_invitation(token)
        with tenant_context(tenant_id):
            surveys.record_answer(invitation, score, None)
            db.session.commit()
        db.session.remove()


def test_an_amended_answer_counts_once_with_its_latest_score_after_the_sweep(app, org, other_org, as_member):
    t = org["tenant_id"]
    token = answer_days_ago(app, t, make_contact(app, t, "Amy Amender"), 3, days=3)
    answer_days_ago(app, t, make_contact(app, t, "Pia Promoter"), 10, days=3)
    answer_days_ago(app, other_org["tenant_id"], make_contact(app, other_org["tenant_id"], "Oli Other"), 0, days=3)
    roll_up(app)
    client = as_member("viewer")
    page = f"/t/{org['slug']}/reports/?period=7"
    html = client.get(page).get_data(as_text=True)
    assert figure(html, "responses") == "2" and figure(html, "nps") == "0"

    amend(app, t, token, 9)
    html = client.get(page).get_data(as_text=True)
    assert figure(html, "nps") == "0", "past days show the last sweep's figures until the next sweep"

    with app.app_context():
        assert sweep()["report_days"] >= 1
        db.session.remove()
    html = client.get(page).get_data(as_text=True)
    assert figure(html, "responses") == "2" and figure(html, "nps") == "+100"
    assert {row[0]: row[1] for row in table_rows(html, "band-table")} == {
        "Promoters": "2", "Passives": "0", "Detractors": "0"}
    assert figure(html, "response-rate") == "100% (2 of 2 invitations answered)"
    with app.app_context(), tenant_context(t):
        rows = db.session.execute(select(ResponseDaily.band, ResponseDaily.responses)).all()
        db.session.remove()
    assert rows == [("promoter", 2)]


def test_todays_answers_count_without_waiting_for_the_sweep(app, org, as_member):
    t = org["tenant_id"]
    answer_days_ago(app, t, make_contact(app, t, "Tod Today"), 0, days=0)
    html = as_member("viewer").get(f"/t/{org['slug']}/reports/?period=7").get_data(as_text=True)
    assert figure(html, "responses") == "1" and figure(html, "nps") == "-100"
    assert figure(html, "still-open") == "0"


def test_the_rollup_runs_a_fixed_number_of_statements(app, org):
    from tests.support.tickets import count_queries

    t = org["tenant_id"]
    roll_up(app)  # the first sweep ever also writes the state row
    answer_days_ago(app, t, make_contact(app, t, "Una"), 5, days=2)
    with count_queries(app) as few:
        roll_up(app)
    for n in range(6):
        answer_days_ago(app, t, make_contact(app, t, f"Many {n}"), n, days=n + 2)
    with count_queries(app) as many:
        roll_up(app)
    assert len(few) == len(many)
