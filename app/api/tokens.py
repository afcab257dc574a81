"""API tokens: created by admins with a name and a scope, the secret shown once and kept only as its SHA-256,
revoked by admins. Each creation and revocation is in the audit log. Also what Settings → API shows of the
webhook endpoints and their delivery logs."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app import audit
from app.api.core import TOKEN_PREFIX
from app.api.models import SCOPES, ApiToken, WebhookDelivery, WebhookEndpoint
from app.extensions import db
from app.rules import RuleError
from app.security import hash_token, new_token
from app.timeutil import utcnow

DELIVERY_LOG_LIMIT = 50


def tokens() -> list[ApiToken]:
    """The organisation's tokens, active first, newest first, with who created them (one query)."""
    return list(db.session.execute(
        select(ApiToken).options(joinedload(ApiToken.created_by))
        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc())
    ).scalars())


def webhook_endpoints() -> list[WebhookEndpoint]:
    """The organisation's webhook endpoints (managed through the API), oldest first."""
    return list(db.session.execute(select(WebhookEndpoint).order_by(WebhookEndpoint.id)).scalars())


def recent_deliveries(endpoint: WebhookEndpoint, limit: int = DELIVERY_LOG_LIMIT) -> list[WebhookDelivery]:
    """The endpoint's latest deliveries, newest first."""
    return list(db.session.execute(
        select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(limit)
    ).scalars())


def create_token(*, name: str, scope: str, created_by_id: int) -> tuple[ApiToken, str]:
    """A new token and its secret (``ta_`` and 43 URL-safe characters), which is not kept anywhere."""
    name = (name or "").strip()
    if not name:
        raise RuleError("Give the token a name, such as the system that will use it.", "name")
    if scope not in SCOPES:
        raise RuleError("Choose read only, or read and write.", "scope")
    secret, _ = new_token()
    secret = TOKEN_PREFIX + secret
    token = ApiToken(name=name[:80], scope=scope, token_hash=hash_token(secret), prefix=secret[:10],
                     created_by_id=created_by_id)
    db.session.add(token)
    db.session.flush()
    audit.record("api_tokens", f"API token “{token.name}” created", {"scope": [None, SCOPES[scope]]})
    return token, secret


def revoke_token(token: ApiToken) -> bool:
    """Revoke ``token``: it stops working at once. Returns whether it was still active."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    audit.record("api_tokens", f"API token “{token.name}” revoked", {"revoked": [False, True]})
    return True
