"""Action-plan templates and root causes: defaults, add, edit and reorder, retire and bring back."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.settings import services
from app.settings.models import ActionPlanTemplate, AuditEntry, RootCause
from app.settings.presets import CLINIC_PLAN
from app.tenancy import tenant_context
from tests.support.data import login
from tests.support.html import text

HTMX = {"HX-Request": "true"}
BILLING_SOP = "Detractor review (billing SOP)"
CLINIC = next(iter(CLINIC_PLAN))
SOP_ITEMS = [
    "Enrollments review", "PCAP corrective action plan", "AR review", "Coding review", "Denial/rejection review",
    "Training — customer or billing team", "Save / at-risk ticket",
]


def plans_url(org, path: str = "") -> str:
    return f"/t/{org['slug']}/settings/action_plans{path}"


def causes_url(org, path: str = "") -> str:
    return f"/t/{org['slug']}/settings/root_causes{path}"


def templates_of(app, tenant_id: int) -> dict[str, tuple[list[str], bool]]:
    """``{name: (items, retired?)}``."""
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(select(ActionPlanTemplate)).scalars().all()
        result = {t.name: (list(t.items), t.retired_at is not None) for t in rows}
        db.session.remove()
    return result


def causes_of(app, tenant_id: int) -> dict[str, bool]:
    with app.app_context(), tenant_context(tenant_id):
        result = {c.label: c.retired_at is not None for c in db.session.execute(select(RootCause)).scalars()}
        db.session.remove()
    return result


def template_id(app, tenant_id: int, name: str = BILLING_SOP) -> int:
    with app.app_context(), tenant_context(tenant_id):
        return db.session.execute(select(ActionPlanTemplate.id).where(ActionPlanTemplate.name == name)).scalar_one()


def cause_id(app, tenant_id: int, label: str) -> int:
    with app.app_context(), tenant_context(tenant_id):
        return db.session.execute(select(RootCause.id).where(RootCause.label == label)).scalar_one()


def audit_changes(app, tenant_id: int, area: str) -> list[tuple[str, dict]]:
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(select(AuditEntry).where(AuditEntry.area == area).order_by(AuditEntry.id)).scalars()
        result = [(e.summary, dict(e.changes)) for e in rows]
        db.session.remove()
    return result


def error_of(html: str, field_id: str) -> str:
    match = re.search(rf'<small id="{field_id}-error" class="field-error">(.*?)</small>', html, re.S)
    assert match, f"no error next to {field_id}"
    return match.group(1)


def test_a_new_organisation_starts_with_the_billing_sop_template_and_root_causes(app, client, org):
    assert templates_of(app, org["tenant_id"]) == {BILLING_SOP: (SOP_ITEMS, False)}
    assert "Billing errors" in causes_of(app, org["tenant_id"])
    login(client, app, org["admin"])
    html = client.get(plans_url(org)).get_data(as_text=True)
    assert BILLING_SOP in html and "PCAP corrective action plan" in text(html)


def test_admin_adds_a_template_with_one_item_per_line(app, client, org):
    login(client, app, org["admin"])
    response = client.post(plans_url(org), data={"new-name": "Clinic callback",
                                                  "new-items": "Call the patient\r\n\r\n  Review the visit  \nSend a summary"})
    assert response.status_code == 303
    assert templates_of(app, org["tenant_id"])["Clinic callback"] == (
        ["Call the patient", "Review the visit", "Send a summary"], False)
    assert audit_changes(app, org["tenant_id"], "action_plans") == [(
        "Added action-plan template Clinic callback",
        {"name": [None, "Clinic callback"], "items": [None, ["Call the patient", "Review the visit", "Send a summary"]]},
    )]


def test_editing_a_template_renames_and_reorders_its_items(app, client, org):
    plan = template_id(app, org["tenant_id"])
    reordered = ["AR review", "Enrollments review", "Coding review"]
    login(client, app, org["admin"])
    response = client.post(plans_url(org, f"/{plan}"), headers=HTMX,
                           data={f"plan-{plan}-name": "Billing review", f"plan-{plan}-items": "\n".join(reordered)})
    assert response.status_code == 200
    assert "Saved the action-plan template Billing review." in response.get_data(as_text=True)
    assert templates_of(app, org["tenant_id"]) == {"Billing review": (reordered, False)}
    [(summary, changes)] = audit_changes(app, org["tenant_id"], "action_plans")
    assert changes == {"name": [BILLING_SOP, "Billing review"], "items": [SOP_ITEMS, reordered]}


def test_a_template_needs_a_unique_name_and_at_least_one_item(app, client, org):
    login(client, app, org["admin"])
    response = client.post(plans_url(org), data={"new-name": "detractor review (BILLING SOP)", "new-items": "One"})
    assert response.status_code == 422
    assert error_of(response.get_data(as_text=True), "new-name") == "There is already a template with this name."
    response = client.post(plans_url(org), data={"new-name": "Empty", "new-items": " \n \n"})
    assert response.status_code == 422
    assert error_of(response.get_data(as_text=True), "new-items") == "Enter at least one checklist item."
    response = client.post(plans_url(org), data={"new-name": "Twice", "new-items": "AR review\nar review"})
    assert response.status_code == 422
    assert "is listed twice" in error_of(response.get_data(as_text=True), "new-items")
    assert list(templates_of(app, org["tenant_id"])) == [BILLING_SOP]
    assert audit_changes(app, org["tenant_id"], "action_plans") == []


def test_a_failed_edit_reopens_that_template_with_the_message_and_saves_nothing(app, client, org):
    plan = template_id(app, org["tenant_id"])
    login(client, app, org["admin"])
    long_item = "x" * 201
    response = client.post(plans_url(org, f"/{plan}"), headers=HTMX,
                           data={f"plan-{plan}-name": "Renamed", f"plan-{plan}-items": long_item})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Keep each item under 200 characters" in error_of(html, f"plan-{plan}-items")
    assert "<details open>" in html
    assert templates_of(app, org["tenant_id"]) == {BILLING_SOP: (SOP_ITEMS, False)}


def test_retired_templates_are_not_offered_and_can_be_brought_back(app, client, org):
    plan = template_id(app, org["tenant_id"])
    login(client, app, org["admin"])
    assert client.post(plans_url(org, f"/{plan}/retire")).status_code == 303
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert services.active_action_plan_templates() == []
    assert "Bring back " + BILLING_SOP in client.get(plans_url(org)).get_data(as_text=True)
    assert client.post(plans_url(org, f"/{plan}/restore")).status_code == 303
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert [t.name for t in services.active_action_plan_templates()] == [BILLING_SOP]
    assert [s for s, _ in audit_changes(app, org["tenant_id"], "action_plans")] == [
        f"Retired action-plan template {BILLING_SOP}", f"Brought back action-plan template {BILLING_SOP}"]


def test_admin_adds_renames_and_retires_root_causes_with_audit_entries(app, client, org):
    login(client, app, org["admin"])
    assert client.post(causes_url(org), data={"new-label": "Eligibility"}).status_code == 303
    eligibility = cause_id(app, org["tenant_id"], "Eligibility")
    response = client.post(causes_url(org, f"/{eligibility}/rename"), data={f"cause-{eligibility}-label": "Eligibility checks"})
    assert response.status_code == 303
    staff = cause_id(app, org["tenant_id"], "Staff")
    assert client.post(causes_url(org, f"/{staff}/retire"), headers=HTMX).status_code == 200
    causes = causes_of(app, org["tenant_id"])
    assert causes["Eligibility checks"] is False and causes["Staff"] is True
    with app.app_context(), tenant_context(org["tenant_id"]):
        active = [c.label for c in services.active_root_causes()]
    assert "Staff" not in active and "Eligibility checks" in active
    assert audit_changes(app, org["tenant_id"], "root_causes") == [
        ("Added root cause Eligibility", {"label": [None, "Eligibility"]}),
        ("Renamed root cause Eligibility to Eligibility checks", {"label": ["Eligibility", "Eligibility checks"]}),
        ("Retired root cause Staff", {"retired": [False, True]}),
    ]
    assert client.post(causes_url(org, f"/{staff}/restore")).status_code == 303
    assert causes_of(app, org["tenant_id"])["Staff"] is False


def test_duplicate_or_blank_root_causes_are_refused_next_to_the_field(app, client, org):
    login(client, app, org["admin"])
    response = client.post(causes_url(org), data={"new-label": "billing ERRORS"})
    assert response.status_code == 422
    assert error_of(response.get_data(as_text=True), "new-label") == "There is already a root cause with this name."
    cost = cause_id(app, org["tenant_id"], "Cost")
    response = client.post(causes_url(org, f"/{cost}/rename"), data={f"cause-{cost}-label": " "}, headers=HTMX)
    assert response.status_code == 422
    assert error_of(response.get_data(as_text=True), f"cause-{cost}-label") == "Enter the root cause."
    assert "Cost" in causes_of(app, org["tenant_id"]) and "billing ERRORS" not in causes_of(app, org["tenant_id"])
    assert audit_changes(app, org["tenant_id"], "root_causes") == []


def test_manager_may_look_but_not_change_templates_or_root_causes(app, client, org):
    login(client, app, org["manager"])
    plans = client.get(plans_url(org))
    causes = client.get(causes_url(org))
    assert plans.status_code == 200 and causes.status_code == 200
    assert "Add template" not in plans.get_data(as_text=True) and "Add root cause" not in causes.get_data(as_text=True)
    plan = template_id(app, org["tenant_id"])
    staff = cause_id(app, org["tenant_id"], "Staff")
    assert client.post(plans_url(org), data={"new-name": "X", "new-items": "Y"}).status_code == 403
    assert client.post(plans_url(org, f"/{plan}/retire")).status_code == 403
    assert client.post(causes_url(org), data={"new-label": "X"}).status_code == 403
    assert client.post(causes_url(org, f"/{staff}/retire")).status_code == 403
    assert templates_of(app, org["tenant_id"]) == {BILLING_SOP: (SOP_ITEMS, False)}
    assert causes_of(app, org["tenant_id"])["Staff"] is False


def test_agent_may_not_open_action_plan_or_root_cause_settings(app, client, org):
    login(client, app, org["agent"])
    assert client.get(plans_url(org)).status_code == 403
    assert client.get(causes_url(org)).status_code == 403


def test_another_organisations_templates_and_root_causes_are_untouched(app, client, org, other_org):
    other_plan = template_id(app, other_org["tenant_id"], CLINIC)  # organisation B is a clinic
    other_cost = cause_id(app, other_org["tenant_id"], "Cost")
    login(client, app, org["admin"])
    client.post(plans_url(org, f"/{template_id(app, org['tenant_id'])}/retire"))
    client.post(causes_url(org), data={"new-label": "Only in Acme"})
    assert client.post(plans_url(org, f"/{other_plan}/retire")).status_code == 404
    assert client.post(plans_url(org, f"/{other_plan}"), data={f"plan-{other_plan}-name": "Mine"}).status_code == 404
    assert client.post(causes_url(org, f"/{other_cost}/retire")).status_code == 404
    assert templates_of(app, other_org["tenant_id"]) == {CLINIC: (list(CLINIC_PLAN[CLINIC]), False)}
    assert "Only in Acme" not in causes_of(app, other_org["tenant_id"])
    assert not any(causes_of(app, other_org["tenant_id"]).values())
    assert audit_changes(app, other_org["tenant_id"], "action_plans") == []
