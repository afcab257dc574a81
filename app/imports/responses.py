"""Reading a CSV of past responses: the fields a column can fill (the organisation's extra survey questions
among them), the answered date as the file writes it, and each row turned into an
:class:`~app.ingestion.answers.ExternalAnswer` or the problems that keep it out.

The rules of recording (matching or creating the contact, once per answer, amending a repeat, opening a
ticket) are :func:`app.ingestion.answers.record_external_answers`'; this module only reads the file. Each row's
answer id is the file's response ID when one is mapped, else a hash of the contact, the answered time and the
score, so running the same file again records nothing new.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.accounts.models import Tenant
from app.contacts.models import Contact
from app.extensions import db
from app.imports.reading import _CONTROL, GUESSES as CONTACT_GUESSES, _plain, normalise_email, valid_email
from app.ingestion.answers import ExternalAnswer
from app.surveys.models import SurveyQuestion
from app.surveys.services import clean_answer, default_survey, survey_questions
from app.tenancy import current_tenant_id
from app.timeutil import utcnow

SOURCE = "csv"
QUESTION_PREFIX = "q"
# The fields a column can fill, in the order the mapping form shows them; the survey's extra questions follow.
FIELDS = {
    "answered_at": "Answered date",
    "email": "Contact email",
    "external_id": "Contact external ID",
    "name": "Name",
    "account": "Account name",
    "score": "Score (0–10)",
    "comment": "Comment",
    "response_id": "Response ID",
}
REQUIRED = ("answered_at", "score")
GUESSES = {
    "answered_at": ("answeredat", "answered", "answereddate", "date", "responsedate", "submittedat", "submitted",
                    "createdat", "responded", "respondedat", "surveydate", "timestamp"),
    "email": CONTACT_GUESSES["email"],
    "external_id": ("contactexternalid", "externalid", "contactid", "patientid", "identifier", "mrn"),
    "name": CONTACT_GUESSES["name"],
    "account": CONTACT_GUESSES["account"],
    "score": ("score", "npsscore", "nps", "rating", "likelihoodtorecommend"),
    "comment": ("comment", "comments", "feedback", "reason", "followup", "answer", "text"),
    "response_id": ("responseid", "answerid", "surveyresponseid", "submissionid"),
}
LIMITS = {"email": 254, "external_id": 80, "name": 120, "account": 160, "comment": 5000, "response_id": 200}
SINGLE_LINE = ("email", "external_id", "name", "account", "response_id")

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*")
_SLASHED = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_SCORE = re.compile(r"\d{1,2}")
WRITE_ISO = "write it as YYYY-MM-DD (for example 2025-04-23)"


def question_field(question_id: int) -> str:
    return f"{QUESTION_PREFIX}{question_id}"


def questions() -> list[SurveyQuestion]:
    """The organisation's extra survey questions in use, in order: each can be filled from a column."""
    return survey_questions(default_survey())[0]


def fields(extra: list[SurveyQuestion]) -> dict[str, str]:
    """``{field: label}`` for a past-responses file: :data:`FIELDS`, then one per extra question."""
    return {**FIELDS, **{question_field(q.id): q.prompt for q in extra}}


def guess_mapping(headers: list[str], extra: list[SurveyQuestion]) -> dict[str, int]:
    """``{field: column index}`` for the fields whose column the headers name; each column used once. A
    question's column is the one headed with the question's wording."""
    plain = [_plain(h) for h in headers]
    mapping: dict[str, int] = {}
    used: set[int] = set()
    guesses = {**GUESSES, **{question_field(q.id): (_plain(q.prompt),) for q in extra}}
    for field, names in guesses.items():
        for name in names:
            index = next((i for i, h in enumerate(plain) if name and h == name and i not in used), None)
            if index is not None:
                mapping[field] = index
                used.add(index)
                break
    return mapping


class DateProblem(ValueError):
    """An answered date that cannot be used; the message says why and what to write instead."""


def read_answered_at(value: str, zone: ZoneInfo, now: datetime) -> tuple[datetime, str]:
    """The answered time (UTC) a cell gives and the format it was read in.

    Accepted: ISO 8601 dates (``2025-04-23``, the start of that day in the organisation's timezone) and date
    times (``2025-04-23T14:05``, ``2025-04-23 14:05:00+02:00``; without an offset, the organisation's time), and
    ``DD/MM/YYYY`` when it cannot be read as a month-first date too (``23/04/2025``, or ``05/05/2025``).
    Raises :class:`DateProblem` for anything else and for a time in the future.
    """
    text = value.strip()
    if _ISO_DATE.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise DateProblem(f"Answered date “{text}” is not a real date.") from None
        moment, read_as = datetime.combine(day, time(), zone), "YYYY-MM-DD"
    elif _ISO_DATETIME.fullmatch(text):
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise DateProblem(f"Answered date “{text}” is not a date and time in ISO 8601; {WRITE_ISO}.") from None
        read_as = "ISO 8601 date and time"
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
    elif match := _SLASHED.fullmatch(text):
        first, second, year = (int(part) for part in match.groups())
        if first <= 12 and second <= 12 and first != second:
            raise DateProblem(f"Answered date “{text}” could be day/month or month/day; {WRITE_ISO}.")
        try:
            day = date(year, second, first)
        except ValueError:
            raise DateProblem(f"Answered date “{text}” is not a DD/MM/YYYY date; {WRITE_ISO}.") from None
        moment, read_as = datetime.combine(day, time(), zone), "DD/MM/YYYY"
    else:
        raise DateProblem(f"Answered date “{text}” is not a date; {WRITE_ISO}.")
    moment = moment.astimezone(timezone.utc)
    if moment > now:
        raise DateProblem(f"Answered date “{text}” is in the future.")
    return moment, read_as


