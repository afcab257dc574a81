"""PHI-safe alerts: with them on, the mail the lists receive names the ticket, never the patient."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.settings.models import AuditEntry, WorkflowSettings
from app.tenancy import tenant_context
from app.tickets.models import Ticket
from tests.smtp_sink import body_html, body_text
from tests.support.data import answer, login, make_contact, run_jobs
from tests.support.tickets import close, reassign

HTMX = {"HX-Request": "true"}
# Distinctive values, so finding any of them in an alert can only mean it leaked.
PATIENT = {
    "name": "Zanzibar Quillfeather", "email": "zq.7731@patients.example", "phone": "+1 555 0199 7731",
    "external_id": "MRN-884120", "account": "Quillfeather Household",
}
COMMENT = "My left knee brace pinched terribly during session four"
CLOSING_NOTE = "Spoke with Zanzibar about the knee brace"
LEAKS = [*PATIENT.values(), "Zanzibar", "Quillfeather", COMMENT, "knee brace", CLOSING_NOTE]


def _set_phi_safe(app, tenant_id: int, on: bool) -> None:
    with app.app_context(), tenant_context(tenant_id):
        db.session.execute(select(WorkflowSettings)).scalar_one().phi_safe_alerts = on
        db.session.commit()
        db.session.remove()


def _patient_ticket(app, tenant_id: int) -> int:
    contact_id = make_contact(app, tenant_id, PATIENT["name"], PATIENT["email"], phone=PATIENT["phone"],
                              external_id=PATIENT["external_id"], account=PATIENT["account"])
    response_id = answer(app, tenant_id, contact_id, 2, COMMENT)
    with app.app_context(), tenant_context(tenant_id):
        ticket_id = db.session.execute(select(Ticket.id).where(Ticket.response_id == response_id)).scalar_one()
        db.session.remove()
    return ticket_id


def _whole(message) -> str:
    return "\n".join([str(message["Subject"]), body_text(message), body_html(message)])


def _alerts_to(smtp_sink, address: str, kind: str) -> list:
    messages = [m for m in smtp_sink.to(address) if m["X-Turnaround-Kind"] == kind]
    assert messages, f"no {kind} reached {address}: {[m['Subject'] for m in smtp_sink.messages]}"
    return messages


def _work_the_ticket(app, org) -> None:
    """Open a patient's ticket, hand it to the manager, close it: the three alerts the lists receive."""
    ticket_id = _patient_ticket(app, org["tenant_id"])
    reassign(app, org["tenant_id"], ticket_id, org["admin"], org["manager"])
    close(app, org["tenant_id"], ticket_id, org["manager"], note=CLOSING_NOTE)
    run_jobs(app)


@pytest.mark.parametrize("kind", ["detractor_alert", "ticket_reassigned", "ticket_closed"])
def test_phi_safe_alerts_carry_reference_band_due_time_and_link_but_no_patient_details(app, org, smtp_sink, kind):
    _set_phi_safe(app, org["tenant_id"], True)
    _work_the_ticket(app, org)
    for message in _alerts_to(smtp_sink, "mia@acme.example", kind):
        whole = _whole(message)
        for value in LEAKS:
            assert value not in whole, f"{kind} leaked {value!r}"
        text = body_text(message)
        assert "D-0001" in message["Subject"] and "Detractor" in message["Subject"]
        assert "Band: Detractor" in text
        assert re.search(r"due: \w{3} \d{2} \w{3}, \d{2}:\d{2}", text, re.IGNORECASE)
        assert f"http://localhost/t/{org['slug']}/tickets/" in text
        assert "PHI-safe alerts are on" in text


@pytest.mark.parametrize("kind", ["detractor_alert", "ticket_reassigned", "ticket_closed"])
def test_with_phi_safe_alerts_off_the_alerts_carry_the_details(app, org, smtp_sink, kind):
    _set_phi_safe(app, org["tenant_id"], False)
    _work_the_ticket(app, org)
    whole = _whole(_alerts_to(smtp_sink, "mia@acme.example", kind)[0])
    for value in (PATIENT["name"], PATIENT["email"], PATIENT["phone"], COMMENT):
        assert value in whole, f"{kind} is missing {value!r}"
    if kind == "ticket_closed":
        assert CLOSING_NOTE in whole
    if kind != "detractor_alert":
        assert PATIENT["external_id"] in whole


