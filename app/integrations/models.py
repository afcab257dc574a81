"""Integrations: a survey tool connected to an organisation, and the log of what it delivered."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.tenancy import TenantScoped
from app.timeutil import UTCDateTime, utcnow

KINDS = {
    "delighted": "Delighted",
    "typeform": "Typeform",
    "surveymonkey": "SurveyMonkey",
    "qualtrics": "Qualtrics",
    "hubspot": "HubSpot",
    "generic": "Generic webhook",
}

# A delivery's outcome. "queued" is on its way (or waiting for a retry); the rest are final.
OUTCOMES = {
    "queued": "Waiting to be processed",
    "accepted": "Accepted",
    "duplicate": "Duplicate",
    "bad_signature": "Bad signature",
    "unmatched_contact": "Unmatched contact",
    "error": "Error",
    "ignored": "Ignored (not a response event)",
}


class Integration(TenantScoped, db.Model):
    """One connected source. ``token`` is the unguessable part of its receiving URL; the signing secret and
    vendor credentials are stored encrypted (:mod:`app.integrations.crypto`). ``settings`` holds what is not
    secret (Typeform field refs, a vendor API base URL); ``cursor`` is a poller's place (HubSpot)."""

    __tablename__ = "integration"
    __table_args__ = (
        UniqueConstraint("token"),
        Index("ix_integration_tenant_created", "tenant_id", "created_at"),
        # The sweep looks across organisations for pollers that are due.
        Index("ix_integration_kind_polled", "kind", "last_polled_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    token: Mapped[str] = mapped_column(String(64))
    signing_secret: Mapped[str] = mapped_column(Text)
    credentials: Mapped[str | None] = mapped_column(Text)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    cursor: Mapped[dict | None] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    poll_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def kind_label(self) -> str:
        return KINDS.get(self.kind, self.kind)


class IntegrationDelivery(TenantScoped, db.Model):
    """One request received by an integration (or one submission read by a poller), kept 30 days.

    ``dedupe_key`` is set only for verified deliveries (the vendor's event id), unique per integration, so a
    delivery seen before is acknowledged and changes nothing, and a forged one cannot block the real one.
    """

    __tablename__ = "integration_delivery"
    __table_args__ = (
        UniqueConstraint("integration_id", "dedupe_key"),
        Index("ix_integration_delivery_tenant_integration", "tenant_id", "integration_id", "received_at", "id"),
        # The sweep looks across organisations for deliveries still owed work, and prunes old ones.
        Index("ix_integration_delivery_outcome_due", "outcome", "next_attempt_at"),
        Index("ix_integration_delivery_received", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integration.id", ondelete="CASCADE"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    event_id: Mapped[str | None] = mapped_column(String(200))
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(20), default="queued")
    detail: Mapped[str | None] = mapped_column(String(300))
    payload: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_id: Mapped[int | None] = mapped_column(ForeignKey("response.id", ondelete="SET NULL"))

    @property
    def outcome_label(self) -> str:
        return OUTCOMES.get(self.outcome, self.outcome)
