"""What keeps a ticket moving: tasks, action-plan items and scheduled notices, all rows with due times."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.extensions import db
from app.tenancy import TenantScoped
from app.timeutil import UTCDateTime, utcnow


class Task(TenantScoped, db.Model):
    __tablename__ = "task"
    __table_args__ = (
        Index("ix_task_tenant_owner_open_due", "tenant_id", "owner_id", "due_at", "id",
              postgresql_where=text("done_at IS NULL"), sqlite_where=text("done_at IS NULL")),
        Index("ix_task_tenant_ticket", "tenant_id", "ticket_id"),
        Index("ix_task_remind_due", "remind_at", "reminded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(12), default="custom")
    cadence_step: Mapped[int | None] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])


class ActionPlanItem(TenantScoped, db.Model):
    __tablename__ = "action_plan_item"
    __table_args__ = (Index("ix_action_plan_item_tenant_ticket", "tenant_id", "ticket_id", "position"),
                      Index("ix_action_plan_item_due", "due_date", "done_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    owner_team: Mapped[str | None] = mapped_column(String(120))
    due_date: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])


class ScheduledNotice(TenantScoped, db.Model):
    """A notice owed at a time (SLA at risk, SLA breached, task reminder, overdue item).

    ``key`` names the event ("ticket:12:first_contact_breached") and is unique per tenant, so the same
    notice can never be scheduled twice; the sweep claims a due row by setting ``sent_at`` conditionally.
    """

    __tablename__ = "scheduled_notice"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key"),
        Index("ix_scheduled_notice_due", "sent_at", "due_at"),
        # Only the rows still owed, so cancelled notices never pile up in the sweep's path.
        Index("ix_scheduled_notice_owed", "due_at", postgresql_where=text("sent_at IS NULL AND cancelled_at IS NULL"),
              sqlite_where=text("sent_at IS NULL AND cancelled_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(40))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("action_plan_item.id", ondelete="CASCADE"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
