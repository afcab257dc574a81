"""Answers collected elsewhere: the one way a response from outside Turnaround is recorded.

Every source — a signed webhook (app.integrations), the HubSpot poller, the REST API's ``POST /responses``, a
CSV of past responses — turns what it received into an :class:`ExternalAnswer` and calls
:func:`record_external_answer`, which

1. finds the contact by email, else by external id, or creates it (with its account, found by external id,
   else by name, or created) when the answer carries an email address;
2. records the response once per ``(source, external_id)`` (a unique constraint: however often and however
   concurrently an answer is delivered, it is one response), and amends that response when the same answer
   arrives again with more (a comment that came later, a changed score);
3. opens the ticket exactly as a hosted answer does (:func:`app.surveys.services.apply_trigger_rule`).

The caller runs it inside the organisation's tenant context and commits (jobs are queued after commit). It
raises :class:`UnmatchedContact` when no contact can be found or created, and :class:`InvalidAnswer` when the
answer cannot be recorded (a score outside 0–10, no external id); both leave nothing written.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app import notifications
from app.contacts.models import Contact
from app.customers.models import CustomerAccount
from app.extensions import db
from app.surveys.models import Response
from app.surveys.services import apply_trigger_rule, default_survey, store_answers
from app.timeutil import utcnow

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InvalidAnswer(ValueError):
    """The answer cannot be recorded; the message says why, for a delivery log or an API error."""


class UnmatchedContact(InvalidAnswer):
    """No contact has the answer's external id, and the answer carries no email address to create one."""


@dataclass(frozen=True)
class ExternalAnswer:
    """One answer collected outside Turnaround.

    ``source`` names where it came from (``delighted``, ``typeform``, ``surveymonkey``, ``qualtrics``,
    ``hubspot``, ``generic``, ``api``, ``csv``); ``external_id`` is that source's id for the answer: the pair
    identifies the response. The contact is given by ``email`` and/or ``contact_external_id``; ``name``,
    ``account_name`` and ``account_external_id`` are used when a contact or account has to be created.
    ``answered_at`` defaults to the time it is recorded. ``answers`` are extra answers as (survey question id,
    value) pairs.
    """

    source: str
    external_id: str
    score: int
    email: str | None = None
    contact_external_id: str | None = None
    name: str | None = None
    account_name: str | None = None
    account_external_id: str | None = None
    comment: str | None = None
    answered_at: datetime | None = None
    answers: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class RecordedAnswer:
    """What :func:`record_external_answer` did: ``outcome`` is ``created``, ``amended`` or ``unchanged``."""

    response_id: int
    contact_id: int
    outcome: str
    ticket_id: int | None


def _text(value, limit: int) -> str | None:
    value = " ".join(str(value).split()) if value is not None else ""
    return value[:limit] or None


def _check(answer: ExternalAnswer) -> None:
    score = answer.score
    if not isinstance(score, int) or isinstance(score, bool) or not 0 <= score <= 10:
        raise InvalidAnswer(f"The score must be a whole number from 0 to 10, not {score!r}.")
    if not (answer.source or "").strip() or len(answer.source) > 20:
        raise InvalidAnswer("The answer names no source.")
    if not (answer.external_id or "").strip() or len(answer.external_id) > 200:
        raise InvalidAnswer("The answer has no external id (up to 200 characters).")
    if answer.answered_at is not None and answer.answered_at.tzinfo is None:
        raise InvalidAnswer("The answer time must say its timezone (UTC is best).")
    if answer.email is not None and (len(answer.email) > 254 or not EMAIL.match(answer.email.strip())):
        raise InvalidAnswer("The email address is not valid.")


def _in_savepoint(create):
    """Run ``create()`` in a savepoint; None when a unique constraint says another transaction got there first."""
    try:
        with db.session.begin_nested():
            return create()
    except IntegrityError:
        return None


