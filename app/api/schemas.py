"""What the API reads and writes, as pydantic models: spectree validates requests and responses against them
and the OpenAPI document (JSON Schema 2020-12, as OpenAPI 3.1 uses) is generated from them."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.api.models import WEBHOOK_EVENTS
from app.tenancy import ID_MAX

MAX_PAGE = 100


def _storable(value: str) -> str:
    """Text PostgreSQL can keep: no NUL character, and valid Unicode."""
    if "\x00" in value:
        raise ValueError("text cannot contain the NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode") from None
    return value


def Text(max_length: int, min_length: int = 0):  # noqa: N802  (a type)
    return Annotated[str, Field(min_length=min_length, max_length=max_length), AfterValidator(_storable)]


Id = Annotated[int, Field(ge=1, le=ID_MAX)]
Name = Text(120, 1)
Email = Text(254, 3)
Time = datetime


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Input(BaseModel):
    """A request body: unknown fields are refused, so a typo is an error rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Model):
    code: str
    message: str
    field: str | None = None


class ErrorBody(Model):
    """Every error answer."""

    error: ErrorDetail


class PageQuery(Model):
    limit: int = Field(25, ge=1, le=MAX_PAGE, description="How many items a page holds (1–100).")
    cursor: Annotated[str, Field(max_length=500), AfterValidator(_storable)] | None = Field(
        None, description="The next_cursor of the previous page.")


class Paged(Model):
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last page.")


# --- Contacts ------------------------------------------------------------------------------------------

class Contact(Model):
    id: int
    name: str
    email: str
    phone: str | None
    external_id: str | None
    account_id: int | None
    roles: list[str]
    created_at: Time
    updated_at: Time


class ContactList(Paged):
    data: list[Contact]


class ContactQuery(PageQuery):
    email: Text(254) | None = None
    external_id: Text(80) | None = None
    account_id: Id | None = None
    role: Text(80) | None = Field(None, description="A recipient role's name.")
    updated_since: datetime | None = Field(None, description="Only contacts changed at or after this time.")


class ContactFields(Input):
    phone: Text(40) | None = None
    external_id: Text(80) | None = None
    account_id: Id | None = None
    roles: list[Text(80)] | None = Field(None, max_length=50, description="Recipient role names.")


class ContactCreate(ContactFields):
    name: Name
    email: Email


class ContactUpdate(ContactFields):
    name: Name | None = None
    email: Email | None = None


class ContactUpsert(ContactFields):
    name: Name


# --- Accounts ------------------------------------------------------------------------------------------

AccountStatus = Literal["active", "at_risk", "churned"]


class Account(Model):
    id: int
    name: str
    external_id: str | None
    status: AccountStatus
    status_reason: str | None
    owner_id: int | None
    notes: str | None
    created_at: Time
    updated_at: Time


class AccountList(Paged):
    data: list[Account]


class AccountQuery(PageQuery):
    name: Text(160) | None = None
    external_id: Text(80) | None = None
    status: AccountStatus | None = None
    updated_since: datetime | None = None


class AccountFields(Input):
    external_id: Text(80) | None = None
    status: AccountStatus | None = None
    status_reason: Text(300) | None = None
    owner_id: Id | None = Field(None, description="An active member's user id (the account manager).")
    notes: Text(10000) | None = None


class AccountCreate(AccountFields):
    name: Text(160, 1)


class AccountUpdate(AccountFields):
    name: Text(160, 1) | None = None


# --- Survey sends --------------------------------------------------------------------------------------

class SurveySendCreate(Input):
    contact_ids: list[Id] | None = Field(None, min_length=1, max_length=1000,
                                         description="Send to these contacts (at most 1,000)...")
    role: Text(80, 1) | None = Field(None, description="...or to every contact holding this recipient role.")


class Skipped(Model):
    reason: Literal["not_found", "throttled"]
    count: int
    contact_ids: list[int] | None = Field(description="Which contacts, for a send to chosen contacts.")
    detail: str


class SurveySend(Model):
    id: int
    status: Literal["queued", "running", "done", "failed"]
    role: str | None
    contact_ids: list[int] | None
    total: int
    queued: int
    skipped_throttled: int
    throttle_days: int
    created_at: Time
    finished_at: Time | None


class SurveySendResult(Model):
    send: SurveySend
    to_send: int = Field(description="How many contacts the send will email.")
    skipped: list[Skipped]


