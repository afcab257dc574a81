"""What the API reads and writes, as pydantic models: spectree validates requests and responses against them
and the OpenAPI document (JSON Schema 2020-12, as OpenAPI 3.1 uses) is generated from them."""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.api.models import WEBHOOK_EVENTS
from app.integrations.models import KINDS as INTEGRATION_KINDS
from app.reports.metrics import BREAKDOWNS
from app.tenancy import ID_MAX
from app.tickets.listing import BANDS as LIST_BANDS
from app.tickets.listing import OPEN, SEARCH_MAX, SORTS, TRIGGERS
from app.tickets.models import STATUSES
from app.workflow.ticket_sla import SLA_FILTERS

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
    email: Text(254) | None = Field(None, description="Only the contact with this email address (any case).")
    external_id: Text(80) | None = Field(None, description="Only the contact with this external id.")
    account_id: Id | None = Field(None, description="Only the contacts of this account.")
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
    name: Text(160) | None = Field(None, description="Only the account with exactly this name.")
    external_id: Text(80) | None = Field(None, description="Only the account with this external id.")
    status: AccountStatus | None = Field(None, description="Only accounts in this status.")
    updated_since: datetime | None = Field(None, description="Only accounts changed at or after this time.")


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
    contact_id: Id | None = Field(None, description="Only this contact's responses.")
    band: Literal["detractor", "passive", "promoter"] | None = Field(None, description="Only responses in this band.")
    source: Text(20) | None = Field(None, description="Only responses from this source: hosted, csv, a survey "
                                                      "tool's kind (generic, delighted, …) or the source an API "
                                                      "caller named.")
    updated_since: datetime | None = Field(None, description="Only responses recorded or amended at or after "
                                                             "this time.")


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
    """The ticket list's filters (app.tickets.listing), named as in the list page's address, so a list
    view's query string works here as it is."""

    status: Literal[(OPEN, *STATUSES)] | None = Field(  # type: ignore[valid-type]
        None, description="open (any status but closed) or one status.")
    sla: Literal[tuple(SLA_FILTERS)] | None = Field(  # type: ignore[valid-type]
        None, description="SLA state now: ok (on time), at_risk, overdue (breached) or paused (waiting on "
                          "the customer).")
    assignee: Literal["me", "none"] | Id | None = Field(
        None, description="A member's user id, none (unassigned) or me (the admin who created the token).")
    assignee_id: Id | None = Field(None, description="The same as assignee with a user id.")
    team: Literal["mine"] | Id | None = Field(
        None, description="A team's id, or mine (every team the token's admin is in): tickets assigned to its "
                          "members.")
    band: Literal[tuple(LIST_BANDS)] | None = Field(  # type: ignore[valid-type]
        None, description="The band of the answer that opened the ticket.")
    trigger: Literal[tuple(TRIGGERS)] | None = Field(  # type: ignore[valid-type]
        None, description="What opened it: score (a low score) or question (a trigger question answered No).")
    cause: Id | None = Field(None, description="A root cause's id.")
    account: Text(SEARCH_MAX) | None = Field(None, description="Part of the account's name.")
    account_id: Id | None = Field(None, description="One account's tickets, by its id.")
    contact_id: Id | None = Field(None, description="One contact's tickets, by its id.")
    opened_from: date | None = Field(None, description="Opened on or after this day (the organisation's "
                                                         "timezone).")
    opened_to: date | None = Field(None, description="Opened on or before this day (the organisation's timezone).")
    updated_since: datetime | None = Field(None, description="Changed at or after this time.")
    q: Text(SEARCH_MAX) | None = Field(None, description="Words found in the answer's comment, a timeline "
                                                         "entry or the contact's name.")
    sort: Literal[tuple(SORTS)] | None = Field(  # type: ignore[valid-type]
        None, description="opened (the default), due (the SLA due time the ticket races), score, status or "
                          "updated.")
    dir: Literal["asc", "desc"] | None = Field(
        None, description="asc or desc. Without sort: opened, oldest first; with sort: the list page's first "
                          "direction for it (opened and updated newest first, the others ascending).")


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


# --- Integrations --------------------------------------------------------------------------------------

IntegrationKind = Literal[tuple(INTEGRATION_KINDS)]  # type: ignore[valid-type]
Key = Text(60, 1)
Value = Annotated[str, AfterValidator(_storable)]


class Integration(Model):
    id: int
    kind: IntegrationKind
    name: str
    enabled: bool
    receiving_url: str | None = Field(
        description="Where the survey tool posts (null for HubSpot, which is polled). For Qualtrics without its "
                    "?key=, which is a secret: the whole URL is in the answer that created it.")
    settings: dict[str, str] = Field(description="What is not secret: field refs, question ids, API base URL.")
    credentials_stored: list[str] = Field(description="The names of the credentials stored (never their values).")
    created_at: Time
    last_polled_at: Time | None


