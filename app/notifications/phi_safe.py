"""What a PHI-safe message may carry: the one rule, applied to every event's merge values before rendering.

An organisation with PHI-safe alerts on (clinics and patient-support programmes start with them on) gets
notices that name the ticket, never the patient. Every event builds its full merge values; for such an
organisation they pass through :func:`safe_values` first, so a template, fixed or edited, can only show what
is left. An allow-list, so a merge field a later event adds stays out of PHI-safe mail until it is named here.

Two things are decided here beyond the allow-list:

* **The contact's external id** (``contact.external_id``) stays only when the organisation allows it
  (``WorkflowSettings.alert_external_id``; on for patient-support programmes): the patient-support document's
  alert shares "a unique patient identifier" and nothing else, an opaque id the team looks up after signing in.
* **Why the ticket opened** (``ticket.why``) is said without the patient's answers: the band the alert already
  carries ("A Detractor score"), or that a trigger question was answered No, never the score, nor which
  question (its wording may say what the patient is treated for). The alert being sent already says that much.
"""
from __future__ import annotations

import re
from typing import Iterable, Mapping

# Fields that identify the ticket, the organisation and its times, never the contact. The band, not the score:
# the PT clinic's alert says a patient is a detractor, not what they answered.
SAFE_FIELDS = frozenset({
    "organisation", "ticket.reference", "ticket.band", "ticket.due", "ticket.due_label",
    "ticket.link", "ticket.outcome", "ticket.previous_assignee", "task.due", "item.due", "item.owner",
    "item.team_owned", "sla.when", "sla.breached_at", "workload.link",
    # The organisation's open tickets, working members and threshold: counts only.
    "backlog.open", "backlog.members", "backlog.per_member", "backlog.threshold",
    # The weekly digest: counts, ticket references and statuses, root-cause labels, never a contact.
    "digest.period", "digest.week", "digest.nps", "digest.nps_change", "digest.responses", "digest.bands",
    "digest.new_detractors", "digest.new_detractors_total", "digest.breaching", "digest.breaching_total",
    "digest.root_causes", "digest.recovery", "digest.link",
})
# Namespaces that hold only the organisation's own people (assignee, actor, recipient).
SAFE_NAMESPACES = ("agent.", "actor.", "recipient.", "reassigned.")
# Text the team writes (a task or item title) may name the contact: it is kept with the contact's name,
# email, phone and identifier replaced.
SCRUBBED_FIELDS = frozenset({"task.title", "item.title"})
CONTACT_STAND_IN = "the contact"
# Shorter values (an initial, "Al") would blank out ordinary words.
MIN_IDENTIFIER_LENGTH = 3
# The contact's opaque identifier, kept only when the organisation allows it.
EXTERNAL_ID = "contact.external_id"
# Fields whose PHI-safe value is the PHI-safe wording the event gives in another field.
STAND_INS = {"ticket.why": "ticket.why_safe"}


def opened_because(trigger: str, band_label: str) -> str:
    """Why a ticket opened, as a PHI-safe message may say it (the full wording is
    :func:`app.tickets.models.opened_because`)."""
    if trigger == "question":
        return "A trigger question answered No"
    return f"A {band_label} score"


def is_safe(field: str) -> bool:
    return field in SAFE_FIELDS or field in SCRUBBED_FIELDS or field.startswith(SAFE_NAMESPACES)


def scrub(text: str, identifiers: Iterable[str | None]) -> str:
    """``text`` with each of the contact's identifiers replaced, whatever its case."""
    for value in identifiers:
        if value and len(value.strip()) >= MIN_IDENTIFIER_LENGTH:
            text = re.sub(re.escape(value.strip()), CONTACT_STAND_IN, text, flags=re.IGNORECASE)
    return text


def safe_values(values: Mapping[str, str], identifiers: Iterable[str | None], *,
                external_id: bool = False) -> dict[str, str]:
    """The merge values a PHI-safe message may carry; ``identifiers`` are the contact's (name, email, …).
    ``external_id``: the organisation lets PHI-safe alerts carry the contact's external id."""
    identifiers = list(identifiers)
    safe = {field: scrub(value, identifiers) if field in SCRUBBED_FIELDS else value
            for field, value in values.items() if is_safe(field)}
    for field, stand_in in STAND_INS.items():
        if field in values:
            safe[field] = values.get(stand_in, "")
    if external_id and values.get(EXTERNAL_ID):
        safe[EXTERNAL_ID] = values[EXTERNAL_ID]
    return safe
