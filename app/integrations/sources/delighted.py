"""Delighted: ``survey_response.created`` and ``survey_response.updated`` webhooks.

Documentation: https://app.delighted.com/docs/api/webhooks — every webhook is a JSON POST with
``event_type``, ``event_id`` and ``event_data`` (the survey response: ``id``, ``score``, ``comment``,
``person`` with ``email`` and ``name``, ``person_properties``, ``created_at``). The comment usually arrives
only in a later ``survey_response.updated``, which amends the same response (the response's ``id`` is its
external id); a repeated ``event_id`` is a duplicate. Each request carries ``X-Delighted-Webhook-Signature:
sha256=<hex HMAC-SHA256 of the raw body>``, keyed with the account's private API key, which the admin stores
in the integration (encrypted).
"""
from __future__ import annotations

import hashlib
import hmac

from app.ingestion.answers import ExternalAnswer
from app.integrations.sources.base import BadPayload, BadSignature, Delivery, Keys, json_body, moment, same, score_of, text

KIND = "delighted"
RECEIVES = True
CREDENTIALS = [("api_key", "Delighted private API key (signs the webhooks)")]
SETTINGS: list[tuple[str, str, str]] = []
EVENTS = ("survey_response.created", "survey_response.updated")
ACCOUNT_PROPERTIES = ("Company", "company", "Account", "account", "Practice")


def sign(api_key: str, body: bytes) -> str:
    return "sha256=" + hmac.new(api_key.encode(), body, hashlib.sha256).hexdigest()


def verify(keys: Keys, headers, body: bytes, args) -> None:
    api_key = keys.credentials.get("api_key")
    given = headers.get("X-Delighted-Webhook-Signature", "")
    if not api_key or not given:
        raise BadSignature("The X-Delighted-Webhook-Signature header is missing.")
    if not same(sign(api_key, body), given.strip()):
        raise BadSignature("The X-Delighted-Webhook-Signature does not match the body.")


def identify(body: bytes, headers, args) -> Delivery:
    data = json_body(body)
    event_id = text(data.get("event_id"))
    if not event_id:
        raise BadPayload("The webhook has no event_id.")
    return Delivery(event_id=event_id, dedupe_key=event_id, relevant=data.get("event_type") in EVENTS)


def answers(keys: Keys, body: str) -> list[ExternalAnswer]:
    data = json_body(body)
    response = data.get("event_data")
    if not isinstance(response, dict) or "score" not in response:
        raise BadPayload("The webhook's event_data is not a survey response.")
    person = response.get("person") if isinstance(response.get("person"), dict) else {}
    properties = response.get("person_properties") if isinstance(response.get("person_properties"), dict) else {}
    account = next((properties[name] for name in ACCOUNT_PROPERTIES if properties.get(name)), None)
    return [ExternalAnswer(
        source=KIND, external_id=text(response.get("id")) or "", score=score_of(response.get("score")),
        email=text(person.get("email"), 254), name=text(person.get("name"), 120), account_name=text(account, 160),
        comment=text(response.get("comment"), 5000), answered_at=moment(response.get("created_at")),
    )]
