"""Typeform: ``form_response`` webhooks.

Documentation: https://www.typeform.com/developers/webhooks/secure-your-webhooks/ (signature) and
https://www.typeform.com/developers/webhooks/example-payload/ (payload). The admin pastes the integration's
signing secret into the webhook's Secret in Typeform; each request then carries ``Typeform-Signature:
sha256=<base64 HMAC-SHA256 of the raw body>``. The payload's ``form_response`` has ``token`` (the response's
id), ``submitted_at``, ``hidden`` fields and ``answers``, each naming its question by ``field.ref``: the
organisation chooses which opinion-scale field is the NPS question and which field is the comment, by ref.
The respondent's email comes from an email-type answer, else the hidden field ``email``; ``name`` and
``account`` (or ``company``) hidden fields name the contact and account.
"""
from __future__ import annotations

import base64
import hashlib
import hmac

from app.ingestion.answers import ExternalAnswer
from app.integrations.sources.base import BadPayload, BadSignature, Delivery, Keys, json_body, moment, same, score_of, text

KIND = "typeform"
RECEIVES = True
CREDENTIALS: list[tuple[str, str]] = []
SETTINGS = [("score_ref", "Ref of the NPS (opinion scale) field", ""),
            ("comment_ref", "Ref of the comment field", "")]


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify(keys: Keys, headers, body: bytes, args) -> None:
    given = headers.get("Typeform-Signature", "")
    if not given:
        raise BadSignature("The Typeform-Signature header is missing.")
    if not same(sign(keys.signing_secret, body), given.strip()):
        raise BadSignature("The Typeform-Signature does not match the body.")


def identify(body: bytes, headers, args) -> Delivery:
    data = json_body(body)
    event_id = text(data.get("event_id"))
    if not event_id:
        raise BadPayload("The webhook has no event_id.")
    return Delivery(event_id=event_id, dedupe_key=event_id, relevant=data.get("event_type") == "form_response")


def _value(answer: dict):
    kind = answer.get("type")
    if kind in answer:
        value = answer[kind]
        if isinstance(value, dict):  # a choice
            return value.get("label")
        return value
    return None


def answers(keys: Keys, body: str) -> list[ExternalAnswer]:
    response = json_body(body).get("form_response")
    if not isinstance(response, dict):
        raise BadPayload("The webhook has no form_response.")
    score_ref, comment_ref = keys.settings.get("score_ref"), keys.settings.get("comment_ref")
    if not score_ref:
        raise BadPayload("Choose the NPS field's ref in the integration's settings.")
    by_ref, email = {}, None
    for answer in response.get("answers") or []:
        if not isinstance(answer, dict):
            continue
        ref = (answer.get("field") or {}).get("ref")
        by_ref[ref] = _value(answer)
        if answer.get("type") == "email" and not email:
            email = answer.get("email")
    if by_ref.get(score_ref) is None:
        raise BadPayload(f"The response has no answer to the field with ref {score_ref!r}.")
    hidden = response.get("hidden") if isinstance(response.get("hidden"), dict) else {}
    return [ExternalAnswer(
        source=KIND, external_id=text(response.get("token")) or "", score=score_of(by_ref[score_ref]),
        email=text(email or hidden.get("email"), 254), contact_external_id=text(hidden.get("external_id"), 80),
        name=text(hidden.get("name"), 120), account_name=text(hidden.get("account") or hidden.get("company"), 160),
        comment=text(by_ref.get(comment_ref), 5000) if comment_ref else None,
        answered_at=moment(response.get("submitted_at")),
    )]
