"""Surveys, the invitations that carry them and the responses that come back."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.contacts.models import Contact, RecipientRole
from app.extensions import db
from app.tenancy import TenantScoped
from app.timeutil import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.accounts.models import Tenant, User
    from app.feedback.models import Theme

DEFAULT_QUESTION = "How likely is it that you would recommend {organisation} to a friend or colleague?"
DEFAULT_FOLLOWUPS = {
    "detractor": "We are sorry you feel this way, please tell us what was missing or disappointing "
    "in your experience with us?",
    "passive": "Can you tell us more about your experience, how we can make you a raving fan?",
    "promoter": "We want to know more, can you tell us why you are such a raving fan?",
}
DEFAULT_THANKS = {
    "detractor": "Thank you for telling us. Someone from our team will be in touch to put this right.",
    "passive": "Thank you for your feedback. It helps us get better.",
    "promoter": "Thank you! We are glad to have you with us.",
}
QUESTION_KINDS = {"yes_no": "Yes / no", "text": "Short text"}
BAND_LABELS = {"detractor": "Detractor", "passive": "Passive", "promoter": "Promoter"}
# Where a response came from, as people read it: the hosted survey page, a file of past responses, or a
# connected survey tool (its kind); an answer posted through the API keeps the source its program named.
SOURCE_LABELS = {"hosted": "Hosted survey", "csv": "Import"}


def source_label(source: str | None) -> str:
    """The name of a response's source (see :data:`SOURCE_LABELS`)."""
    from app.integrations.models import KINDS

    return SOURCE_LABELS.get(source or "") or KINDS.get(source or "") or (source or "")