# --- Responses -----------------------------------------------------------------------------------------

class Response(Model):
    id: int
    contact_id: int
    survey_id: int
    score: int
    band: Literal["detractor", "passive", "promoter"]
    comment: str | None
    source: str
    ticket_id: int | None
    created_at: Time
    updated_at: Time


class ResponseList(Paged):
    data: list[Response]


class ResponseCreate(Model):
    """An answer collected elsewhere. ``source`` and ``external_id`` identify it: sending it again amends it."""

    source: Text(20, 1)
    external_id: Text(200, 1)
    score: Annotated[int, Field(ge=0, le=10)]
    email: Email | None = None
    contact_external_id: Text(80) | None = None
    name: Name | None = None
    account: Text(160) | None = None
    account_external_id: Text(80) | None = None
    comment: Text(5000) | None = None
    answered_at: datetime | None = None


class ResponseQuery(PageQuery):
    contact_id: Id | None = None
    band: Literal["detractor", "passive", "promoter"] | None = None
    source: Text(20) | None = None
    updated_since: datetime | None = None


# --- Tickets -------------------------------------------------------------------------------------------

TicketStatus = Literal["new", "contacted", "action_plan", "waiting", "closed"]


class Ticket(Model):
    id: int
    reference: str
    status: TicketStatus
    trigger: str
    assignee_id: int | None
    contact_id: int
    account_id: int | None
    response_id: int
    opened_at: Time
    first_contact_due_at: Time | None
    first_contact_at: Time | None
    resolution_due_at: Time | None
    closed_at: Time | None
    outcome: Literal["resolved", "not_resolved", "no_response"] | None
    closing_note: str | None
    updated_at: Time


class Activity(Model):
    id: int
    kind: str
    body: str | None
    details: dict[str, Any]
    actor_id: int | None
    created_at: Time


class TicketDetail(Ticket):
    timeline: list[Activity] = Field(description="Newest first.")


class TicketList(Paged):
    data: list[Ticket]


class TicketQuery(PageQuery):
    status: TicketStatus | None = None
    assignee_id: Id | None = None
    account_id: Id | None = None
    contact_id: Id | None = None
    updated_since: datetime | None = None


class TicketUpdate(Input):
    status: TicketStatus | None = Field(None, description="closed needs outcome, closing_note and root_cause_ids.")
    assignee_id: Id | None = Field(None, description="An active admin, manager or agent.")
    outcome: Literal["resolved", "not_resolved", "no_response"] | None = None
    closing_note: Text(5000) | None = None
    root_cause_ids: list[Id] | None = Field(None, max_length=50)
    override_reason: Text(1000) | None = None


class ActivityCreate(Input):
    kind: Literal["note", "call", "email"]
    body: Text(5000) | None = Field(None, description="The note; a call's notes; an email's summary.")
    called: Text(120) | None = Field(None, description="Call: who was called (the contact by default).")
    outcome: Literal["connected", "left_live_message", "left_voicemail", "no_answer", "wrong_number"] | None = None
    direction: Literal["outbound", "inbound"] | None = Field(None, description="Email: sent or received.")
    subject: Text(200) | None = None


# --- Webhook endpoints ---------------------------------------------------------------------------------

WebhookEvent = Literal[tuple(WEBHOOK_EVENTS)]  # type: ignore[valid-type]


class WebhookEndpoint(Model):
    id: int
    url: str
    description: str | None
    events: list[WebhookEvent] = Field(description="The events it hears; every event when empty.")
    created_at: Time


class WebhookEndpointCreated(WebhookEndpoint):
    secret: str = Field(description="The whsec_ signing secret. Shown only now: keep it.")


class WebhookEndpointList(Paged):
    data: list[WebhookEndpoint]


class WebhookEndpointCreate(Input):
    url: Text(2000, 8)
    description: Text(200) | None = None
    events: list[WebhookEvent] = Field(default_factory=list, max_length=len(WEBHOOK_EVENTS))


class WebhookDelivery(Model):
    id: int
    event_type: WebhookEvent
    webhook_id: str = Field(description="The webhook-id header of every attempt.")
    status: Literal["pending", "sending", "delivered", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: Time | None
    last_attempt_at: Time | None
    delivered_at: Time | None
    created_at: Time


class WebhookDeliveryList(Paged):
    data: list[WebhookDelivery]
