"""What a PHI-safe message may carry: the one rule, applied to every event's merge values before rendering.

An organisation with PHI-safe alerts on (clinics start with them on) gets notices that name the ticket, never
the patient. Every event builds its full merge values; for such an organisation they pass through
:func:`safe_values` first, so a template, fixed or edited, can only show what is left. An allow-list, so a
merge field a later event adds stays out of PHI-safe mail until it is named here.
"""
from __future__ import annotations

import re
from typing import Iterable, Mapping

# Fields that identify the ticket, the organisation and its times, never the contact.
SAFE_FIELDS = frozenset({
    "organisation", "ticket.reference", "ticket.band", "ticket.score", "ticket.due", "ticket.due_label",
    "ticket.link", "ticket.outcome", "ticket.previous_assignee", "task.due", "item.due", "item.owner",
    "item.team_owned", "sla.when", "sla.breached_at",
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


def is_safe(field: str) -> bool:
    return field in SAFE_FIELDS or field in SCRUBBED_FIELDS or field.startswith(SAFE_NAMESPACES)


def scrub(text: str, identifiers: Iterable[str | None]) -> str:
    """``text`` with each of the contact's identifiers replaced, whatever its case."""
    for value in identifiers:
        if value and len(value.strip()) >= MIN_IDENTIFIER_LENGTH:
            text = re.sub(re.escape(value.strip()), CONTACT_STAND_IN, text, flags=re.IGNORECASE)
    return text


def safe_values(values: Mapping[str, str], identifiers: Iterable[str | None]) -> dict[str, str]:
    """The merge values a PHI-safe message may carry; ``identifiers`` are the contact's (name, email, …)."""
    identifiers = list(identifiers)
    return {field: scrub(value, identifiers) if field in SCRUBBED_FIELDS else value
            for field, value in values.items() if is_safe(field)}