@dataclass
class ResponseRow:
    """A row of a past-responses file as it will be recorded."""

    number: int
    values: list[str]
    answer: ExternalAnswer
    read_as: str

    @property
    def unknown_contact_key(self) -> str | None:
        """The contact external ID to look for when the row has no email address to create the contact."""
        return self.answer.contact_external_id if not self.answer.email else None


def answer_id(contact_key: str, answered_at: datetime, score: int) -> str:
    """The id a row without a response ID is recorded under: the same for the same contact, time and score."""
    text = f"{contact_key}|{answered_at.astimezone(timezone.utc).isoformat()}|{score}"
    return "row-" + hashlib.sha256(text.encode()).hexdigest()[:40]


class ResponseChecker:
    """Turns records into :class:`ResponseRow` values or problems, for one mapping; remembers each response
    it has seen (by response ID, else by contact and answered time), so a later row repeating one is a
    duplicate in the file."""

    def __init__(self, mapping: dict[str, int], extra: list[SurveyQuestion], zone: ZoneInfo,
                 now: datetime | None = None):
        self.questions = {question_field(q.id): q for q in extra}
        self.labels = fields(extra)
        self.mapping = {field: int(index) for field, index in mapping.items() if field in self.labels}
        self.zone = zone
        self.now = now or utcnow()
        self.seen: dict[str, int] = {}

    def _cells(self, values: list[str]) -> dict[str, str]:
        return {field: values[index].strip() for field, index in self.mapping.items()
                if index < len(values) and values[index].strip()}

    def remember(self, number: int, values: list[str]) -> None:
        """Note the row's response, so a later row repeating it is a duplicate (rows already imported)."""
        self.check(number, values)

    def check(self, number: int, values: list[str]) -> tuple[ResponseRow | None, list[str]]:
        """The row (None when it has problems) and its problems, in words a person can act on."""
        cells = self._cells(values)
        problems: list[str] = []
        for field, value in cells.items():
            if len(value) > LIMITS.get(field, 1000):
                problems.append(f"{self.labels[field]} is longer than {LIMITS.get(field, 1000):,} characters.")
            elif field in SINGLE_LINE and _CONTROL.search(value):
                problems.append(f"{self.labels[field]} must be on one line, without line breaks.")
        answered_at = read_as = None
        if "answered_at" not in cells:
            problems.append("Answered date is missing.")
        else:
            try:
                answered_at, read_as = read_answered_at(cells["answered_at"], self.zone, self.now)
            except DateProblem as problem:
                problems.append(str(problem))
        email = cells.get("email")
        external_id = cells.get("external_id")
        if not email and not external_id:
            problems.append("The row names no contact: give an email address or a contact external ID.")
        if email and len(email) <= LIMITS["email"] and not valid_email(email):
            problems.append(f"“{email}” is not a valid email address.")
        score = None
        if "score" not in cells:
            problems.append("Score is missing.")
        elif not _SCORE.fullmatch(cells["score"]) or int(cells["score"]) > 10:
            problems.append(f"Score “{cells['score']}” is not a whole number from 0 to 10.")
        else:
            score = int(cells["score"])
        answers = []
        for field, question in self.questions.items():
            if field in cells:
                try:
                    value = clean_answer(question, cells[field])
                except ValueError as problem:
                    problems.append(f"“{question.prompt}”: {problem}")
                    continue
                if value:
                    answers.append((question.id, value))
        contact_key = f"email:{normalise_email(email)}" if email else f"id:{external_id}"
        if answered_at is not None and (email or external_id):
            key = f"response:{cells['response_id']}" if cells.get("response_id") else \
                f"{contact_key}|{answered_at.isoformat()}"
            first = self.seen.setdefault(key, number)
            if first != number:
                what = "response ID" if cells.get("response_id") else "contact and answered date"
                problems.append(f"Duplicate in file: the same {what} as row {first}.")
        if problems:
            return None, problems
        answer = ExternalAnswer(
            source=SOURCE, external_id=cells.get("response_id") or answer_id(contact_key, answered_at, score),
            score=score, email=normalise_email(email) if email else None, contact_external_id=external_id,
            name=cells.get("name"), account_name=cells.get("account"), comment=cells.get("comment"),
            answered_at=answered_at, answers=tuple(answers))
        return ResponseRow(number=number, values=values, answer=answer, read_as=read_as), []


def organisation_zone() -> ZoneInfo:
    name = db.session.execute(select(Tenant.timezone).where(Tenant.id == current_tenant_id())).scalar_one()
    return ZoneInfo(name or "UTC")


def unknown_contacts(rows: list[ResponseRow]) -> set[str]:
    """The contact external IDs that rows without an email address give and no contact has: one statement."""
    wanted = {row.unknown_contact_key for row in rows if row.unknown_contact_key}
    if not wanted:
        return set()
    found = db.session.execute(select(Contact.external_id).where(Contact.external_id.in_(wanted))).scalars()
    return wanted - set(found)


def unknown_contact_problem(external_id: str) -> str:
    return (f"No contact has the external ID “{external_id}”, and the row has no email address to add the "
            "contact.")


def ticket_window_start(ticket_days: int | None, now: datetime) -> datetime | None:
    """Answers at or after this time may open a ticket; None: none may."""
    return None if ticket_days is None else now - timedelta(days=ticket_days)
