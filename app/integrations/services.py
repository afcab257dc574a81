"""Integrations: connecting a source, receiving its deliveries, processing them with a job, polling HubSpot.

The receiving request only verifies and stores (:func:`receive`): a verified delivery is one row, unique per
(integration, vendor event id), whose job is queued after commit, so the vendor is answered in milliseconds.
The job (:func:`process_delivery`) claims the row with a conditional UPDATE, lets the vendor module turn it
into answers (fetching from the vendor's API where the callback carries only ids, retried with backoff) and
records them through the one ingestion service, :func:`app.ingestion.answers.record_external_answer`. The
sweep (:func:`sweep`) hands over deliveries whose job was lost or whose retry is due, starts HubSpot polls
that are due, and deletes log rows older than 30 days.
"""
from __future__ import annotations

import base64
import ipaddress
import json
import logging
import secrets
import sys
from datetime import timedelta
from typing import Any, Mapping
from urllib.parse import urlencode, urlsplit

from flask import current_app
from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from app import audit
from app.extensions import db
from app.ingestion.answers import InvalidAnswer, UnmatchedContact, record_external_answer, record_external_answers
from app.integrations import crypto
from app.integrations.models import KINDS, Integration, IntegrationDelivery
from app.integrations.sources import SOURCES, BadPayload, BadSignature, FetchFailed, Keys
from app.integrations.sources import hubspot
from app.jobs import (
    JobSpec, QUEUE_DEFAULT, enqueue_after_commit, enqueue_now, enqueue_once_after_commit, job, started_once,
)
from app.rules import RuleError
from app.tenancy import tenant_context, unscoped
from app.timeutil import utcnow
from app.urls import absolute_url

log = logging.getLogger(__name__)

PAYLOAD_LIMIT = 256 * 1024  # bytes of a request kept in the log (and the most a receiving URL accepts)
REFUSED_PAYLOAD_LIMIT = 16 * 1024
KEEP_DAYS = 30
PICKUP_SECONDS = 60  # a fresh delivery whose job has not claimed it by then is handed over again by the sweep
MAX_ATTEMPTS = 6
RETRY_SECONDS = 30  # doubles with each attempt
POLL_PAGES = 20
SWEEP_BATCH = 500
BATCH = 200  # deliveries worked through in one transaction, for sources whose payload holds the answer
BATCHED_KINDS = ("generic", "delighted", "typeform")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_signing_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def credential_fields(kind: str) -> list[tuple[str, str]]:
    return list(SOURCES[kind].CREDENTIALS)


def setting_fields(kind: str) -> list[tuple[str, str, str]]:
    return list(SOURCES[kind].SETTINGS)


def _allow_local() -> bool:
    return bool(current_app.config.get("INTEGRATIONS_ALLOW_LOCAL_API"))


def base_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a vendor API base URL: it must be https to a public host name (loopback and
    private addresses are refused unless the instance allows them, for tests and local fakes)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        return "Enter the API's base URL, like https://api.example.com."
    if _allow_local():
        return None
    if parts.scheme != "https":
        return "The API's base URL must start with https://."
    host = parts.hostname
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if host == "localhost" or host.endswith(".localhost") or (address is not None and not address.is_global):
        return "The API's base URL must be a public address."
    return None


NAME_MAX = 120
CREDENTIAL_MAX = 500
SETTING_MAX = 300


