"""A patient-support programme's PHI-safe alerts carry the patient's opaque identifier and nothing else personal
("a unique patient identifier is the only information shared"), for every event; and why a ticket opened is
said without the patient's answers."""
from __future__ import annotations

import pytest

from app.notifications import EVENTS
from app.notifications.phi_safe import safe_values
from tests.notifications.test_paths_agree import PATIENT, _prepare, _through_the_service
from tests.smtp_sink import body_html, body_text
from tests.support.data import add_member, make_contact, make_invitation, make_org, run_jobs, slug_of
from tests.support.workflow import set_sla
from tests.surveys.test_extra_questions import make_question

EMAIL = "zq.7731@patients.example"
QUESTION = "Do you feel prepared to begin treatment?"
COMMENT = "My left knee brace pinched terribly"
# Anything personal but the identifier: finding one of these in an alert can only mean it leaked.
PERSONAL = ("Zanzibar", "Quillfeather", "zanzibar", PATIENT["phone"], "knee", "zq.7731")
ALERTS = [name for name, event in EVENTS.items() if not event.to_contact]
# Alerts about the team's work rather than the patient: a reminder names the task, the capacity and backlog
# notices name the ticket and the workload, the weekly digest counts. They carry no identifier.
NOT_ABOUT_THE_PATIENT = {"task_reminder", "everyone_at_capacity", "workload_backlog", "weekly_digest"}


def _programme(app) -> dict:
    tenant_id, admin_id = make_org(app, "Helix Patient Support", kind="programme")
    return {"tenant_id": tenant_id, "slug": slug_of(app, tenant_id), "admin": admin_id,
            "manager": add_member(app, tenant_id, "manager", "Pia Manager", "pia@helix.example"),
            "agent": add_member(app, tenant_id, "agent", "Ray Agent", "ray@helix.example")}


@pytest.mark.parametrize("event", ALERTS)
def test_a_programmes_phi_safe_alert_carries_the_external_id_and_nothing_else_personal(app, clock, event):
    programme = _programme(app)
    rows = _through_the_service(app, event, _prepare(app, programme, event, breach_target=programme["manager"]))
    assert rows, f"{event} sent nothing"
    for row in rows:
        whole = " ".join(str(value) for value in row)
        for detail in PERSONAL:
            assert detail not in whole, (event, detail)
        if event in NOT_ABOUT_THE_PATIENT:
            assert PATIENT["external_id"] not in whole
            continue
        assert f"Identifier: {PATIENT['external_id']}" in whole, event
        assert "no patient details other than the identifier" in whole
        assert "Why it opened: A Detractor score" in whole and "Score 2" not in whole


@pytest.mark.parametrize("event", ALERTS)
def test_with_the_external_id_not_allowed_a_phi_safe_alert_carries_no_identifier(app, org, clock, event):
    set_sla(app, org["tenant_id"], phi_safe_alerts=True)  # a billing company: the external id is off
    rows = _through_the_service(app, event, _prepare(app, org, event, breach_target=org["manager"]))
    assert rows
    for row in rows:
        whole = " ".join(str(value) for value in row)
        assert PATIENT["external_id"] not in whole and "Identifier:" not in whole, event


def test_with_phi_safe_alerts_off_the_external_id_switch_changes_nothing(app, org, clock):
    """Off, alerts carry the contact's details anyway; the switch only widens what PHI-safe alerts carry."""
    set_sla(app, org["tenant_id"], phi_safe_alerts=False, alert_external_id=True)
    rows = _through_the_service(app, "ticket_closed", _prepare(app, org, "ticket_closed", breach_target=org["admin"]))
    assert any(PATIENT["name"] in " ".join(map(str, row)) for row in rows)


def test_the_phi_safe_rule_keeps_the_external_id_only_when_allowed_and_states_why_without_the_answers():
    values = {"ticket.reference": "D-0007", "contact.name": "Zanzibar Quillfeather", "contact.external_id": "MRN-1",
              "ticket.why": f"{QUESTION} — No", "ticket.why_safe": "A trigger question answered No",
              "ticket.score": "9", "ticket.comment": COMMENT}
    identifiers = ("Zanzibar Quillfeather", EMAIL, None, "MRN-1")
    assert safe_values(values, identifiers) == {
        "ticket.reference": "D-0007", "ticket.why": "A trigger question answered No"}
    assert safe_values(values, identifiers, external_id=True) == {
        "ticket.reference": "D-0007", "ticket.why": "A trigger question answered No", "contact.external_id": "MRN-1"}


def test_a_programmes_alert_for_a_no_answer_says_a_trigger_question_was_answered_no_but_not_which(
        app, client, smtp_sink):
    programme = _programme(app)
    question = make_question(app, programme["tenant_id"], QUESTION, opens_ticket_on_no=True)
    contact_id = make_contact(app, programme["tenant_id"], "Zanzibar Quillfeather", EMAIL,
                              phone=PATIENT["phone"], external_id=PATIENT["external_id"])
    token = make_invitation(app, programme["tenant_id"], contact_id)
    assert client.post(f"/s/{token}", data={"score": "9", "comment": COMMENT, f"q-{question}": "no"}).status_code == 303
    run_jobs(app)
    [alert] = [m for m in smtp_sink.to("pia@helix.example") if m["X-Turnaround-Kind"] == "detractor_alert"]
    whole = "\n".join([str(alert["Subject"]), body_text(alert), body_html(alert)])
    assert "Why it opened: A trigger question answered No" in body_text(alert)
    assert f"Identifier: {PATIENT['external_id']}" in body_text(alert)
    for detail in (*PERSONAL, QUESTION, "prepared", "Score 9", COMMENT):
        assert detail not in whole, detail
