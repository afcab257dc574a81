"""Accounts: the company, practice or programme a contact belongs to, its status history and its account team."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.extensions import db
from app.tenancy import TenantScoped
from app.timeutil import UTCDateTime, utcnow


class AccountStatus(StrEnum):
    ACTIVE = "active"
    AT_RISK = "at_risk"
    CHURNED = "churned"


ACCOUNT_STATUSES = {AccountStatus.ACTIVE: "Active", AccountStatus.AT_RISK: "At risk",
                    AccountStatus.CHURNED: "Churned"}
# What an account is called, by the kind of organisation (app.accounts.models.TENANT_KINDS).
ACCOUNT_NOUNS = {"billing": "Company", "clinic": "Practice", "programme": "Programme"}
# The functions an organisation starts with for the people on an account team; each organisation edits its list.
DEFAULT_ACCOUNT_FUNCTIONS = ("Business analyst", "BPA", "Manager", "Director", "Account manager")


ACCOUNT_NOUNS_PLURAL = {"Company": "Companies", "Practice": "Practices", "Programme": "Programmes",
                        "Account": "Accounts"}


def account_noun(kind: str | None) -> str:
    return ACCOUNT_NOUNS.get(kind or "", "Account")


def account_noun_plural(kind: str | None) -> str:
    return ACCOUNT_NOUNS_PLURAL[account_noun(kind)]


class CustomerAccount(TenantScoped, db.Model):
    __tablename__ = "customer_account"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        Index("ix_customer_account_tenant_name_id", "tenant_id", "name", "id"),
        Index("ix_customer_account_tenant_external", "tenant_id", "external_id"),
        Index("ix_customer_account_tenant_owner", "tenant_id", "owner_id"),
        Index("ix_customer_account_tenant_status", "tenant_id", "status", "name", "id"),
        Index("ix_customer_account_name_trgm", "tenant_id", "name", postgresql_using="gin",
              postgresql_ops={"name": "gin_trgm_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    external_id: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), default=AccountStatus.ACTIVE)
    status_reason: Mapped[str | None] = mapped_column(String(300))
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    owner: Mapped[User | None] = relationship()

    @property
    def status_label(self) -> str:
        return ACCOUNT_STATUSES.get(self.status, self.status)


class AccountStatusChange(TenantScoped, db.Model):
    """One change of an account's status, with why and, when it came from a ticket ("Save / At risk"), which."""

    __tablename__ = "account_status_change"
    __table_args__ = (
        Index("ix_account_status_change_tenant_account", "tenant_id", "account_id", "created_at"),
        Index("ix_account_status_change_tenant_ticket", "tenant_id", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("customer_account.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(300))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="SET NULL"))
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    changed_by: Mapped[User | None] = relationship()

    @property
    def status_label(self) -> str:
        return ACCOUNT_STATUSES.get(self.status, self.status)


class AccountFunction(TenantScoped, db.Model):
    """What a member does on an account team (business analyst, BPA, manager, director…): an editable list."""

    __tablename__ = "account_function"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer, default=0)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AccountTeamMember(TenantScoped, db.Model):
    """A member on an account's team, in a function."""

    __tablename__ = "account_team_member"
    __table_args__ = (
        UniqueConstraint("account_id", "user_id", "function_id"),
        Index("ix_account_team_member_tenant_account", "tenant_id", "account_id"),
        Index("ix_account_team_member_tenant_user", "tenant_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("customer_account.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    function_id: Mapped[int | None] = mapped_column(ForeignKey("account_function.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()
    function: Mapped[AccountFunction | None] = relationship()
