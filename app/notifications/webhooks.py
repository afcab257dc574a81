"""Webhook endpoints as a kind of recipient: which endpoints hear an event, what the event carries, and its
delivery through the outbox pattern, signed with Standard Webhooks (https://www.standardwebhooks.com/).

* :func:`announce` writes one ``webhook_delivery`` row per endpoint of the organisation that hears the event,
  in the transaction of the change it tells about, and hands the rows to :func:`deliver_webhooks` after
  commit. Services call it (and :func:`app.notifications.notify` calls it for the mail events that have a
  webhook counterpart), so "who is told about what" stays in this package.
* An event carries ids and states only, never a name, an email or a comment: receivers read the rest through
  the API with their token. That keeps PHI out of third-party logs.
* Each attempt posts the same body with the same ``webhook-id`` (the row's ``message_id``), a fresh
  ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, keyed with the
  endpoint's ``whsec_`` secret. A 2xx answer delivers; anything else retries with a doubling delay, for
  ``WEBHOOK_MAX_ATTEMPTS`` attempts. Retries and lost jobs are re-enqueued by :func:`sweep_webhooks`.
* Private, loopback, link-local and other non-public addresses are refused when an endpoint is added and again
  at each attempt (the address the name resolves to then is the one connected to), unless
  ``WEBHOOK_ALLOW_PRIVATE_ADDRESSES`` is on. Redirects are not followed.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
from datetime import datetime, timedelta
from typing import Any, Iterable
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import and_, func, insert, or_, select, update

from app.accounts.models import Tenant
from app.api.models import WEBHOOK_EVENTS, WebhookDelivery, WebhookEndpoint
from app.extensions import db
from app.jobs import QUEUE_DEFAULT, JobSpec, enqueue_after_commit, enqueue_now, job
from app.tenancy import all_tenants, current_tenant_id, unscoped
from app.timeutil import utcnow

log = logging.getLogger(__name__)

MAX_RETRY_DELAY = timedelta(hours=1)
SENDING_LEASE = timedelta(minutes=5)
WEBHOOK_JOB = JobSpec(queue=QUEUE_DEFAULT, timeout=300)
# The mail events of app.notifications.events whose occurrence is also a webhook event.
MAIL_EVENT_WEBHOOKS = {"ticket_opened": ("ticket.opened",), "ticket_closed": ("ticket.status_changed", "ticket.closed")}
_CACHE_KEY = "turnaround_webhook_endpoints"


class AddressRefused(Exception):
    """The URL's host is, or resolves to, an address webhooks may not reach."""


# --- Secrets and signatures ---------------------------------------------------------------------------

