"""How each organisation runs its workflow: SLA windows, cadence, throttling, alerts, templates, lists."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.api.models import ApiToken
from app.extensions import db
from app.tenancy import TenantScoped
from app.timeutil import UTCDateTime, utcnow

WEEKDAYS = {1: "Monday", 2: "Tuesday", 3: "Wednesday", 4: "Thursday", 5: "Friday", 6: "Saturday", 7: "Sunday"}
DEFAULT_BUSINESS_HOURS = {str(day): [["09:00", "17:00"]] for day in range(1, 6)}
THROTTLE_CHOICES = (0, 7, 14, 30, 60, 90, 180, 365)
SLA_UNITS = {"minutes": "minutes", "hours": "hours", "business_days": "business days"}
FIRST_CONTACT_STOPPED_BY = {
    "call": "A logged call only",
    "call_or_email": "A logged call or a personal email",
}


class WorkflowSettings(TenantScoped, db.Model):
    """One row per tenant. Tickets copy their due times when they open, so later changes never move them."""

    __tablename__ = "workflow_settings"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # SLA windows: each target is an amount of a unit in SLA_UNITS (see app.business_time.Duration)
    first_contact_target: Mapped[int] = mapped_column(Integer, default=1)
    first_contact_target_unit: Mapped[str] = mapped_column(String(16), default="business_days")
    first_contact_breach: Mapped[int] = mapped_column(Integer, default=2)
    first_contact_breach_unit: Mapped[str] = mapped_column(String(16), default="business_days")
    resolution_target: Mapped[int] = mapped_column(Integer, default=10)
    resolution_target_unit: Mapped[str] = mapped_column(String(16), default="business_days")
    first_contact_stopped_by: Mapped[str] = mapped_column(String(16), default="call_or_email",
                                                          server_default="call_or_email")
    business_hours_only: Mapped[bool] = mapped_column(Boolean, default=True)
    business_hours: Mapped[dict] = mapped_column(JSON, default=lambda: dict(DEFAULT_BUSINESS_HOURS))
    # Outreach cadence
    call_attempts: Mapped[int] = mapped_column(Integer, default=2)
    email_attempts: Mapped[int] = mapped_column(Integer, default=2)
    attempt_gap_hours: Mapped[int] = mapped_column(Integer, default=24)
    stop_after_cadence: Mapped[bool] = mapped_column(Boolean, default=True)
    # Survey throttling
    survey_throttle_days: Mapped[int] = mapped_column(Integer, default=30)
    # Alerts
    phi_safe_alerts: Mapped[bool] = mapped_column(Boolean, default=False)
    # A PHI-safe alert may carry the contact's opaque external id (the patient-support "unique patient identifier").
    alert_external_id: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    breach_reassign_to_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    # Routing (app.teams.routing): the account owner first, then round robin in the routing team, then everyone
    route_to_account_owner: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    routing_team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    # Open tickets per working member above which admins are told, once a day, to add a team member
    backlog_threshold: Mapped[int] = mapped_column(Integer, default=100, server_default="100")
    # New contacts
    default_contact_role_id: Mapped[int | None] = mapped_column(ForeignKey("recipient_role.id", ondelete="SET NULL"))
    # Survey sender: the display name and Reply-To of invitations (the envelope From stays MAIL_SENDER_ADDRESS)
    sender_name: Mapped[str | None] = mapped_column(String(120))
    reply_to_address: Mapped[str | None] = mapped_column(String(254))
    # Recovery re-survey (app.feedback.recovery): ask a closed ticket's contact again after this many days
    resurvey_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    resurvey_delay_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    breach_reassign_to: Mapped[User | None] = relationship()


class Holiday(TenantScoped, db.Model):
    __tablename__ = "holiday"
    __table_args__ = (UniqueConstraint("tenant_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(120))


NOTIFICATION_EVENTS = {
    "ticket_opened": "Ticket opened",
    "sla_at_risk": "SLA at risk",
    "sla_breached": "SLA breached",
    "ticket_reassigned": "Ticket reassigned",
    "ticket_closed": "Ticket closed",
    "weekly_digest": "Weekly digest",
}


class NotificationList(TenantScoped, db.Model):
    """A named group told about chosen events: everyone holding some roles, chosen members, outside addresses."""

    __tablename__ = "notification_list"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    events: Mapped[list] = mapped_column(JSON, default=list)
    roles: Mapped[list] = mapped_column(JSON, default=list)
    member_ids: Mapped[list] = mapped_column(JSON, default=list)
    addresses: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EmailTemplate(TenantScoped, db.Model):
    """A tenant's own wording for one kind of email; without a row the default applies."""

    __tablename__ = "email_template"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ActionPlanTemplate(TenantScoped, db.Model):
    __tablename__ = "action_plan_template"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    items: Mapped[list] = mapped_column(JSON, default=list)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RootCause(TenantScoped, db.Model):
    __tablename__ = "root_cause"
    __table_args__ = (UniqueConstraint("tenant_id", "label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(120))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(TenantScoped, db.Model):
    """Who changed which setting, when, and from what to what. Rows are only ever added."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_tenant_created", "tenant_id", "created_at"),
                      Index("ix_audit_entry_tenant_area", "tenant_id", "area", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    area: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(String(300))
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    # The API token a change came through, when it came through the API.
    api_token_id: Mapped[int | None] = mapped_column(ForeignKey("api_token.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User | None] = relationship()
    api_token: Mapped[ApiToken | None] = relationship()
