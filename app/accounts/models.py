"""People, organisations and who belongs where."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.tenancy import TenantScoped
from app.timeutil import UTCDateTime, utcnow

TENANT_KINDS = {"billing": "Billing company", "clinic": "Clinic", "programme": "Patient-support programme",
                "other": "Other"}
# Every member's default capacity: open tickets before routing passes them by (the practice-metrics "50 or less").
DEFAULT_CAPACITY = 50


class User(db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(40))
    # The member's profile, edited by themselves: merge fields ({agent.title}, {agent.phone}) and sent email use it.
    job_title: Mapped[str | None] = mapped_column(String(120))
    email_signature: Mapped[str | None] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(String(255))
    # Bumped by logout-everywhere, password change and deactivation: old sessions stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the user proves they read mail at ``email``: a verification or reset link, or an invitation.
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    memberships: Mapped[list["Membership"]] = relationship(back_populates="user")

    # Flask-Login protocol
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else self.name


class Tenant(db.Model):
    __tablename__ = "tenant"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20), default="other")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    next_ticket_number: Mapped[int] = mapped_column(Integer, default=1)
    # Whether any webhook endpoint listens (app.notifications.webhooks): events of an organisation without one
    # cost no query.
    has_webhook_endpoints: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def kind_label(self) -> str:
        return TENANT_KINDS.get(self.kind, self.kind)


class Membership(TenantScoped, db.Model):
    __tablename__ = "membership"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id"),
        Index("ix_membership_tenant_role", "tenant_id", "role", "is_active"),
        Index("ix_membership_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Round-robin assignment picks the working member assigned longest ago.
    last_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Routing skips a member at capacity (open tickets) or away until their return date.
    capacity: Mapped[int] = mapped_column(Integer, default=DEFAULT_CAPACITY, server_default=str(DEFAULT_CAPACITY))
    away_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    tenant: Mapped[Tenant] = relationship()


class TeamInvitation(TenantScoped, db.Model):
    """An invitation to join a tenant; the emailed token is stored only as a hash."""

    __tablename__ = "team_invitation"
    __table_args__ = (Index("ix_team_invitation_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    invited_by: Mapped[User | None] = relationship()
    tenant: Mapped[Tenant] = relationship()

    @property
    def state(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= utcnow():
            return "expired"
        return "pending"