def endpoint_secret(endpoint: WebhookEndpoint) -> str:
    """The endpoint's ``whsec_`` signing secret, derived from the app's secret key and the endpoint's salt."""
    key = hmac.new(current_app.config["SECRET_KEY"].encode(), f"webhook-endpoint:{endpoint.secret_salt}".encode(),
                   hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(key).decode()


def new_salt() -> str:
    return secrets.token_hex(16)


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` header value for one attempt (Standard Webhooks, scheme v1)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


# --- Where webhooks may go ----------------------------------------------------------------------------

def _allowed_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if current_app.config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"]:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(url: str) -> tuple[str, int, str]:
    """``(host, port, address to connect to)`` for ``url``; raises :class:`AddressRefused` when the URL is not
    http(s) or any address its host resolves to is private, loopback, link-local or otherwise not public."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AddressRefused("Use an http:// or https:// URL.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise AddressRefused("The URL's port is not a number from 1 to 65535.") from None
    try:
        found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise AddressRefused(f"{parts.hostname} could not be resolved.") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in found]
    if not addresses or not all(_allowed_ip(ip) for ip in addresses):
        raise AddressRefused("Webhooks can only go to public internet addresses, not private, loopback or "
                             "link-local ones.")
    return parts.hostname, port, str(addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, not to whatever the name resolves to a moment later."""

    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: str, headers: dict[str, str]) -> int:
    """POST ``body`` to ``url`` (checked by :func:`resolve`); returns the status code. Raises
    :class:`AddressRefused` or ``OSError``/``http.client.HTTPException`` when no answer came."""
    host, port, address = resolve(url)
    parts = urlsplit(url)
    timeout = current_app.config["WEBHOOK_TIMEOUT_SECONDS"]
    connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(host, port, address, timeout)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", path, body=body.encode(), headers=headers)
        response = connection.getresponse()
        response.read(4096)
        return response.status
    finally:
        connection.close()


# --- Announcing events --------------------------------------------------------------------------------

def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def ticket_data(ticket, previous_status: str | None = None) -> dict[str, Any]:
    data = {"id": ticket.id, "reference": ticket.reference, "status": ticket.status, "assignee_id": ticket.assignee_id,
            "contact_id": ticket.contact_id, "account_id": ticket.account_id, "response_id": ticket.response_id,
            "opened_at": _iso(ticket.opened_at), "closed_at": _iso(ticket.closed_at), "outcome": ticket.outcome}
    if previous_status is not None:
        data["previous_status"] = previous_status
    return data


def response_data(response) -> dict[str, Any]:
    return {"id": response.id, "contact_id": response.contact_id, "survey_id": response.survey_id,
            "score": response.score, "band": response.band, "source": response.source,
            "created_at": _iso(response.created_at)}


def _listening(event_type: str) -> list[int]:
    """Ids of the current organisation's endpoints that hear ``event_type``: read once per transaction."""
    tenant = db.session.get(Tenant, current_tenant_id())
    if tenant is None or not tenant.has_webhook_endpoints:
        return []
    session = db.session()
    transaction = session.get_transaction()
    cached = session.info.get(_CACHE_KEY)
    if cached is None or cached[0] is not transaction or cached[1] != current_tenant_id():
        rows = db.session.execute(select(WebhookEndpoint.id, WebhookEndpoint.events)
                                  .order_by(WebhookEndpoint.id)).all()
        cached = (transaction, current_tenant_id(), [(row.id, row.events or []) for row in rows])
        session.info[_CACHE_KEY] = cached
    return [endpoint_id for endpoint_id, events in cached[2] if not events or event_type in events]


def endpoints_changed() -> None:
    """Endpoints were added or removed in this transaction: say whether the organisation has any, and read
    them again at the next event."""
    db.session.flush()
    tenant = db.session.get(Tenant, current_tenant_id())
    tenant.has_webhook_endpoints = db.session.execute(select(WebhookEndpoint.id).limit(1)).first() is not None
    db.session().info.pop(_CACHE_KEY, None)


def announce(event_type: str, *, ticket=None, response=None, previous_status: str | None = None) -> list[int]:
    """Owe ``event_type`` about ``ticket`` or ``response`` to every endpoint of the current organisation that
    hears it: one row each, in the current transaction, posted after commit. Returns the new rows' ids."""
    if ticket is not None:
        return announce_all(event_type, tickets=[ticket], previous_status=previous_status)
    return announce_all(event_type, responses=[response])


def announce_all(event_type: str, *, tickets=(), responses=(), previous_status: str | None = None) -> list[int]:
    """:func:`announce` about many tickets or responses at once (one INSERT for every endpoint and subject)."""
    if event_type not in WEBHOOK_EVENTS:
        raise ValueError(f"unknown webhook event {event_type!r}")
    endpoint_ids = _listening(event_type)
    if not endpoint_ids or not (tickets or responses):
        return []
    db.session.flush()
    data = ([ticket_data(ticket, previous_status) for ticket in tickets]
            + [response_data(response) for response in responses])
    now = utcnow()
    rows = []
    for each in data:
        body = json.dumps({"type": event_type, "timestamp": _iso(now), "data": each}, separators=(",", ":"))
        rows += [{"tenant_id": current_tenant_id(), "endpoint_id": endpoint_id, "event_type": event_type,
                  "message_id": "msg_" + secrets.token_hex(16), "payload": body, "status": "pending", "attempts": 0,
                  "created_at": now, "enqueued_at": now} for endpoint_id in endpoint_ids]
    table = WebhookDelivery.__table__
    ids = list(db.session.execute(insert(table).values(rows).returning(table.c.id)
                                  .execution_options(scoped_by_hand=True)).scalars())
    enqueue_after_commit(deliver_webhooks, ids)
    return ids


def announce_mail_events(events: Iterable[str], *, tickets=(), activity=None) -> None:
    """The webhook side of :func:`app.notifications.notify`'s mail events, about each of ``tickets``."""
    if not tickets:
        return
    for event in events:
        for event_type in MAIL_EVENT_WEBHOOKS.get(event, ()):
            previous = (activity.details or {}).get("previous") if event_type == "ticket.status_changed" and activity else None
            announce_all(event_type, tickets=tickets, previous_status=previous)


# --- Delivery -----------------------------------------------------------------------------------------

def retry_delay(attempts: int) -> timedelta:
    delay = timedelta(seconds=current_app.config["WEBHOOK_RETRY_SECONDS"] * 2 ** max(0, attempts - 1))
    return min(delay, MAX_RETRY_DELAY)


@job(WEBHOOK_JOB)
def deliver_webhooks(delivery_ids: list[int]) -> dict[int, str]:
    """Attempt each delivery that is still owed and due; returns what happened to each (for logs and tests)."""
    return {delivery_id: _deliver(delivery_id) for delivery_id in delivery_ids}


@all_tenants()
def _claim(delivery_id: int) -> WebhookDelivery | None:
    now = utcnow()
    claimed = db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending",
               or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now))
        .values(status="sending", claimed_at=now)
        .returning(WebhookDelivery.id),
        execution_options={"synchronize_session": False},
    ).scalar_one_or_none()
    if claimed is None:
        db.session.rollback()
        return None
    db.session.commit()
    return db.session.execute(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)).scalar_one_or_none()


def _deliver(delivery_id: int) -> str:
    delivery = _claim(delivery_id)
    if delivery is None:
        return "skipped"
    with all_tenants():
        endpoint = delivery.endpoint
        timestamp = int(utcnow().timestamp())
        headers = {"content-type": "application/json", "user-agent": "Turnaround-Webhooks/1",
                   "webhook-id": delivery.message_id, "webhook-timestamp": str(timestamp),
                   "webhook-signature": sign(endpoint_secret(endpoint), delivery.message_id, timestamp,
                                             delivery.payload)}
        url, body = endpoint.url, delivery.payload
    status_code, error = None, None
    try:
        status_code = post(url, body, headers)
    except AddressRefused as exc:
        error = str(exc)
    except (OSError, http.client.HTTPException) as exc:
        error = f"No answer: {type(exc).__name__}"
    now = utcnow()
    with all_tenants():
        delivery.attempts += 1
        delivery.last_attempt_at, delivery.last_status_code = now, status_code
        delivery.claimed_at = None
        if status_code is not None and 200 <= status_code < 300:
            delivery.status, delivery.delivered_at, delivery.last_error = "delivered", now, None
        else:
            delivery.last_error = (error or f"Answered {status_code}")[:300]
            if delivery.attempts >= current_app.config["WEBHOOK_MAX_ATTEMPTS"]:
                delivery.status, delivery.next_attempt_at = "failed", None
            else:
                delivery.status, delivery.next_attempt_at = "pending", now + retry_delay(delivery.attempts)
        outcome = delivery.status
        db.session.commit()
    return outcome


@all_tenants()
def sweep_webhooks(limit: int = 1000) -> int:
    """Hand the worker the deliveries still owed: due retries, and rows whose job was lost (handed over more
    than ``OUTBOX_STALE_SECONDS`` ago, or stuck in "sending" past a lease). Returns how many."""
    now = utcnow()
    stale = now - timedelta(seconds=current_app.config["OUTBOX_STALE_SECONDS"])
    db.session.execute(
        unscoped(update(WebhookDelivery)
                 .where(WebhookDelivery.status == "sending", WebhookDelivery.claimed_at < now - SENDING_LEASE)
                 .values(status="pending", claimed_at=None)),
        execution_options={"synchronize_session": False},
    )
    handed_over = func.coalesce(WebhookDelivery.enqueued_at, WebhookDelivery.created_at)
    statement = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.status == "pending",
               or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now),
               or_(handed_over <= stale,
                   and_(WebhookDelivery.next_attempt_at.is_not(None), handed_over < WebhookDelivery.next_attempt_at)))
        .order_by(WebhookDelivery.id).limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    due = list(db.session.execute(unscoped(statement)).scalars())
    if due:
        db.session.execute(
            unscoped(update(WebhookDelivery).where(WebhookDelivery.id.in_(due)).values(enqueued_at=now)),
            execution_options={"synchronize_session": False},
        )
    db.session.commit()
    if due:
        enqueue_now(deliver_webhooks, due)
    return len(due)
