"""Generic webhook: a documented JSON body signed with the Standard Webhooks scheme.

Signing (https://www.standardwebhooks.com/ and its specification,
https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md): each request
carries ``webhook-id`` (unique per message, kept across retries), ``webhook-timestamp`` (Unix seconds) and
``webhook-signature``, a space-separated list of ``v1,<base64 HMAC-SHA256>`` signatures over
``<webhook-id>.<webhook-timestamp>.<raw body>``, keyed with the base64-decoded part of the ``whsec_…`` secret.
A timestamp more than 5 minutes from now is refused, so a captured request cannot be replayed later.

Body (JSON object): ``external_id`` (required, your id for the answer), ``score`` (required, 0–10), ``email``
and/or ``contact_external_id`` (the contact), ``name``, ``comment``, ``answered_at`` (ISO 8601 or Unix
seconds), ``account`` (the account's name, or an object ``{"name": …, "external_id": …}``). Sending the same
``external_id`` again amends the response (a comment added later).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import time

from app.ingestion.answers import ExternalAnswer
from app.integrations.sources.base import BadPayload, BadSignature, Delivery, Keys, json_body, moment, same, score_of, text

KIND = "generic"
RECEIVES = True
CREDENTIALS: list[tuple[str, str]] = []
SETTINGS: list[tuple[str, str, str]] = []
TOLERANCE_SECONDS = 5 * 60


def secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(secret: str, msg_id: str, timestamp: int | str, body: bytes) -> str:
    """The ``webhook-signature`` value for a message (used by tests, the benchmark and outgoing webhooks)."""
    digest = hmac.new(secret_bytes(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(keys: Keys, headers, body: bytes, args) -> None:
    msg_id, timestamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not msg_id or not timestamp or not signatures:
        raise BadSignature("The webhook-id, webhook-timestamp or webhook-signature header is missing.")
    try:
        sent = int(timestamp)
    except ValueError:
        raise BadSignature("The webhook-timestamp header is not a Unix time.") from None
    if abs(time.time() - sent) > TOLERANCE_SECONDS:
        raise BadSignature("The webhook-timestamp is more than 5 minutes from now.")
    expected = sign(keys.signing_secret, msg_id, timestamp, body)
    if not any(same(expected, candidate) for candidate in signatures.split() if candidate.startswith("v1,")):
        raise BadSignature("No webhook-signature matches the body.")


def identify(body: bytes, headers, args) -> Delivery:
    msg_id = text(headers.get("webhook-id"), 200)
    return Delivery(event_id=msg_id, dedupe_key=msg_id)


def answers(keys: Keys, body: str) -> list[ExternalAnswer]:
    data = json_body(body)
    if "score" not in data:
        raise BadPayload("The body has no score.")
    account = data.get("account")
    account_name = account.get("name") if isinstance(account, dict) else account
    account_external_id = account.get("external_id") if isinstance(account, dict) else None
    return [ExternalAnswer(
        source=KIND, external_id=text(data.get("external_id")) or "", score=score_of(data["score"]),
        email=text(data.get("email"), 254), contact_external_id=text(data.get("contact_external_id"), 80),
        name=text(data.get("name"), 120), account_name=text(account_name, 160),
        account_external_id=text(account_external_id, 80), comment=text(data.get("comment"), 5000),
        answered_at=moment(data.get("answered_at")),
    )]
