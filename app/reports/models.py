"""Daily rollups of responses, invitations and closed tickets, kept by the sweep (app.reports.rollup) for the
report pages."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.tenancy import TenantScoped, _default_tenant_id
from app.timeutil import UTCDateTime


class ResponseDaily(TenantScoped, db.Model):
    """Responses answered on one local day (the organisation's timezone) from one source in one band."""

    __tablename__ = "response_daily"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), primary_key=True,
                                           default=_default_tenant_id)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    source: Mapped[str] = mapped_column(String(20), primary_key=True)
    band: Mapped[str] = mapped_column(String(12), primary_key=True)
    responses: Mapped[int] = mapped_column(Integer, default=0)
    score_sum: Mapped[int] = mapped_column(Integer, default=0)


class InvitationDaily(TenantScoped, db.Model):
    """Invitations sent on one local day, and how many of them have been answered so far."""

    __tablename__ = "invitation_daily"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), primary_key=True,
                                           default=_default_tenant_id)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)


class CauseDaily(TenantScoped, db.Model):
    """Tickets closed on one local day carrying one root cause (``root_cause_id`` 0: closed without a cause).
    Closing sets the causes, so a day changes when a ticket closes on it, or one closed on it is reopened."""

    __tablename__ = "cause_daily"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), primary_key=True,
                                           default=_default_tenant_id)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    root_cause_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tickets: Mapped[int] = mapped_column(Integer, default=0)


class RollupState(db.Model):
    """The one row saying up to when source rows have been rolled up (across organisations)."""

    __tablename__ = "report_rollup_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    watermark: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecountMoment(TenantScoped, db.Model):
    """A moment whose local day the next sweeps must count again because rows it was counted from were
    deleted (a contact deleted with their answers and closed tickets), which ``updated_at`` cannot show.
    Kept a day (``noted_at``), long after the sweeps that read it."""

    __tablename__ = "report_recount"
    __table_args__ = (Index("ix_report_recount_noted", "noted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), default=_default_tenant_id)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    noted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class _BandColumns:
    promoters: Mapped[int] = mapped_column(Integer, default=0)
    passives: Mapped[int] = mapped_column(Integer, default=0)
    detractors: Mapped[int] = mapped_column(Integer, default=0)


class AccountDaily(_BandColumns, TenantScoped, db.Model):
    """Responses answered on one local day by the contacts of one account (``account_id`` 0: contacts without
    one), by band: the breakdowns by account, account owner and team read these, joined to the account as it
    is now."""

    __tablename__ = "response_account_daily"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), primary_key=True,
                                           default=_default_tenant_id)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class AccountMonthly(_BandColumns, TenantScoped, db.Model):
    """:class:`AccountDaily` summed over one local calendar month (``month`` is its first day), so a long
    period reads a row per account and month instead of one per account and day."""

    __tablename__ = "response_account_monthly"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), primary_key=True,
                                           default=_default_tenant_id)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class RoleDaily(_BandColumns, TenantScoped, db.Model):
    """Responses answered on one local day by contacts holding one recipient role (``role_id`` 0: contacts
    without a role; a contact with two roles counts under each), by band."""

    __tablename__ = "response_role_daily"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), primary_key=True,
                                           default=_default_tenant_id)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    role_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class TicketDaily(TenantScoped, db.Model):
    """Closed tickets, per local day and the member holding them (``assignee_id`` 0: nobody), counted by the
    day each figure of the follow-up report dates them by: ``opened`` and the two breach counts by the day they
    opened, ``closed``, ``resolved_within`` and the outcomes by the day they closed, ``contacted`` and
    ``contacted_within`` by the day of their first contact. Open tickets are not in it (the report reads them
    live); a closed ticket's figures no longer move, except that an uncontacted one counts in
    ``first_contact_breaches`` from its breach time on (``first_contact_breaches`` counts it already; the report
    takes back those whose breach time is still ahead)."""

    __tablename__ = "ticket_daily"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), primary_key=True,
                                           default=_default_tenant_id)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    assignee_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    opened: Mapped[int] = mapped_column(Integer, default=0)
    first_contact_breaches: Mapped[int] = mapped_column(Integer, default=0)
    resolution_breaches: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    resolved_within: Mapped[int] = mapped_column(Integer, default=0)
    resolved: Mapped[int] = mapped_column(Integer, default=0)
    not_resolved: Mapped[int] = mapped_column(Integer, default=0)
    no_response: Mapped[int] = mapped_column(Integer, default=0)
    contacted: Mapped[int] = mapped_column(Integer, default=0)
    contacted_within: Mapped[int] = mapped_column(Integer, default=0)


class TicketMinutesMonthly(TenantScoped, db.Model):
    """Closed tickets first contacted in one local calendar month (``month`` is its first day) by the member
    holding them (``assignee_id`` 0: nobody) and their minutes to first contact: a histogram, so the
    follow-up report's percentiles over whole months are exact without reading each ticket."""

    __tablename__ = "ticket_minutes_monthly"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), primary_key=True,
                                           default=_default_tenant_id)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    assignee_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    minutes: Mapped[int] = mapped_column(Integer, primary_key=True)
    tickets: Mapped[int] = mapped_column(Integer, default=0)
