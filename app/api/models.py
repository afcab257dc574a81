"""API tokens, the answers kept for Idempotency-Key, and outgoing webhook endpoints with their deliveries."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.extensions import db
from app.tenancy import TenantScoped
from app.timeutil import UTCDateTime, utcnow

SCOPES = {"read": "Read only", "read_write": "Read and write"}


class ApiToken(TenantScoped, db.Model):
    """A bearer token of one organisation. Only the SHA-256 of the secret is kept; ``prefix`` (its first
    characters) lets people tell their tokens apart."""

    __tablename__ = "api_token"
    __table_args__ = (Index("ix_api_token_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    scope: Mapped[str] = mapped_column(String(12), default="read")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_by: Mapped[User | None] = relationship()

    @property
    def can_write(self) -> bool:
        return self.scope == "read_write"

    @property
    def scope_label(self) -> str:
        return SCOPES.get(self.scope, self.scope)


class IdempotentRequest(TenantScoped, db.Model):
    """The answer a POST with an ``Idempotency-Key`` got, kept per token so a repeat gets the same answer; the
    body is stored encrypted, since an answer may carry a signing secret that is shown once."""

    __tablename__ = "api_idempotent_request"
    __table_args__ = (
        UniqueConstraint("tenant_id", "token_id", "key"),
        Index("ix_api_idempotent_request_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_token.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


WEBHOOK_EVENTS = {
    "ticket.opened": "A ticket opened",
    "ticket.status_changed": "A ticket moved to another status (closing and reopening included)",
    "ticket.closed": "A ticket closed",
    "response.created": "A survey answer recorded",
}


class WebhookEndpoint(TenantScoped, db.Model):
    """A URL of the organisation's own that is told about events. Its signing secret is derived from the
    app's secret key and ``secret_salt`` (see :func:`app.notifications.webhooks.endpoint_secret`), so the
    database never holds it."""

    __tablename__ = "webhook_endpoint"
    __table_args__ = (Index("ix_webhook_endpoint_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(200))
    # The event types it hears; all of them when empty.
    events: Mapped[list] = mapped_column(JSON, default=list)
    secret_salt: Mapped[str] = mapped_column(String(64))
    created_by_token_id: Mapped[int | None] = mapped_column(ForeignKey("api_token.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def hears(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


DELIVERY_STATES = {"pending": "Waiting", "sending": "Sending", "delivered": "Delivered", "failed": "Failed"}


class WebhookDelivery(TenantScoped, db.Model):
    """One event owed to one endpoint (the outbox row): written in the transaction of the change it tells
    about, posted by a job after commit, retried with backoff; ``message_id`` is the ``webhook-id`` of every
    attempt."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_tenant_endpoint", "tenant_id", "endpoint_id", "created_at", "id"),
        # The sweep looks across organisations for deliveries still owed, so this one leads with status.
        Index("ix_webhook_delivery_status", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoint.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(40))
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(300))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    endpoint: Mapped[WebhookEndpoint] = relationship()
