"""Teams: named groups of members (e.g. "Customer Success"), each with an optional manager."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.extensions import db
from app.tenancy import TenantScoped, _default_tenant_id
from app.timeutil import UTCDateTime, utcnow

team_member = Table(
    "team_member",
    db.metadata,
    Column("tenant_id", ForeignKey("tenant.id", ondelete="CASCADE"), nullable=False, default=_default_tenant_id),
    Column("team_id", ForeignKey("team.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_team_member_tenant_user", "tenant_id", "user_id"),
)


class Team(TenantScoped, db.Model):
    __tablename__ = "team"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    manager: Mapped[User | None] = relationship()
    members: Mapped[list[User]] = relationship(secondary=team_member, order_by=User.name)