def _account(answer: ExternalAnswer) -> CustomerAccount | None:
    external_id = _text(answer.account_external_id, 80)
    name = _text(answer.account_name, 160)
    if external_id:
        found = db.session.execute(select(CustomerAccount).where(CustomerAccount.external_id == external_id)
                                   .order_by(CustomerAccount.id).limit(1)).scalar_one_or_none()
        if found is not None:
            return found
    if not name:
        return None

    def by_name():
        return db.session.execute(select(CustomerAccount).where(CustomerAccount.name == name)).scalar_one_or_none()

    def create():
        account = CustomerAccount(name=name, external_id=external_id)
        db.session.add(account)
        db.session.flush()
        return account

    return by_name() or _in_savepoint(create) or by_name()


def _contact(answer: ExternalAnswer) -> Contact:
    email = (answer.email or "").strip().lower() or None
    external_id = _text(answer.contact_external_id, 80)

    def find():
        if email:
            found = db.session.execute(select(Contact).where(func.lower(Contact.email) == email)).scalar_one_or_none()
            if found is not None:
                return found
        if external_id:
            return db.session.execute(select(Contact).where(Contact.external_id == external_id)
                                      .order_by(Contact.id).limit(1)).scalar_one_or_none()
        return None

    contact = find()
    if contact is None:
        if not email:
            raise UnmatchedContact("No contact has this external id, and the answer has no email address to "
                                   "create one.")
        account = _account(answer)

        def create():
            new = Contact(name=_text(answer.name, 120) or email.split("@")[0], email=email, external_id=external_id,
                          account_id=account.id if account else None)
            db.session.add(new)
            db.session.flush()
            return new

        contact = _in_savepoint(create) or find()
        if contact is None:
            raise InvalidAnswer("The contact could not be created.")
        return contact
    if contact.external_id is None and external_id:
        contact.external_id = external_id
    if contact.account_id is None and (answer.account_name or answer.account_external_id):
        account = _account(answer)
        if account is not None:
            contact.account_id = account.id
    return contact


def _existing(source: str, external_id: str) -> Response | None:
    return db.session.execute(
        select(Response).where(Response.source == source, Response.external_id == external_id)
        .with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()


def record_external_answer(answer: ExternalAnswer, *, open_tickets: bool = True) -> RecordedAnswer:
    """Record ``answer`` for the current organisation (see the module docstring); idempotent on
    ``(answer.source, answer.external_id)``.

    A repeat changes the stored response only with what it adds: a comment replaces the stored one when it is
    given (a repeat without a comment keeps it), a different score changes the score and band and is noted on
    the ticket. ``open_tickets=False`` records history without opening tickets (past responses loaded from a
    file). Raises :class:`InvalidAnswer` (or :class:`UnmatchedContact`) with nothing written.
    """
    _check(answer)
    source, external_id = answer.source.strip(), answer.external_id.strip()
    comment = (answer.comment or "").strip()[:5000] or None
    with db.session.begin_nested():
        contact = _contact(answer)
        survey = default_survey()
        band = survey.band_for(answer.score)
        now = utcnow()
        response = _existing(source, external_id)
        previous_score = None
        if response is None:
            answered_at = min(answer.answered_at or now, now)

            def create():
                new = Response(survey_id=survey.id, contact_id=contact.id, score=answer.score, band=band,
                               comment=comment, source=source, external_id=external_id, created_at=answered_at,
                               amendable_until=now)
                db.session.add(new)
                db.session.flush()
                return new

            response = _in_savepoint(create)
            created = response is not None
            if response is None:  # a concurrent delivery of the same answer recorded it first
                response = _existing(source, external_id)
        else:
            created = False
        if created:
            outcome = "created"
            notifications.announce("response.created", response=response)
        else:
            previous_score = response.score
            changed = False
            if answer.score != response.score:
                response.score, response.band = answer.score, band
                changed = True
            if comment is not None and comment != response.comment:
                response.comment = comment
                changed = True
            outcome = "amended" if changed else "unchanged"
            db.session.flush()
        if answer.answers:
            store_answers(response, survey, response.band, dict(answer.answers))
        ticket = None
        if open_tickets:
            ticket = apply_trigger_rule(response, survey, created=created, previous_score=previous_score)
    return RecordedAnswer(response_id=response.id, contact_id=contact.id, outcome=outcome,
                          ticket_id=ticket.id if ticket is not None else None)
