"""HubSpot: NPS feedback submissions, read by a poller with a private-app token.

Documentation: https://developers.hubspot.com/docs/api/crm/feedback-submissions (survey responses: read-only,
``hs_survey_type`` NPS, ``hs_value`` the score, ``hs_content`` the comment, ``hs_createdate``) and the CRM
search, associations (v4) and batch-read endpoints. Each poll asks ``POST
/crm/v3/objects/feedback_submissions/search`` for NPS submissions created at or after the stored cursor, in
creation order, 100 at a time; reads their contacts through ``POST
/crm/v4/associations/feedback_submissions/contacts/batch/read`` and ``POST
/crm/v3/objects/contacts/batch/read``, and the contacts' companies through ``POST
/crm/v3/objects/companies/batch/read``. The cursor moves to the last creation time read, in the same
transaction as what was recorded; submissions at the cursor's own time are read again and skipped by their
id, so nothing is recorded twice or missed.
"""
from __future__ import annotations

from typing import Iterable

from app.ingestion.answers import ExternalAnswer
from app.integrations.sources import http
from app.integrations.sources.base import BadSignature, Keys, moment, score_of, text

KIND = "hubspot"
RECEIVES = False
CREDENTIALS = [("access_token", "Private app access token")]
SETTINGS = [("api_base_url", "API base URL", "https://api.hubapi.com")]
PAGE_SIZE = 100
PROPERTIES = ["hs_value", "hs_content", "hs_survey_type", "hs_createdate", "hs_submission_timestamp"]


def verify(keys: Keys, headers, body: bytes, args) -> None:
    raise BadSignature("HubSpot is read by polling; it has no receiving URL.")


def _call(keys: Keys, path: str, body: dict) -> dict:
    base = keys.settings.get("api_base_url") or "https://api.hubapi.com"
    return http.call("POST", base, path, body=body,
                     headers={"Authorization": f"Bearer {keys.credentials.get('access_token', '')}"})


def search_page(keys: Keys, since_ms: int, after: str | None) -> tuple[list[dict], str | None]:
    """One page of NPS submissions created at or after ``since_ms``, oldest first, and the next page's token."""
    body = {
        "filterGroups": [{"filters": [
            {"propertyName": "hs_survey_type", "operator": "EQ", "value": "NPS"},
            {"propertyName": "hs_createdate", "operator": "GTE", "value": str(since_ms)},
        ]}],
        "sorts": [{"propertyName": "hs_createdate", "direction": "ASCENDING"}],
        "properties": PROPERTIES, "limit": PAGE_SIZE,
    }
    if after:
        body["after"] = after
    answer = _call(keys, "/crm/v3/objects/feedback_submissions/search", body)
    following = ((answer.get("paging") or {}).get("next") or {}).get("after")
    return [row for row in answer.get("results") or [] if isinstance(row, dict)], following


def _batch_read(keys: Keys, object_type: str, ids: Iterable[str], properties: list[str]) -> dict[str, dict]:
    ids = sorted(set(ids))
    if not ids:
        return {}
    answer = _call(keys, f"/crm/v3/objects/{object_type}/batch/read",
                   {"inputs": [{"id": i} for i in ids], "properties": properties})
    return {str(row.get("id")): row.get("properties") or {} for row in answer.get("results") or []}


def contacts_of(keys: Keys, submission_ids: list[str]) -> dict[str, dict]:
    """Each submission's contact properties (with ``company_name``), by submission id: three calls per page."""
    if not submission_ids:
        return {}
    links = _call(keys, "/crm/v4/associations/feedback_submissions/contacts/batch/read",
                  {"inputs": [{"id": i} for i in submission_ids]})
    contact_of = {}
    for row in links.get("results") or []:
        targets = row.get("to") or []
        if targets:
            contact_of[str((row.get("from") or {}).get("id"))] = str(targets[0].get("toObjectId"))
    contacts = _batch_read(keys, "contacts", contact_of.values(),
                           ["email", "firstname", "lastname", "associatedcompanyid"])
    companies = _batch_read(keys, "companies", (c.get("associatedcompanyid") for c in contacts.values()
                                                if c.get("associatedcompanyid")), ["name"])
    found = {}
    for submission_id, contact_id in contact_of.items():
        contact = dict(contacts.get(contact_id) or {})
        contact["company_name"] = (companies.get(str(contact.get("associatedcompanyid"))) or {}).get("name")
        found[submission_id] = contact
    return found


def created_ms(submission: dict) -> int:
    value = moment((submission.get("properties") or {}).get("hs_createdate") or submission.get("createdAt"))
    return int(value.timestamp() * 1000) if value else 0


def answer_of(submission: dict, contact: dict | None) -> ExternalAnswer:
    properties = submission.get("properties") or {}
    contact = contact or {}
    name = " ".join(part for part in (contact.get("firstname"), contact.get("lastname")) if part)
    return ExternalAnswer(
        source=KIND, external_id=text(submission.get("id")) or "", score=score_of(properties.get("hs_value")),
        email=text(contact.get("email"), 254), name=text(name, 120), account_name=text(contact.get("company_name"), 160),
        comment=text(properties.get("hs_content"), 5000),
        answered_at=moment(properties.get("hs_submission_timestamp") or properties.get("hs_createdate")),
    )
