"""The people a tenant surveys."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.customers.models import CustomerAccount
from app.extensions import db
from app.tenancy import TenantScoped, _default_tenant_id
from app.timeutil import UTCDateTime, utcnow

DEFAULT_RECIPIENT_ROLES = ("Signer", "NPS Recipient")

contact_role = Table(
    "contact_role",
    db.metadata,
    Column("tenant_id", ForeignKey("tenant.id", ondelete="CASCADE"), nullable=False, default=_default_tenant_id),
    Column("contact_id", ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("recipient_role.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_contact_role_tenant_role", "tenant_id", "role_id"),
)


class RecipientRole(TenantScoped, db.Model):
    __tablename__ = "recipient_role"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Contact(TenantScoped, db.Model):
    __tablename__ = "contact"
    __table_args__ = (
        Index("ix_contact_tenant_name_id", "tenant_id", "name", "id"),
        # Emails are stored lower-cased; one contact per address in a tenant.
        Index("uq_contact_tenant_email", "tenant_id", "email", unique=True),
        Index("ix_contact_tenant_external", "tenant_id", "external_id"),
        Index("ix_contact_tenant_account", "tenant_id", "account_id", "name", "id"),
        # The report rollup's sweep finds contacts whose account or roles changed (across organisations).
        Index("ix_contact_updated", "updated_at"),
        # Search by part of a name or email (PostgreSQL: pg_trgm with btree_gin; created by migration 0006).
        Index("ix_contact_name_trgm", "tenant_id", "name", postgresql_using="gin",
              postgresql_ops={"name": "gin_trgm_ops"}),
        Index("ix_contact_email_trgm", "tenant_id", "email", postgresql_using="gin",
              postgresql_ops={"email": "gin_trgm_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("customer_account.id", ondelete="SET NULL"))
    external_id: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    account: Mapped[CustomerAccount | None] = relationship()
    roles: Mapped[list[RecipientRole]] = relationship(secondary=contact_role, order_by=RecipientRole.name)

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else self.name