class Survey(TenantScoped, db.Model):
    __tablename__ = "survey"
    __table_args__ = (Index("ix_survey_tenant", "tenant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), default="NPS survey")
    question: Mapped[str] = mapped_column(Text, default=DEFAULT_QUESTION)
    detractor_max: Mapped[int] = mapped_column(Integer, default=6)
    passive_max: Mapped[int] = mapped_column(Integer, default=8)
    ticket_trigger_max: Mapped[int] = mapped_column(Integer, default=6)
    followup_detractor: Mapped[str] = mapped_column(Text, default=DEFAULT_FOLLOWUPS["detractor"])
    followup_passive: Mapped[str] = mapped_column(Text, default=DEFAULT_FOLLOWUPS["passive"])
    followup_promoter: Mapped[str] = mapped_column(Text, default=DEFAULT_FOLLOWUPS["promoter"])
    thanks_detractor: Mapped[str] = mapped_column(Text, default=DEFAULT_THANKS["detractor"])
    thanks_passive: Mapped[str] = mapped_column(Text, default=DEFAULT_THANKS["passive"])
    thanks_promoter: Mapped[str] = mapped_column(Text, default=DEFAULT_THANKS["promoter"])
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def band_for(self, score: int) -> str:
        if score <= self.detractor_max:
            return "detractor"
        if score <= self.passive_max:
            return "passive"
        return "promoter"

    def followup_for(self, band: str) -> str:
        return getattr(self, f"followup_{band}")

    def thanks_for(self, band: str) -> str:
        return getattr(self, f"thanks_{band}")

    def question_for(self, organisation: str) -> str:
        return self.question.replace("{organisation}", organisation)


class SurveyQuestion(TenantScoped, db.Model):
    """An extra question shown to chosen bands; a yes/no question may open a ticket when answered No."""

    __tablename__ = "survey_question"
    __table_args__ = (Index("ix_survey_question_tenant_survey", "tenant_id", "survey_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12), default="yes_no")
    prompt: Mapped[str] = mapped_column(Text)
    bands: Mapped[list] = mapped_column(JSON, default=lambda: ["detractor", "passive", "promoter"])
    opens_ticket_on_no: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


SEND_STATES = {"queued": "Queued", "running": "Sending", "done": "Done", "failed": "Failed"}


class SurveySend(TenantScoped, db.Model):
    """One send of a survey to a recipient role or to a list of contacts, worked through by a job in batches.

    ``last_contact_id`` is the job's place: contacts are taken in id order, and each batch's invitations,
    outbox rows and this row's progress commit together, so a job that dies resumes after the last batch
    that committed. ``lease_until`` is how long the running job holds the send.
    """

    __tablename__ = "survey_send"
    __table_args__ = (
        Index("ix_survey_send_tenant_created", "tenant_id", "created_at"),
        # The sweep looks across tenants for sends whose job was lost, so this one leads with status.
        Index("ix_survey_send_status", "status", "lease_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"))
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    role_id: Mapped[int | None] = mapped_column(ForeignKey("recipient_role.id", ondelete="SET NULL"))
    contact_ids: Mapped[list | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    total: Mapped[int] = mapped_column(Integer, default=0)
    queued: Mapped[int] = mapped_column(Integer, default=0)
    skipped_throttled: Mapped[int] = mapped_column(Integer, default=0)
    throttle_days: Mapped[int] = mapped_column(Integer, default=0)
    last_contact_id: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    role: Mapped[RecipientRole | None] = relationship()

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    @property
    def state_label(self) -> str:
        return SEND_STATES.get(self.status, self.status)

    @property
    def processed(self) -> int:
        return self.queued + self.skipped_throttled


class SurveyInvitation(TenantScoped, db.Model):
    """One survey sent to one contact; the token in its links is stored only as a SHA-256 hash."""

    __tablename__ = "survey_invitation"
    __table_args__ = (
        Index("ix_survey_invitation_tenant_contact", "tenant_id", "contact_id", "created_at"),
        Index("ix_survey_invitation_tenant_created", "tenant_id", "created_at"),
        # The report rollup (app.reports.rollup) looks across tenants for invitations sent since its watermark.
        Index("ix_survey_invitation_created", "created_at"),
        # The few recovery re-surveys, found without reading every invitation (the follow-up report).
        Index("ix_survey_invitation_tenant_followup", "tenant_id", "followup_ticket_id",
              postgresql_where=text("followup_ticket_id IS NOT NULL"),
              sqlite_where=text("followup_ticket_id IS NOT NULL")),
        # A send invites a contact once, however often its job runs (see app.surveys.sending).
        UniqueConstraint("send_id", "contact_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    send_id: Mapped[int | None] = mapped_column(ForeignKey("survey_send.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A recovery re-survey (app.feedback.recovery): the closed ticket whose contact it asks again.
    followup_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="SET NULL",
                                                                      use_alter=True))

    survey: Mapped[Survey] = relationship()
    contact: Mapped[Contact] = relationship()
    response: Mapped["Response | None"] = relationship(back_populates="invitation", uselist=False)
    # Read-only: the survey page loads it with the invitation (it is reached by token, outside any tenant).
    tenant: Mapped["Tenant"] = relationship("Tenant", viewonly=True)


class Response(TenantScoped, db.Model):
    __tablename__ = "response"
    __table_args__ = (
        Index("ix_response_tenant_created", "tenant_id", "created_at"),
        Index("ix_response_tenant_contact", "tenant_id", "contact_id"),
        # The ticket list's order by score (app.tickets.listing).
        Index("ix_response_tenant_score", "tenant_id", "score", "id"),
        # The report rollup (app.reports.rollup) looks across tenants for responses changed since its watermark.
        Index("ix_response_updated", "updated_at"),
        # The feedback inbox, newest first, a keyset page at a time (app.feedback.inbox).
        Index("ix_response_tenant_created_id", "tenant_id", "created_at", "id"),
        # Search in comments (app.search; PostgreSQL: pg_trgm with btree_gin, created by migration 0016).
        Index("ix_response_comment_trgm", "tenant_id", "comment", postgresql_using="gin",
              postgresql_ops={"comment": "gin_trgm_ops"}),
        # An answer collected elsewhere is recorded once per source (app.ingestion.answers).
        UniqueConstraint("tenant_id", "source", "external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"))
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("survey_invitation.id", ondelete="SET NULL"), unique=True
    )
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    score: Mapped[int] = mapped_column(Integer)
    band: Mapped[str] = mapped_column(String(12))
    comment: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20), default="hosted")
    external_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # The respondent may amend the answer through the same link until this time.
    amendable_until: Mapped[datetime] = mapped_column(UTCDateTime)
    # Marked reviewed in the feedback inbox (app.feedback).
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    survey: Mapped[Survey] = relationship()
    contact: Mapped[Contact] = relationship()
    invitation: Mapped[SurveyInvitation | None] = relationship(back_populates="response")

    answers: Mapped[list["ResponseAnswer"]] = relationship(back_populates="response")
    # Tagged in the feedback inbox (app.feedback.models.Theme).
    themes: Mapped[list["Theme"]] = relationship(secondary="response_theme", order_by="Theme.label")
    reviewed_by: Mapped["User | None"] = relationship(foreign_keys=[reviewed_by_id])

    @property
    def band_label(self) -> str:
        return BAND_LABELS.get(self.band, self.band)


class ResponseAnswer(TenantScoped, db.Model):
    __tablename__ = "response_answer"
    __table_args__ = (UniqueConstraint("response_id", "question_id"),
                      Index("ix_response_answer_tenant_question", "tenant_id", "question_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("response.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("survey_question.id", ondelete="CASCADE"))
    value: Mapped[str] = mapped_column(Text)

    response: Mapped[Response] = relationship(back_populates="answers")
    question: Mapped[SurveyQuestion] = relationship()