def test_clinics_start_with_phi_safe_alerts_on_and_billing_companies_with_them_off(app, client, org, other_org):
    login(client, app, other_org["admin"])
    clinic = client.get(f"/t/{other_org['slug']}/settings/notifications").get_data(as_text=True)
    assert re.search(r'<input checked id="phi_safe_alerts"[^>]*role="switch"', clinic)
    other = app.test_client()
    login(other, app, org["admin"])
    billing = other.get(f"/t/{org['slug']}/settings/notifications").get_data(as_text=True)
    assert '<input id="phi_safe_alerts"' in billing


def test_admin_turns_phi_safe_alerts_on_and_off_and_each_change_is_audited(app, client, org):
    login(client, app, org["admin"])
    url = f"/t/{org['slug']}/settings/notifications/phi-safe"
    response = client.post(url, data={"phi_safe_alerts": "y"})
    assert response.status_code == 303
    assert "PHI-safe alerts are on" in client.get(response.headers["Location"]).get_data(as_text=True)
    off = client.post(url, headers=HTMX, data={})
    assert off.status_code == 200
    fragment = off.get_data(as_text=True)
    assert "<!doctype html>" not in fragment and "PHI-safe alerts are off" in fragment
    assert '<input id="phi_safe_alerts"' in fragment
    with app.app_context(), tenant_context(org["tenant_id"]):
        entries = [(e.area, e.summary, e.changes) for e in
                   db.session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()]
        on = db.session.execute(select(WorkflowSettings.phi_safe_alerts)).scalar_one()
    assert on is False
    assert entries == [
        ("notifications", "Turned PHI-safe alerts on", {"phi_safe_alerts": [False, True]}),
        ("notifications", "Turned PHI-safe alerts off", {"phi_safe_alerts": [True, False]}),
    ]


def test_turning_phi_safe_alerts_on_in_one_organisation_leaves_the_other_alone(app, client, org, other_org, smtp_sink):
    login(client, app, other_org["admin"])
    assert client.post(f"/t/{other_org['slug']}/settings/notifications/phi-safe", data={}).status_code == 303
    with app.app_context():
        with tenant_context(org["tenant_id"]):
            a_on = db.session.execute(select(WorkflowSettings.phi_safe_alerts)).scalar_one()
        with tenant_context(other_org["tenant_id"]):
            b_on = db.session.execute(select(WorkflowSettings.phi_safe_alerts)).scalar_one()
    assert (a_on, b_on) == (False, False)
    _set_phi_safe(app, org["tenant_id"], True)
    _patient_ticket(app, other_org["tenant_id"])
    run_jobs(app)
    # B turned PHI-safe off for itself: its alert names the patient, whatever A chose.
    assert PATIENT["name"] in _whole(_alerts_to(smtp_sink, "boss@bayside.example", "detractor_alert")[0])


def test_only_admins_may_change_phi_safe_alerts(app, client, org):
    login(client, app, org["manager"])
    url = f"/t/{org['slug']}/settings/notifications/phi-safe"
    assert client.post(url, data={"phi_safe_alerts": "y"}).status_code == 403
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.execute(select(WorkflowSettings.phi_safe_alerts)).scalar_one() is False
        assert db.session.execute(select(AuditEntry)).first() is None


def test_the_manager_alert_editor_says_when_phi_safe_alerts_replace_it(app, client, org):
    login(client, app, org["admin"])
    url = f"/t/{org['slug']}/settings/email-templates/manager_alert"
    assert "PHI-safe alerts are on, so the notification lists get the fixed PHI-safe alert" not in (
        client.get(url).get_data(as_text=True))
    _set_phi_safe(app, org["tenant_id"], True)
    assert "PHI-safe alerts are on, so the notification lists get the fixed PHI-safe alert" in (
        client.get(url).get_data(as_text=True))
