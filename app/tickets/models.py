"""Detractor tickets and their append-only timeline."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.contacts.models import Contact
from app.customers.models import CustomerAccount
from app.extensions import db
from app.settings.models import RootCause
from app.surveys.models import BAND_LABELS, Response, SurveyQuestion
from app.tenancy import TenantScoped, _default_tenant_id
from app.timeutil import UTCDateTime, utcnow



class Status(StrEnum):
    """A ticket's status, as stored. Every status but CLOSED is a column of the board."""

    NEW = "new"
    CONTACTED = "contacted"
    ACTION_PLAN = "action_plan"
    WAITING = "waiting"  # "Waiting on customer" stops the resolution clock until the ticket moves on
    CLOSED = "closed"


STATUSES = {Status.NEW: "New", Status.CONTACTED: "Contacted", Status.ACTION_PLAN: "Action plan",
            Status.WAITING: "Waiting on customer", Status.CLOSED: "Closed"}
OUTCOMES = {"resolved": "Resolved", "not_resolved": "Not resolved", "no_response": "No response"}


def reference(number: int) -> str:
    """How people name a ticket: its number in its organisation, e.g. "D-0042"."""
    return f"D-{number:04d}"


def opened_because(trigger: str, score: int, band: str, question: str | None = None) -> str:
    """Why a ticket opened, in the words every page and alert uses: "Score 3 — Detractor", or the trigger
    question and its answer, "Do you feel prepared to begin treatment? — No" (a promoter may answer No).
    PHI-safe alerts say less: :func:`app.notifications.phi_safe.opened_because`."""
    if trigger == "question":
        return f"{question.strip()} — No" if question else "A trigger question answered No"
    return f"Score {score} — {BAND_LABELS.get(band, band)}"


CALL_OUTCOMES = {
    "connected": "Connected",
    "left_live_message": "Left live message",
    "left_voicemail": "Left voicemail",
    "no_answer": "No answer",
    "wrong_number": "Wrong number",
}
EMAIL_DIRECTIONS = {"outbound": "Sent to contact", "inbound": "Received from contact"}


