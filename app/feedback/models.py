"""Themes a response is tagged with, and the recovery re-surveys owed after a ticket closes."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Table, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.tenancy import TenantScoped, _default_tenant_id
from app.timeutil import UTCDateTime, utcnow


class Theme(TenantScoped, db.Model):
    """A label feedback is tagged with ("Billing errors", "Onboarding"); the list is edited in Settings."""

    __tablename__ = "theme"
    __table_args__ = (UniqueConstraint("tenant_id", "label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(80))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


response_theme = Table(
    "response_theme",
    db.metadata,
    Column("tenant_id", ForeignKey("tenant.id", ondelete="CASCADE"), nullable=False, default=_default_tenant_id),
    Column("response_id", ForeignKey("response.id", ondelete="CASCADE"), primary_key=True),
    Column("theme_id", ForeignKey("theme.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_response_theme_tenant_theme_response", "tenant_id", "theme_id", "response_id"),
)


class RecoverySurvey(TenantScoped, db.Model):
    """The re-survey owed to a closed ticket's contact at ``due_at``.

    One row per ticket (a unique constraint), so however often the ticket is closed and reopened, and however
    many sweeps race, the contact is re-surveyed at most once; the sweep claims a due row by setting
    ``sent_at`` conditionally. ``invitation_id`` is the invitation it sent (which carries the ticket).
    """

    __tablename__ = "recovery_survey"
    __table_args__ = (
        UniqueConstraint("tenant_id", "ticket_id"),
        Index("ix_recovery_survey_owed", "due_at", postgresql_where=text("sent_at IS NULL AND cancelled_at IS NULL"),
              sqlite_where=text("sent_at IS NULL AND cancelled_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("survey_invitation.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DigestSent(TenantScoped, db.Model):
    """The weekly digest an organisation was sent for an ISO week ("2026-W49"): at most one per week."""

    __tablename__ = "digest_sent"
    __table_args__ = (UniqueConstraint("tenant_id", "week"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    week: Mapped[str] = mapped_column(String(10))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