def _clean_name(name: str | None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise RuleError("Give the integration a name.", "name")
    if len(name) > NAME_MAX:
        raise RuleError(f"Keep the name under {NAME_MAX} characters.", "name")
    return name


def _refuse_unknown(kind: str, values: Mapping[str, Any], known: list[str], what: str) -> None:
    unknown = sorted(str(key) for key in values if key not in known)
    if unknown:
        listed = ", ".join(known) or "none"
        raise RuleError(f"{KINDS[kind]} has no {what[:-1]} named “{unknown[0]}” (it has: {listed}).",
                        f"{what}.{unknown[0]}")


def _clean_credentials(kind: str, values: Mapping[str, Any]) -> dict[str, str]:
    """The credentials typed, stripped (blank ones left out). Errors name fields ``credentials.<name>``."""
    known = [name for name, _label in credential_fields(kind)]
    _refuse_unknown(kind, values, known, "credentials")
    given = {key: str(value or "").strip() for key, value in values.items()}
    too_long = {f"credentials.{key}": f"Keep it under {CREDENTIAL_MAX} characters."
                for key, value in given.items() if len(value) > CREDENTIAL_MAX}
    if too_long:
        raise RuleError.on_fields(too_long)
    return {key: value for key, value in given.items() if value}


def _clean_settings(kind: str, values: Mapping[str, Any]) -> dict[str, str]:
    """Every setting of ``kind`` (a blank one takes its default). Errors name fields ``settings.<name>``."""
    _refuse_unknown(kind, values, [name for name, _label, _default in setting_fields(kind)], "settings")
    settings, errors = {}, {}
    for name, label, default in setting_fields(kind):
        value = str(values.get(name) or "").strip() or default
        if len(value) > SETTING_MAX:
            errors[f"settings.{name}"] = f"Keep it under {SETTING_MAX} characters."
        elif name == "api_base_url" and value and (problem := base_url_problem(value)):
            errors[f"settings.{name}"] = problem
        settings[name] = value
    if errors:
        raise RuleError.on_fields(errors)
    return settings


def create_integration(*, kind: str, name: str, credentials: Mapping[str, str] | None = None,
                       settings: Mapping[str, Any] | None = None) -> Integration:
    """Connect a source: a new receiving URL token and signing secret, the credentials encrypted. Settings →
    Integrations and ``POST /api/v1/integrations`` both connect through here. A credential or setting the
    kind does not have, or one too long, is refused (``RuleError`` naming ``credentials.<name>`` or
    ``settings.<name>``)."""
    if kind not in KINDS:
        raise RuleError("Choose one of the sources listed.", "kind")
    name = _clean_name(name)
    given = _clean_credentials(kind, credentials or {})
    integration = Integration(kind=kind, name=name, token=new_token(),
                              signing_secret=crypto.encrypt(new_signing_secret()),
                              credentials=crypto.encrypt_json(given), settings=_clean_settings(kind, settings or {}))
    db.session.add(integration)
    db.session.flush()
    audit.record("integrations", f"Integration connected: {integration.kind_label} “{integration.name}”",
                 {"name": [None, integration.name], "kind": [None, kind],
                  "credentials": [None, sorted(given)] if given else [None, []]})
    return integration


def update_integration(integration: Integration, *, name: str, enabled: bool, credentials: Mapping[str, str],
                       settings: Mapping[str, Any]) -> None:
    """Change the name, on/off, settings, and the credentials that were typed (a blank keeps the stored one)."""
    name = _clean_name(name)
    stored = keys_of(integration).credentials
    merged = {**stored, **_clean_credentials(integration.kind, credentials)}
    before = audit.snapshot(integration, ["name", "enabled", "settings"])
    integration.settings = _clean_settings(integration.kind, settings)
    integration.name, integration.enabled = name, bool(enabled)
    integration.credentials = crypto.encrypt_json(merged)
    changes = audit.diff(before, audit.snapshot(integration, ["name", "enabled", "settings"]))
    replaced = sorted(key for key in merged if merged[key] != stored.get(key))
    if replaced:  # which credentials changed, never their values
        changes["credentials"] = ["(stored)", f"replaced: {', '.join(replaced)}"]
    audit.record("integrations", f"Integration changed: {integration.kind_label} “{integration.name}”", changes)


def rotate_secret(integration: Integration) -> None:
    integration.signing_secret = crypto.encrypt(new_signing_secret())
    audit.record("integrations", f"New signing secret: {integration.kind_label} “{integration.name}”")


def delete_integration(integration: Integration) -> None:
    """Remove an integration and its delivery log; the responses it recorded stay."""
    audit.record("integrations", f"Integration removed: {integration.kind_label} “{integration.name}”",
                 {"name": [integration.name, None], "kind": [integration.kind, None]})
    db.session.delete(integration)


def keys_of(integration: Integration) -> Keys:
    return Keys(signing_secret=crypto.decrypt(integration.signing_secret),
                credentials=crypto.decrypt_json(integration.credentials), settings=dict(integration.settings or {}))


def stored_credential_names(integration: Integration) -> set[str]:
    """Which credentials are stored (their values are never shown again)."""
    return {key for key, value in keys_of(integration).credentials.items() if value}


# The kinds whose vendor is given the integration's own signing secret (the others sign with a vendor key
# stored among the credentials, or do not post at all).
SIGNED_WITH_OUR_SECRET = ("generic", "typeform", "qualtrics")


def shows_signing_secret(integration: Integration) -> bool:
    return integration.kind in SIGNED_WITH_OUR_SECRET


def receiving_url(integration: Integration, *, with_key: bool = True) -> str | None:
    """Where the vendor posts (None for a poller). Qualtrics cannot sign, so its URL carries the secret as
    ``?key=``; ``with_key=False`` leaves it out, for a listing that must not show secrets."""
    if not SOURCES[integration.kind].RECEIVES:
        return None
    url = absolute_url("integration_hooks.receive", token=integration.token)
    if integration.kind == "qualtrics" and with_key:
        url += "?" + urlencode({"key": keys_of(integration).signing_secret})
    return url


def find_by_token(token: str) -> Integration | None:
    """The enabled integration whose receiving URL carries ``token``, whichever organisation owns it."""
    if not token or len(token) > 64:
        return None
    return db.session.execute(unscoped(
        select(Integration).where(Integration.token == token, Integration.enabled.is_(True))
    )).scalar_one_or_none()


def _payload_text(body: bytes) -> str:
    return body[:PAYLOAD_LIMIT].decode("utf-8", "replace").replace("\x00", "\ufffd")


def _log(integration: Integration, outcome: str, body: bytes, *, event_id: str | None = None,
         detail: str | None = None) -> IntegrationDelivery:
    # A refused request may come from anyone who has the URL: keep less of it.
    kept = body[:REFUSED_PAYLOAD_LIMIT] if outcome == "bad_signature" else body
    row = IntegrationDelivery(integration_id=integration.id, outcome=outcome, event_id=(event_id or "")[:200] or None,
                              detail=(detail or "")[:300] or None, payload=_payload_text(kept),
                              processed_at=utcnow())
    db.session.add(row)
    return row


def receive(integration: Integration, headers, body: bytes, args) -> tuple[int, str]:
    """Verify and store one request to ``integration``'s receiving URL; ``(HTTP status, outcome)``.

    Runs in the integration's tenant context; the caller commits. Bad or missing signature (or a stale
    timestamp): 401 and a log row, nothing else. A delivery seen before: 200, a "duplicate" log row, nothing
    else. A valid one: stored, its job queued after commit, 200.
    """
    source = SOURCES[integration.kind]
    try:
        source.verify(keys_of(integration), headers, body, args)
    except BadSignature as exc:
        _log(integration, "bad_signature", body, detail=str(exc))
        return 401, "bad_signature"
    except crypto.InvalidToken:
        _log(integration, "error", body, detail="The integration's secrets cannot be read: the encryption key changed.")
        return 500, "error"
    try:
        delivery = source.identify(body, headers, args)
    except BadPayload as exc:
        _log(integration, "error", body, detail=str(exc))
        return 400, "error"
    if not delivery.relevant:
        _log(integration, "ignored", body, event_id=delivery.event_id, detail="Not a response event.")
        return 200, "ignored"
    row = IntegrationDelivery(integration_id=integration.id, event_id=delivery.event_id,
                              dedupe_key=delivery.dedupe_key, outcome="queued", payload=_payload_text(body),
                              next_attempt_at=utcnow() + timedelta(seconds=PICKUP_SECONDS))
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        _log(integration, "duplicate", body, event_id=delivery.event_id, detail="This delivery was received before.")
        return 200, "duplicate"
    if integration.kind in BATCHED_KINDS:
        # One job drains the integration's waiting deliveries: a burst is worked through in a few batches.
        enqueue_once_after_commit(_drain_key(integration.id), process_delivery, row.id)
    else:
        enqueue_after_commit(process_delivery, row.id)
    return 200, "accepted"


def _drain_key(integration_id: int) -> str:
    return f"integration:{integration_id}:deliveries"


def _describe(results) -> str:
    words = {"created": "Response recorded", "amended": "Response amended", "unchanged": "Response unchanged"}
    parts = [words[result.outcome] + ("; ticket opened" if result.ticket_id else "") for result in results]
    return "; ".join(parts) or "No answer in this delivery."


@job(JobSpec(queue=QUEUE_DEFAULT, timeout=300))
def process_delivery(delivery_id: int) -> str | None:
    """Turn a stored delivery into responses (see the module docstring), with every fresh delivery of the same
    integration waiting behind it (for sources whose payload holds the answer); safe to run twice. Returns the
    outcome of ``delivery_id`` when this job worked it, else None.

    The deliveries are claimed :data:`BATCH` at a time (``FOR UPDATE SKIP LOCKED``: a second worker takes the
    next ones) and each batch is one transaction: its answers are recorded together
    (:func:`app.ingestion.answers.record_external_answers`), so their tickets open in a fixed number of
    statements and their alerts go to the mail queue the moment it commits. A job that dies leaves its batch
    queued for the sweep. The receiving URL queues at most one job per integration at a time
    (:func:`app.jobs.enqueue_once`), cleared here before the claim; a full batch queues the next one.
    """
    found = db.session.execute(unscoped(
        select(IntegrationDelivery.tenant_id, IntegrationDelivery.integration_id, Integration.kind)
        .join(Integration, Integration.id == IntegrationDelivery.integration_id)
        .where(IntegrationDelivery.id == delivery_id)
    )).one_or_none()
    db.session.rollback()
    if found is None:
        return None
    tenant_id, integration_id, kind = found
    batched = kind in BATCHED_KINDS
    if batched:
        started_once(_drain_key(integration_id))
    with tenant_context(tenant_id):
        mine = IntegrationDelivery.id == delivery_id
        # A CTE, run once: as a subquery PostgreSQL may run the locking read again for every row it updates,
        # each time skipping the rows just updated, and so claim past the limit.
        waiting = (select(IntegrationDelivery.id)
                   .where(IntegrationDelivery.integration_id == integration_id,
                          IntegrationDelivery.outcome == "queued",
                          or_(mine, IntegrationDelivery.attempts == 0) if batched else mine)
                   .order_by(IntegrationDelivery.id).limit(BATCH)
                   .with_for_update(skip_locked=True).cte("waiting"))
        ids = sorted(db.session.execute(
            update(IntegrationDelivery).where(IntegrationDelivery.id.in_(select(waiting.c.id)))
            .values(outcome="processing", attempts=IntegrationDelivery.attempts + 1)
            .returning(IntegrationDelivery.id).execution_options(synchronize_session=False)
        ).scalars())
        if not ids:
            db.session.rollback()
            return None
        outcomes = _process_batch(integration_id, ids)
        if batched and len(ids) == BATCH:
            # More may be waiting: the next batch is another job, so the mail this one owes (the mail queue
            # comes first) leaves before it.
            enqueue_once_after_commit(_drain_key(integration_id), process_delivery, ids[-1])
        db.session.commit()
    return outcomes.get(delivery_id)


def _keys_or_none(integration: Integration) -> Keys | None:
    try:
        return keys_of(integration)
    except crypto.InvalidToken:
        return None


def _process_batch(integration_id: int, ids: list[int]) -> dict[int, str]:
    """Record the answers of the claimed deliveries ``ids`` together and set each one's outcome (the caller
    commits). A delivery whose payload cannot be read, or whose answers cannot be recorded, fails alone; an
    unexpected error records the deliveries one at a time, so it fails only the one that causes it."""
    integration = db.session.get(Integration, integration_id)
    deliveries = list(db.session.execute(
        select(IntegrationDelivery).where(IntegrationDelivery.id.in_(ids)).order_by(IntegrationDelivery.id)
    ).scalars())
    keys = _keys_or_none(integration)
    groups: dict[int, list] = {}
    outcomes: dict[int, str] = {}
    for delivery in deliveries:
        try:
            if keys is None:
                raise crypto.InvalidToken()
            groups[delivery.id] = list(SOURCES[integration.kind].answers(keys, delivery.payload or ""))
        except Exception as exc:  # noqa: BLE001  (one unreadable delivery must not sink the others in its batch)
            outcomes[delivery.id] = _finish(delivery, error=exc)
    readable = [delivery for delivery in deliveries if delivery.id in groups]
    try:
        with db.session.begin_nested():
            results = record_external_answers([groups[delivery.id] for delivery in readable])
    except Exception:  # noqa: BLE001
        if len(readable) == 1:
            outcomes[readable[0].id] = _finish(readable[0], error=sys.exc_info()[1])
            return outcomes
        log.warning("integration %s: a batch of %d deliveries failed; recording them one at a time",
                    integration_id, len(readable))
        for delivery in readable:
            try:
                with db.session.begin_nested():
                    result = record_external_answers([groups[delivery.id]])[0]
            except Exception as exc:  # noqa: BLE001
                outcomes[delivery.id] = _finish(delivery, error=exc)
            else:
                outcomes[delivery.id] = _finish(delivery, result=result)
        return outcomes
    for delivery, result in zip(readable, results):
        outcomes[delivery.id] = _finish(delivery, result=result)
    return outcomes


def _finish(delivery: IntegrationDelivery, *, result=None, error: BaseException | None = None) -> str:
    """Set a claimed delivery's outcome from what recording its answers gave: a list of recorded answers, an
    :class:`InvalidAnswer`, or an ``error`` raised on the way (transient ones are tried again later)."""
    if isinstance(result, InvalidAnswer):
        error, result = result, None
    outcome, detail, response_id, retry_at = "error", None, None, None
    if error is None:
        outcome, detail = "accepted", _describe(result)
        response_id = result[-1].response_id if result else None
    elif isinstance(error, UnmatchedContact):
        outcome, detail = "unmatched_contact", str(error)
    elif isinstance(error, (InvalidAnswer, BadPayload)):
        outcome, detail = "error", str(error)
    elif isinstance(error, crypto.InvalidToken):
        detail = "The integration's secrets cannot be read: the encryption key changed."
    else:
        transient = getattr(error, "transient", True)
        if isinstance(error, FetchFailed):
            detail = str(error)
        else:
            log.error("integration delivery %s failed", delivery.id, exc_info=error)
            detail = "An unexpected error; it has been logged."
        if transient and delivery.attempts < MAX_ATTEMPTS:
            outcome = "queued"
            retry_at = utcnow() + timedelta(seconds=RETRY_SECONDS * 2 ** (delivery.attempts - 1))
            detail = f"{detail} Trying again at {retry_at:%H:%M:%S} UTC (attempt {delivery.attempts} of {MAX_ATTEMPTS})."
    delivery.outcome, delivery.detail = outcome, (detail or "")[:300] or None
    delivery.response_id = response_id
    delivery.next_attempt_at = retry_at
    delivery.processed_at = None if retry_at else utcnow()
    return outcome


def poll_now(integration: Integration) -> None:
    """Queue a HubSpot poll after commit (the "Poll now" button; the sweep polls every few minutes)."""
    enqueue_after_commit(poll_hubspot, integration.id)


@job(JobSpec(queue=QUEUE_DEFAULT, timeout=600))
def poll_hubspot(integration_id: int) -> int:
    """Read the HubSpot NPS submissions created since the cursor and record each once; returns how many were
    recorded. Holds the integration under a lease, so two polls never run at once; each page commits its
    answers, log rows and the moved cursor together."""
    now = utcnow()
    tenant_id = db.session.execute(unscoped(
        update(Integration)
        .where(Integration.id == integration_id, Integration.kind == hubspot.KIND, Integration.enabled.is_(True),
               or_(Integration.poll_lease_until.is_(None), Integration.poll_lease_until < now))
        .values(poll_lease_until=now + timedelta(minutes=10))
        .returning(Integration.tenant_id)
    )).scalar_one_or_none()
    db.session.commit()
    if tenant_id is None:
        return 0
    recorded = 0
    with tenant_context(tenant_id):
        integration = db.session.get(Integration, integration_id)
        keys = keys_of(integration)
        since = int((integration.cursor or {}).get("since_ms", 0))
        after = None
        try:
            for _page in range(POLL_PAGES):
                rows, after = hubspot.search_page(keys, since, after)
                recorded += _record_submissions(integration, keys, rows)
                if rows:
                    since = max(since, max(hubspot.created_ms(row) for row in rows))
                integration.cursor = {"since_ms": since}
                db.session.commit()
                if not after:
                    break
        except (FetchFailed, BadPayload) as exc:
            db.session.rollback()
            log.warning("HubSpot poll of integration %s stopped: %s", integration_id, exc)
        integration = db.session.get(Integration, integration_id)
        integration.last_polled_at, integration.poll_lease_until = utcnow(), None
        db.session.commit()
    return recorded


def _record_submissions(integration: Integration, keys: Keys, rows: list[dict]) -> int:
    keys_by_id = {str(row.get("id")): f"submission:{row.get('id')}" for row in rows}
    if not keys_by_id:
        return 0
    seen = set(db.session.execute(
        select(IntegrationDelivery.dedupe_key)
        .where(IntegrationDelivery.integration_id == integration.id,
               IntegrationDelivery.dedupe_key.in_(list(keys_by_id.values())))
    ).scalars())
    fresh = [row for row in rows if keys_by_id[str(row.get("id"))] not in seen]
    contacts = hubspot.contacts_of(keys, [str(row.get("id")) for row in fresh])
    recorded = 0
    for row in fresh:
        submission_id = str(row.get("id"))
        contact = contacts.get(submission_id)
        delivery = IntegrationDelivery(
            integration_id=integration.id, event_id=submission_id, dedupe_key=keys_by_id[submission_id],
            payload=json.dumps({"submission": row, "contact": contact}, indent=2)[:PAYLOAD_LIMIT],
            attempts=1, processed_at=utcnow())
        try:
            result = record_external_answer(hubspot.answer_of(row, contact))
            delivery.outcome, delivery.detail = "accepted", _describe([result])
            delivery.response_id = result.response_id
            recorded += 1
        except UnmatchedContact as exc:
            delivery.outcome, delivery.detail = "unmatched_contact", str(exc)[:300]
        except (InvalidAnswer, BadPayload) as exc:
            delivery.outcome, delivery.detail = "error", str(exc)[:300]
        db.session.add(delivery)
        db.session.flush()
    return recorded


def sweep() -> dict[str, int]:
    """Hand over deliveries whose job was lost or whose retry is due, start the HubSpot polls that are due,
    and delete log rows older than 30 days. Crosses organisations on purpose; safe to run concurrently."""
    now = utcnow()
    # Handed over once per pick-up period: the next sweep leaves them to the job it queued.
    overdue = (select(IntegrationDelivery.id)
               .where(IntegrationDelivery.outcome == "queued", IntegrationDelivery.next_attempt_at <= now)
               .order_by(IntegrationDelivery.next_attempt_at).limit(SWEEP_BATCH)
               .with_for_update(skip_locked=True).scalar_subquery())
    due = db.session.execute(unscoped(
        update(IntegrationDelivery).where(IntegrationDelivery.id.in_(overdue))
        .values(next_attempt_at=now + timedelta(seconds=PICKUP_SECONDS))
        .returning(IntegrationDelivery.id, IntegrationDelivery.integration_id, IntegrationDelivery.attempts)
    ).execution_options(synchronize_session=False)).all()
    # A retry is its own job; fresh deliveries whose job was lost need one job per integration, which takes the
    # others along (process_delivery), not one each.
    batched = set(db.session.execute(unscoped(
        select(Integration.id).where(Integration.id.in_({row.integration_id for row in due}),
                                     Integration.kind.in_(BATCHED_KINDS))
    )).scalars()) if due else set()
    jobs = {("fresh", row.integration_id) if row.attempts == 0 and row.integration_id in batched else row.id: row.id
            for row in sorted(due, key=lambda row: row.id, reverse=True)}
    poll_before = now - timedelta(seconds=current_app.config["HUBSPOT_POLL_SECONDS"])
    polls = list(db.session.execute(unscoped(
        select(Integration.id)
        .where(Integration.kind == hubspot.KIND, Integration.enabled.is_(True),
               or_(Integration.last_polled_at.is_(None), Integration.last_polled_at <= poll_before),
               or_(Integration.poll_lease_until.is_(None), Integration.poll_lease_until < now))
    )).scalars())
    old = select(IntegrationDelivery.id).where(
        IntegrationDelivery.received_at < now - timedelta(days=KEEP_DAYS)).limit(10_000).scalar_subquery()
    pruned = db.session.execute(unscoped(
        delete(IntegrationDelivery).where(IntegrationDelivery.id.in_(old))
    ).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    for delivery_id in sorted(jobs.values()):
        enqueue_now(process_delivery, delivery_id)
    for integration_id in polls:
        enqueue_now(poll_hubspot, integration_id)
    return {"deliveries": len(due), "polls": len(polls), "pruned": pruned or 0}
