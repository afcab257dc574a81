"""Presets per organisation kind: what a billing company, a clinic and a patient-support programme start with,
and the switch that lets PHI-safe alerts carry the contact's external id."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.accounts.models import Tenant
from app.extensions import db
from app.settings.models import ActionPlanTemplate, AuditEntry, WorkflowSettings
from app.tenancy import tenant_context
from tests.support.data import PASSWORD, login, make_org
from tests.support.html import text

HTMX = {"HX-Request": "true"}
SIGNUP = {"organisation": "Northside", "timezone": "America/Chicago", "name": "Nora North",
          "email": "nora@northside.example", "password": PASSWORD}
CADENCE_AND_ALERTS = ("call_attempts", "email_attempts", "stop_after_cadence", "phi_safe_alerts", "alert_external_id")


def _signed_up(app, client, kind: str) -> int:
    response = client.post("/signup", data={**SIGNUP, "kind": kind})
    assert response.status_code == 303, response.get_data(as_text=True)
    with app.app_context():
        tenant_id = db.session.execute(select(Tenant.id).where(Tenant.kind == kind)).scalar_one()
        db.session.remove()
    return tenant_id


def _starting_point(app, tenant_id: int) -> tuple[dict, dict]:
    with app.app_context(), tenant_context(tenant_id):
        settings = db.session.execute(select(WorkflowSettings)).scalar_one()
        values = {name: getattr(settings, name) for name in CADENCE_AND_ALERTS}
        plans = {t.name: list(t.items) for t in db.session.execute(select(ActionPlanTemplate)).scalars()}
        db.session.remove()
    return values, plans


def test_sign_up_offers_the_patient_support_programme_kind_and_says_what_each_kind_starts_with(client):
    page = client.get("/signup").get_data(as_text=True)
    kinds = re.search(r'<select id="kind".*?</select>', page, re.S).group(0)
    assert re.findall(r">([^<]+)</option>", kinds) == ["Billing company", "Clinic", "Patient-support programme",
                                                       "Other"]
    assert "Clinics email a detractor once and don't chase non-responders" in text(page)


@pytest.mark.parametrize(("kind", "settings", "plan"), [
    ("billing", {"call_attempts": 2, "email_attempts": 2, "stop_after_cadence": True, "phi_safe_alerts": False,
                 "alert_external_id": False},
     {"Detractor review (billing SOP)": ["Enrollments review", "PCAP corrective action plan", "AR review",
                                         "Coding review", "Denial/rejection review",
                                         "Training — customer or billing team", "Save / at-risk ticket"]}),
    ("clinic", {"call_attempts": 0, "email_attempts": 1, "stop_after_cadence": True, "phi_safe_alerts": True,
                "alert_external_id": False},
     {"Patient follow-up (clinic)": ["Review with the treating therapist", "Scheduling issue", "Billing question",
                                     "Front-desk experience", "Share what was learned with the clinic team"]}),
    ("programme", {"call_attempts": 2, "email_attempts": 2, "stop_after_cadence": True, "phi_safe_alerts": True,
                   "alert_external_id": True},
     {"Patient follow-up (patient support)": [
         "Call the patient to learn what is missing", "Resolve access, coverage or delivery questions",
         "Bring in the HUB partner or the right specialist",
         "Confirm the patient feels prepared to begin treatment"]}),
])
def test_each_kind_of_organisation_starts_with_its_preset_at_sign_up(app, client, kind, settings, plan):
    tenant_id = _signed_up(app, client, kind)
    assert _starting_point(app, tenant_id) == (settings, plan)


def test_a_clinic_admin_sees_the_introduction_only_cadence_and_the_clinic_plan(app, client):
    tenant_id = _signed_up(app, client, "clinic")
    with app.app_context():
        slug = db.session.get(Tenant, tenant_id).slug
        db.session.remove()
    login(client, app, _admin_of(app, tenant_id))
    cadence = text(client.get(f"/t/{slug}/settings/cadence").get_data(as_text=True))
    assert "None: only the automatic introduction email is sent. Nobody chases" in cadence
    plans = text(client.get(f"/t/{slug}/settings/action_plans").get_data(as_text=True))
    assert "Review with the treating therapist" in plans and "PCAP corrective action plan" not in plans


def _admin_of(app, tenant_id: int) -> int:
    from app.accounts.models import Membership

    with app.app_context(), tenant_context(tenant_id):
        user_id = db.session.execute(select(Membership.user_id)).scalar_one()
        db.session.remove()
    return user_id


def _switches(html: str) -> dict[str, bool]:
    return {name: bool(re.search(rf'<input checked id="{name}"', html))
            for name in ("phi_safe_alerts", "alert_external_id")}


def test_a_programme_starts_with_phi_safe_alerts_carrying_the_external_id_on_its_settings_page(app, client):
    tenant_id, admin_id = make_org(app, "Helix Patient Support", kind="programme")
    login(client, app, admin_id)
    with app.app_context():
        slug = db.session.get(Tenant, tenant_id).slug
        db.session.remove()
    page = client.get(f"/t/{slug}/settings/notifications").get_data(as_text=True)
    assert _switches(page) == {"phi_safe_alerts": True, "alert_external_id": True}
    assert '<label for="alert_external_id">' in page
    assert "PHI-safe alerts may carry the contact's external id" in text(page)


def test_admin_turns_the_external_id_in_phi_safe_alerts_on_and_off_and_each_change_is_audited(app, client, org):
    login(client, app, org["admin"])
    url = f"/t/{org['slug']}/settings/notifications/phi-safe"
    response = client.post(url, data={"phi_safe_alerts": "y", "alert_external_id": "y"})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "PHI-safe alerts are on" in page and "and the contact&#39;s external id." in page
    assert _switches(page) == {"phi_safe_alerts": True, "alert_external_id": True}
    off = client.post(url, headers=HTMX, data={"phi_safe_alerts": "y"})
    assert off.status_code == 200
    fragment = off.get_data(as_text=True)
    assert "<!doctype html>" not in fragment and "PHI-safe alerts no longer carry the contact" in fragment
    assert _switches(fragment) == {"phi_safe_alerts": True, "alert_external_id": False}
    with app.app_context(), tenant_context(org["tenant_id"]):
        entries = [(e.area, e.summary, e.changes, e.actor_id) for e in
                   db.session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()]
    assert entries == [
        ("notifications", "Turned PHI-safe alerts on", {"phi_safe_alerts": [False, True]}, org["admin"]),
        ("notifications", "Allowed the contact's external id in PHI-safe alerts",
         {"alert_external_id": [False, True]}, org["admin"]),
        ("notifications", "Stopped the contact's external id in PHI-safe alerts",
         {"alert_external_id": [True, False]}, org["admin"]),
    ]


def test_managers_see_whether_phi_safe_alerts_carry_the_external_id_but_cannot_change_it(app, client, org):
    login(client, app, org["manager"])
    page = text(client.get(f"/t/{org['slug']}/settings/notifications").get_data(as_text=True))
    assert "PHI-safe alerts are off." in page
    assert client.post(f"/t/{org['slug']}/settings/notifications/phi-safe",
                       data={"phi_safe_alerts": "y", "alert_external_id": "y"}).status_code == 403
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.execute(select(WorkflowSettings.alert_external_id)).scalar_one() is False
