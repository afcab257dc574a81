"""``/api/v1/integrations``: the survey tools connected to the organisation, connected and removed through the
same service as Settings → Integrations (:mod:`app.integrations.services`: its checks, its audit entries —
attributed to the token — and its encryption of credentials).

Secrets are shown once: the answer that connects an integration carries its signing secret (and Qualtrics'
receiving URL with its ``?key=``); reading it later gives neither, nor any credential, only their names."""
from __future__ import annotations

from flask import request
from sqlalchemy import select

from app.api import schemas
from app.api.core import audit_change, bp, get_or_404, iso, page, responses, spec, writes
from app.integrations import services
from app.integrations.models import KINDS, Integration


def serialise(integration: Integration) -> dict:
    return {"id": integration.id, "kind": integration.kind, "name": integration.name, "enabled": integration.enabled,
            "receiving_url": services.receiving_url(integration, with_key=False),
            "settings": dict(integration.settings or {}),
            "credentials_stored": sorted(services.stored_credential_names(integration)),
            "created_at": iso(integration.created_at), "last_polled_at": iso(integration.last_polled_at)}


@bp.get("/integrations")
@spec.validate(query=schemas.PageQuery, resp=responses(schemas.IntegrationList), tags=["Integrations"])
def list_integrations():
    """List the connected survey tools, oldest first, without secrets or credentials."""
    return page(select(Integration), [Integration.id], serialise, request.context.query)


@bp.post("/integrations")
@spec.validate(json=schemas.IntegrationCreate, resp=responses(schemas.IntegrationCreated, 201, write=True),
               tags=["Integrations"])
@writes
def create_integration():
    """Connect a survey tool, as Settings → Integrations does, with its credentials and settings. The answer
    holds the receiving URL to give the tool and the signing secret: this is the only time the secret is
    shown. A credential or setting the kind does not have, or a vendor API base URL that is not a public
    https address, is a 422 naming it (credentials.<name> or settings.<name>)."""
    body = request.context.json
    integration = services.create_integration(kind=body.kind, name=body.name or KINDS[body.kind],
                                              credentials=body.credentials, settings=body.settings)
    audit_change(f"Integration {integration.id} connected", {"kind": [None, integration.kind],
                                                              "name": [None, integration.name]})
    keys = services.keys_of(integration)
    return {**serialise(integration), "receiving_url": services.receiving_url(integration),
            "signing_secret": keys.signing_secret if services.shows_signing_secret(integration) else None}, 201


@bp.get("/integrations/<int:integration_id>")
@spec.validate(resp=responses(schemas.Integration, reads_id=True), tags=["Integrations"])
def get_integration(integration_id: int):
    """Read a connected survey tool, without secrets or credentials."""
    return serialise(get_or_404(Integration, integration_id)), 200


@bp.delete("/integrations/<int:integration_id>")
@spec.validate(resp=responses(None, 204, reads_id=True, write=True), tags=["Integrations"])
@writes
def delete_integration(integration_id: int):
    """Remove an integration, as Settings → Integrations does: its receiving URL stops working at once (and
    HubSpot is no longer polled) and its delivery log is deleted; the responses it recorded stay."""
    integration = get_or_404(Integration, integration_id)
    audit_change(f"Integration {integration.id} removed", {"kind": [integration.kind, None],
                                                            "name": [integration.name, None]})
    services.delete_integration(integration)
    return "", 204