class IntegrationCreated(Integration):
    receiving_url: str | None = Field(description="Where the survey tool posts (null for HubSpot), with its ?key= "
                                                  "for Qualtrics.")
    signing_secret: str | None = Field(
        description="The whsec_ secret the tool signs with (Typeform, Qualtrics, generic webhooks; null for the "
                    "others, which sign with their own key). Shown only now: keep it.")


class IntegrationList(Paged):
    data: list[Integration]


def _fields_of(attribute: str) -> str:
    """Which credentials or settings each kind of source has, for the document."""
    from app.integrations.sources import SOURCES

    named = {kind: [entry[0] for entry in getattr(SOURCES[kind], attribute)] for kind in INTEGRATION_KINDS}
    return "; ".join(f"{kind}: {', '.join(names)}" for kind, names in named.items() if names)


class IntegrationCreate(Input):
    """As Settings → Integrations connects a source, and with the settings its page then asks for."""

    kind: IntegrationKind
    name: Text(500) | None = Field(None, description="The source's name by default; at most 120 characters.")
    credentials: dict[Key, Value] = Field(
        default_factory=dict, max_length=10,
        description="By kind: " + _fields_of("CREDENTIALS") + ". At most 500 characters each. Stored encrypted, "
                    "never shown again.")
    settings: dict[Key, Value] = Field(
        default_factory=dict, max_length=10,
        description="By kind: " + _fields_of("SETTINGS") + ". At most 300 characters each; a setting left out "
                    "takes its default.")


# --- Reports -------------------------------------------------------------------------------------------

class ReportQuery(Model):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    from_: date | None = Field(None, alias="from", description="The first day (the organisation's timezone). "
                                                                 "Without from and to: the last 30 days.")
    to: date | None = Field(None, description="The last day, included; at most three years after from.")


class NpsReportQuery(ReportQuery):
    group_by: Literal[("week", "month", *BREAKDOWNS)] | None = Field(  # type: ignore[valid-type]
        None, description="The series: by week (Monday first) or month answered (by default week up to 126 days, "
                          "month beyond), or by account, recipient role, survey source or account owner (at "
                          "most 50 rows, most responses first).")


class ReportPeriod(Model):
    first_day: date
    last_day: date
    days: int
    timezone: str


class NpsFigures(Model):
    nps: float | None = Field(description="% promoters − % detractors, one decimal; null without responses.")
    responses: int
    promoters: int
    passives: int
    detractors: int


class NpsPoint(NpsFigures):
    key: str | int | None = Field(description="The week's or month's first day, the account, role or owner id, "
                                              "or the source; null for responses without an account, role or owner.")
    label: str


class NpsReport(NpsFigures):
    period: ReportPeriod
    promoters_percent: float | None
    passives_percent: float | None
    detractors_percent: float | None
    previous_nps: float | None = Field(description="NPS of the previous period of the same length.")
    change: float | None = Field(description="nps − previous_nps.")
    invitations_sent: int
    invitations_answered: int
    invitations_open: int = Field(description="Sent in the period, unanswered, link not expired yet.")
    response_rate: float | None = Field(description="Invitations answered ÷ sent, in %.")
    group_by: str
    series: list[NpsPoint]


class SlaBreaches(Model):
    first_contact: int = Field(description="Opened in the period and past the first-contact breach time without "
                                           "contact.")
    resolution: int = Field(description="Opened in the period and closed after (or still open past) the "
                                        "resolution due time.")


class Outcomes(Model):
    resolved: int
    not_resolved: int
    no_response: int


class MemberFigures(Model):
    user_id: int
    name: str
    capacity: int
    open_now: int
    load_percent: float | None
    closed: int
    first_contacts: int
    median_first_contact_minutes: int | None


class RecoveryFigures(Model):
    resurveyed: int = Field(description="Detractors whose re-survey was answered in the period.")
    now_passive: int
    now_promoter: int
    recovery_rate: float | None = Field(description="(now_passive + now_promoter) ÷ resurveyed, in %.")
    average_change: float | None = Field(description="Average follow-up score minus the score that opened the "
                                                     "ticket.")


class FollowUpReport(Model):
    period: ReportPeriod
    opened: int
    closed: int
    open_now: int
    first_contacts: int = Field(description="Tickets first contacted in the period.")
    first_contact_median_minutes: int | None = Field(description="Time to first contact, business time.")
    first_contact_p90_minutes: int | None
    first_contact_within_target: int
    first_contact_within_target_percent: float | None
    resolved_within_target: int
    resolved_within_target_percent: float | None = Field(description="Of the tickets closed in the period.")
    sla_breaches: SlaBreaches
    outcomes: Outcomes = Field(description="Tickets closed in the period by outcome.")
    action_plan_items_overdue: int = Field(description="Now, on open tickets, whatever the period.")
    members: list[MemberFigures]
    recovery: RecoveryFigures
