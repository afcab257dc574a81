"""``/api/v1/webhook-endpoints``: where Turnaround posts ticket and response events, and each one's delivery log
(the events, signing and delivery are in app.notifications.webhooks)."""
from __future__ import annotations

from flask import g, request
from sqlalchemy import select

from app.api import schemas
from app.api.core import ApiError, audit_change, bp, get_or_404, iso, page, responses, spec, writes
from app.api.models import WebhookDelivery, WebhookEndpoint
from app.extensions import db
from app.notifications import webhooks


def serialise(endpoint: WebhookEndpoint) -> dict:
    return {"id": endpoint.id, "url": endpoint.url, "description": endpoint.description,
            "events": list(endpoint.events or []), "created_at": iso(endpoint.created_at)}


def serialise_delivery(delivery: WebhookDelivery) -> dict:
    return {"id": delivery.id, "event_type": delivery.event_type, "webhook_id": delivery.message_id,
            "status": delivery.status, "attempts": delivery.attempts, "last_status_code": delivery.last_status_code,
            "last_error": delivery.last_error, "next_attempt_at": iso(delivery.next_attempt_at),
            "last_attempt_at": iso(delivery.last_attempt_at), "delivered_at": iso(delivery.delivered_at),
            "created_at": iso(delivery.created_at)}


@bp.get("/webhook-endpoints")
@spec.validate(query=schemas.PageQuery, resp=responses(schemas.WebhookEndpointList), tags=["Webhooks"])
def list_webhook_endpoints():
    """List the organisation's webhook endpoints."""
    return page(select(WebhookEndpoint), [WebhookEndpoint.id], serialise, request.context.query)


@bp.post("/webhook-endpoints")
@spec.validate(json=schemas.WebhookEndpointCreate, resp=responses(schemas.WebhookEndpointCreated, 201, write=True),
               tags=["Webhooks"])
@writes
def create_webhook_endpoint():
    """Add an endpoint. Its whsec_ signing secret is in this answer only. Events are signed with Standard
    Webhooks (webhook-id, webhook-timestamp, webhook-signature). Private, loopback and link-local addresses
    are refused."""
    body = request.context.json
    try:
        webhooks.resolve(body.url)
    except webhooks.AddressRefused as refusal:
        raise ApiError(422, "url_refused", str(refusal), "url") from None
    endpoint = WebhookEndpoint(url=body.url, description=(body.description or "").strip() or None,
                               events=sorted(set(body.events)), secret_salt=webhooks.new_salt(),
                               created_by_token_id=g.api_token.id)
    db.session.add(endpoint)
    db.session.flush()
    webhooks.endpoints_changed()
    audit_change(f"Webhook endpoint {endpoint.id} added", {"url": [None, endpoint.url],
                                                           "events": [None, endpoint.events]})
    return {**serialise(endpoint), "secret": webhooks.endpoint_secret(endpoint)}, 201


@bp.get("/webhook-endpoints/<int:endpoint_id>")
@spec.validate(resp=responses(schemas.WebhookEndpoint, reads_id=True), tags=["Webhooks"])
def get_webhook_endpoint(endpoint_id: int):
    """Read an endpoint."""
    return serialise(get_or_404(WebhookEndpoint, endpoint_id)), 200


@bp.delete("/webhook-endpoints/<int:endpoint_id>")
@spec.validate(resp=responses(None, 204, reads_id=True, write=True), tags=["Webhooks"])
@writes
def delete_webhook_endpoint(endpoint_id: int):
    """Remove an endpoint with its delivery log; nothing more is posted to it."""
    endpoint = get_or_404(WebhookEndpoint, endpoint_id)
    audit_change(f"Webhook endpoint {endpoint.id} removed", {"url": [endpoint.url, None]})
    db.session.delete(endpoint)
    db.session.flush()
    webhooks.endpoints_changed()
    return "", 204


@bp.get("/webhook-endpoints/<int:endpoint_id>/deliveries")
@spec.validate(query=schemas.PageQuery, resp=responses(schemas.WebhookDeliveryList, reads_id=True),
               tags=["Webhooks"])
def list_webhook_deliveries(endpoint_id: int):
    """The endpoint's delivery log, newest first: each event, its attempts and its last answer."""
    endpoint = get_or_404(WebhookEndpoint, endpoint_id)
    statement = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    return page(statement, [WebhookDelivery.created_at, WebhookDelivery.id], serialise_delivery,
                request.context.query, descending=True)
