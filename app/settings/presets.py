"""What a new organisation starts with, by its kind, as the domain documents describe the work.

* **Billing company** (and any other kind): the billing SOP — two calls and a personal email after the
  introduction, and the SOP's action plan (enrollments, PCAP, AR, coding, denial reviews, training, save / at
  risk).
* **Clinic**: the PT clinic's detractor workflow — one email to the patient, and no chasing of patients who do
  not answer it ("We do not recommend following up with patients who do not respond to the initial
  request"), a clinic action plan, and PHI-safe alerts (the alerts go to admins by email).
* **Patient-support programme**: PHI-safe alerts that carry the patient's opaque identifier and nothing else
  personal ("a unique patient identifier is the only information shared"), and a follow-up plan.

Every value here is only a starting point: admins change each one in the settings.
"""
from __future__ import annotations

from dataclasses import dataclass, field

BILLING_SOP_PLAN = {
    "Detractor review (billing SOP)": (
        "Enrollments review",
        "PCAP corrective action plan",
        "AR review",
        "Coding review",
        "Denial/rejection review",
        "Training — customer or billing team",
        "Save / at-risk ticket",
    ),
}
CLINIC_PLAN = {
    "Patient follow-up (clinic)": (
        "Review with the treating therapist",
        "Scheduling issue",
        "Billing question",
        "Front-desk experience",
        "Share what was learned with the clinic team",
    ),
}
PROGRAMME_PLAN = {
    "Patient follow-up (patient support)": (
        "Call the patient to learn what is missing",
        "Resolve access, coverage or delivery questions",
        "Bring in the HUB partner or the right specialist",
        "Confirm the patient feels prepared to begin treatment",
    ),
}


@dataclass(frozen=True)
class Preset:
    """Workflow settings (column name → value) and action-plan templates (name → items) for one kind."""

    settings: dict = field(default_factory=dict)
    action_plans: dict = field(default_factory=lambda: dict(BILLING_SOP_PLAN))


PRESETS: dict[str, Preset] = {
    "billing": Preset(),
    "clinic": Preset(
        settings={"call_attempts": 0, "email_attempts": 1, "stop_after_cadence": True, "phi_safe_alerts": True},
        action_plans=dict(CLINIC_PLAN),
    ),
    "programme": Preset(
        settings={"phi_safe_alerts": True, "alert_external_id": True},
        action_plans=dict(PROGRAMME_PLAN),
    ),
    "other": Preset(),
}


def preset(kind: str | None) -> Preset:
    """The preset of an organisation kind (the billing SOP's for a kind without one)."""
    return PRESETS.get(kind or "", PRESETS["billing"])