ticket_root_cause = Table(
    "ticket_root_cause",
    db.metadata,
    Column("tenant_id", ForeignKey("tenant.id", ondelete="CASCADE"), nullable=False, default=_default_tenant_id),
    Column("ticket_id", ForeignKey("ticket.id", ondelete="CASCADE"), primary_key=True),
    Column("root_cause_id", ForeignKey("root_cause.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_ticket_root_cause_tenant_cause_ticket", "tenant_id", "root_cause_id", "ticket_id"),
)


# The expression app.tickets.board orders "SLA due soonest" by, written as PostgreSQL prints it back so that
# the comparison of models and migrations sees the same index.
CURRENT_DUE_SQL = ("COALESCE(\nCASE\n    WHEN first_contact_at IS NULL THEN first_contact_due_at\n"
                   "    ELSE resolution_due_at\nEND, '9999-12-31 00:00:00+00'::timestamp with time zone)")


# The same due time as the ticket list orders by it (app.tickets.listing.due_key: CASE alone, no COALESCE), as
# PostgreSQL prints it back.
DUE_KEY_SQL = ("(\nCASE\n    WHEN first_contact_at IS NULL THEN\n    CASE\n"
               "        WHEN first_contact_due_at IS NULL THEN '9999-12-31 00:00:00+00'::timestamp with time zone\n"
               "        ELSE first_contact_due_at\n    END\n    ELSE\n    CASE\n"
               "        WHEN resolution_due_at IS NULL THEN '9999-12-31 00:00:00+00'::timestamp with time zone\n"
               "        ELSE resolution_due_at\n    END\nEND)")
# The condition of the partial indexes of open tickets.
OPEN_SQL = "status <> 'closed'"
UNCONTACTED_CLOSED_SQL = "status = 'closed' AND first_contact_at IS NULL"


class Ticket(TenantScoped, db.Model):
    __tablename__ = "ticket"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        # The board's columns, read a keyset page at a time (app.tickets.board).
        Index("ix_ticket_board_opened", "tenant_id", "status", "opened_at", "id"),
        Index("ix_ticket_board_closed", "tenant_id", "status", "closed_at", "id"),
        Index("ix_ticket_board_mine_opened", "tenant_id", "assignee_id", "status", "opened_at", "id"),
        Index("ix_ticket_board_mine_closed", "tenant_id", "assignee_id", "status", "closed_at", "id"),
        Index("ix_ticket_tenant_account_opened", "tenant_id", "account_id", "opened_at", "id"),
        # The reports read tickets by when they were first contacted and closed (app.reports.metrics; by when they
        # opened through ix_ticket_tenant_opened below).
        # Covering: the follow-up report's percentiles of time to first contact (overall and per member) read
        # the index alone.
        Index("ix_ticket_tenant_first_contact", "tenant_id", "first_contact_at",
              postgresql_include=["first_contact_minutes", "assignee_id"]),
        Index("ix_ticket_tenant_closed", "tenant_id", "closed_at"),
        # The report rollup (app.reports.rollup) looks across tenants for tickets closed since its watermark.
        Index("ix_ticket_closed", "closed_at"),
        # ... and for tickets changed since then (closed, reopened, contacted: the days of its ticket rollup).
        Index("ix_ticket_updated", "updated_at"),
        # Closed tickets never contacted, by breach time: the follow-up report takes back from the rollup those
        # whose breach time is still ahead.
        Index("ix_ticket_closed_uncontacted_breach", "tenant_id", "first_contact_breach_at",
              postgresql_include=["opened_at"], postgresql_where=text(UNCONTACTED_CLOSED_SQL),
              sqlite_where=text(UNCONTACTED_CLOSED_SQL)),
        # "SLA due soonest": the due time that runs now (first contact until met, then resolution), undated last.
        Index("ix_ticket_board_due", "tenant_id", "status", text(CURRENT_DUE_SQL), "opened_at", "id")
        .ddl_if(dialect="postgresql"),
        # The ticket list's orders (app.tickets.listing), over all tickets and over the open ones.
        Index("ix_ticket_tenant_opened", "tenant_id", "opened_at", "id"),
        Index("ix_ticket_tenant_updated", "tenant_id", "updated_at", "id"),
        Index("ix_ticket_tenant_status_updated", "tenant_id", "status", "updated_at", "id"),
        Index("ix_ticket_tenant_assignee_opened", "tenant_id", "assignee_id", "opened_at", "id"),
        # Search by contact name (the contact's tickets).
        Index("ix_ticket_tenant_contact", "tenant_id", "contact_id"),
        Index("ix_ticket_open_opened", "tenant_id", "opened_at", "id",
              postgresql_where=text(OPEN_SQL), sqlite_where=text(OPEN_SQL)),
        Index("ix_ticket_list_due", "tenant_id", text(DUE_KEY_SQL), "opened_at", "id").ddl_if(dialect="postgresql"),
        Index("ix_ticket_open_due", "tenant_id", text(DUE_KEY_SQL), "opened_at", "id",
              postgresql_where=text(OPEN_SQL)).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer)
    response_id: Mapped[int] = mapped_column(ForeignKey("response.id", ondelete="CASCADE"), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    # The contact's account when the ticket opened.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("customer_account.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default=Status.NEW)
    # What opened it: a low score, or a yes/no trigger question answered "No".
    trigger: Mapped[str] = mapped_column(String(20), default="score")
    # For a question trigger, the yes/no question answered "No": with the score, why the ticket opened.
    trigger_question_id: Mapped[int | None] = mapped_column(ForeignKey("survey_question.id", ondelete="SET NULL"))
    # Due times are copied from the SLA settings when the ticket opens, so later changes never move them.
    first_contact_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_contact_breach_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cadence_complete_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Minutes of SLA clock time (opening hours in business mode) from opening to first contact, fixed when the
    # first contact is logged so the reports take percentiles in SQL.
    first_contact_minutes: Mapped[int | None] = mapped_column(Integer)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(20))
    closing_note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    response: Mapped[Response] = relationship()
    contact: Mapped[Contact] = relationship()
    account: Mapped[CustomerAccount | None] = relationship()
    assignee: Mapped[User | None] = relationship()
    trigger_question: Mapped[SurveyQuestion | None] = relationship()
    activities: Mapped[list["Activity"]] = relationship(
        back_populates="ticket", order_by="Activity.created_at.desc(), Activity.id.desc()"
    )
    root_causes: Mapped[list[RootCause]] = relationship(secondary=ticket_root_cause, order_by=RootCause.label)

    @property
    def reference(self) -> str:
        return reference(self.number)

    @property
    def opened_because(self) -> str:
        """Why the ticket opened, as every page and alert says it (:func:`opened_because`). Reads the response
        and, for a question trigger, the question: load them with the ticket."""
        question = self.trigger_question if self.trigger == "question" else None
        return opened_because(self.trigger, self.response.score, self.response.band,
                              question.prompt if question is not None else None)

    @property
    def status_label(self) -> str:
        return STATUSES.get(self.status, self.status)

    @property
    def outcome_label(self) -> str | None:
        return OUTCOMES.get(self.outcome) if self.outcome else None


class Activity(TenantScoped, db.Model):
    """One entry in a ticket's timeline. Rows are only ever added."""

    __tablename__ = "activity"
    __table_args__ = (
        Index("ix_activity_tenant_ticket_created", "tenant_id", "ticket_id", "created_at"),
        # Search in notes and logged calls and emails (app.search; PostgreSQL only, created by migration 0016).
        Index("ix_activity_body_trgm", "tenant_id", "body", postgresql_using="gin",
              postgresql_ops={"body": "gin_trgm_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))
    body: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="activities")
    actor: Mapped[User | None] = relationship()


class SavedView(TenantScoped, db.Model):
    """A member's named ticket-list view: the list's query string ("My overdue", "Team at risk")."""

    __tablename__ = "saved_view"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
