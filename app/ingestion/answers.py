"""Answers collected elsewhere: the one way a response from outside Turnaround is recorded.

Every source — a signed webhook (app.integrations), the HubSpot poller, the REST API's ``POST /responses``, a
CSV of past responses — turns what it received into an :class:`ExternalAnswer` and calls
:func:`record_external_answer` (or, for a burst, :func:`record_external_answers`), which

1. finds the contact by email, else by external id, or creates it (with its account, found by external id,
   else by name, or created) when the answer carries an email address;
2. records the response once per ``(source, external_id)`` (a unique constraint: however often and however
   concurrently an answer is delivered, it is one response), and amends that response when the same answer
   arrives again with more (a comment that came later, a changed score);
3. opens the ticket exactly as a hosted answer does (:func:`app.surveys.services.apply_trigger_rules`).

The caller runs it inside the organisation's tenant context and commits (jobs are queued after commit). It
raises :class:`UnmatchedContact` when no contact can be found or created, and :class:`InvalidAnswer` when the
answer cannot be recorded (a score outside 0–10, no external id); both leave nothing written.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from app import notifications
from app.contacts.models import Contact
from app.customers.models import CustomerAccount
from app.extensions import db
from app.surveys.models import Response
from app.surveys.services import apply_trigger_rules, default_survey, store_answers
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


def record_external_answer(answer: ExternalAnswer, *, open_tickets: bool = True) -> RecordedAnswer:
    """Record ``answer`` for the current organisation (a batch of one: see :func:`record_external_answers`).
    Raises :class:`InvalidAnswer` (or :class:`UnmatchedContact`) with nothing written."""
    result = record_external_answers([[answer]], open_tickets=open_tickets)[0]
    if isinstance(result, InvalidAnswer):
        raise result
    return result[0]


def record_external_answers(groups: list[list[ExternalAnswer]], *,
                            open_tickets: bool = True) -> list[list[RecordedAnswer] | InvalidAnswer]:
    """Record groups of answers for the current organisation (see the module docstring); idempotent on
    ``(answer.source, answer.external_id)``. A group (the answers of one delivery) is recorded whole or not at
    all: its result is the list of what was done for each answer, or the :class:`InvalidAnswer` (or
    :class:`UnmatchedContact`) that stopped it, with nothing of it written.

    A repeat changes the stored response only with what it adds: a comment replaces the stored one when it is
    given (a repeat without a comment keeps it), a different score changes the score and band and is noted on
    the ticket. ``open_tickets=False`` records history without opening tickets (past responses loaded from a
    file).

    A fixed number of statements for the whole batch: contacts, accounts and earlier responses are read with
    one query each, the new rows go out in one INSERT per table, and the tickets open together
    (:func:`app.surveys.services.apply_trigger_rules`). A batch that meets a concurrent writer of the same
    contact, account or answer (a unique constraint) is recorded again group by group, each finding what the
    other transaction wrote.
    """
    results: list = [None] * len(groups)
    for index, group in enumerate(groups):
        try:
            for answer in group:
                _check(answer)
        except InvalidAnswer as exc:
            results[index] = exc
    pending = [index for index in range(len(groups)) if results[index] is None]
    while pending:
        batch, pending = _distinct_answers(groups, pending)
        for index, result in _record_batch(groups, batch, open_tickets).items():
            results[index] = result
    return results


def _key(answer: ExternalAnswer) -> tuple[str, str]:
    return answer.source.strip(), answer.external_id.strip()


def _distinct_answers(groups, indexes: list[int]) -> tuple[list[int], list[int]]:
    """The leading groups of ``indexes`` in which no answer repeats an earlier one, and the rest: a repeat (an
    update of an answer that arrived in the same burst) is recorded after the answer it amends."""
    seen: set[tuple[str, str]] = set()
    for position, index in enumerate(indexes):
        keys = {_key(answer) for answer in groups[index]}
        if position and seen.intersection(keys):
            return indexes[:position], indexes[position:]
        seen.update(keys)
    return indexes, []


def _record_batch(groups, indexes: list[int], open_tickets: bool) -> dict[int, list[RecordedAnswer] | InvalidAnswer]:
    """Record the groups at ``indexes`` together; on a unique-constraint conflict with another transaction, again
    one group at a time (the conflicting row has committed by then, so the second try finds it)."""
    try:
        with db.session.begin_nested():
            return _record(groups, indexes, open_tickets)
    except IntegrityError:
        if len(indexes) > 1:
            found = {}
            for index in indexes:
                found.update(_record_batch(groups, [index], open_tickets))
            return found
    with db.session.begin_nested():
        return _record(groups, indexes, open_tickets)


class _Directory:
    """The batch's contacts and accounts, read in one query each, with those the batch creates."""

    def __init__(self, answers: list[ExternalAnswer]):
        emails = {(answer.email or "").strip().lower() for answer in answers} - {""}
        external_ids = {_text(answer.contact_external_id, 80) for answer in answers} - {None}
        self.by_email: dict[str, Contact] = {}
        self.by_external_id: dict[str, Contact] = {}
        if emails or external_ids:
            for contact in db.session.execute(
                select(Contact).where(or_(func.lower(Contact.email).in_(emails),
                                          Contact.external_id.in_(external_ids)))
                .order_by(Contact.id)
            ).scalars():
                if contact.email:
                    self.by_email.setdefault(contact.email.lower(), contact)
                if contact.external_id:
                    self.by_external_id.setdefault(contact.external_id, contact)
        account_ids = {_text(answer.account_external_id, 80) for answer in answers} - {None}
        names = {_text(answer.account_name, 160) for answer in answers} - {None}
        self.account_by_external_id: dict[str, CustomerAccount] = {}
        self.account_by_name: dict[str, CustomerAccount] = {}
        if account_ids or names:
            for account in db.session.execute(
                select(CustomerAccount).where(or_(CustomerAccount.external_id.in_(account_ids),
                                                  CustomerAccount.name.in_(names)))
                .order_by(CustomerAccount.id)
            ).scalars():
                if account.external_id:
                    self.account_by_external_id.setdefault(account.external_id, account)
                self.account_by_name.setdefault(account.name, account)

    def find(self, answer: ExternalAnswer) -> Contact | None:
        email = (answer.email or "").strip().lower()
        external_id = _text(answer.contact_external_id, 80)
        return (self.by_email.get(email) if email else None) or (
            self.by_external_id.get(external_id) if external_id else None)

    def account(self, answer: ExternalAnswer) -> CustomerAccount | None:
        """The answer's account, found by external id, else by name, else created (None without a name)."""
        external_id = _text(answer.account_external_id, 80)
        name = _text(answer.account_name, 160)
        found = self.account_by_external_id.get(external_id) if external_id else None
        if found is None and name:
            found = self.account_by_name.get(name)
            if found is None:
                found = CustomerAccount(name=name, external_id=external_id)
                db.session.add(found)
                self.account_by_name[name] = found
                if external_id:
                    self.account_by_external_id.setdefault(external_id, found)
        return found

    def contact(self, answer: ExternalAnswer) -> Contact:
        """The answer's contact: found, completed with an external id or account it lacked, or created."""
        contact = self.find(answer)
        external_id = _text(answer.contact_external_id, 80)
        if contact is None:
            email = (answer.email or "").strip().lower()
            contact = Contact(name=_text(answer.name, 120) or email.split("@")[0], email=email,
                              external_id=external_id, account=self.account(answer))
            db.session.add(contact)
            self.by_email[email] = contact
            if external_id:
                self.by_external_id.setdefault(external_id, contact)
            return contact
        if contact.external_id is None and external_id:
            contact.external_id = external_id
        if contact.account_id is None and contact.account is None and (
                answer.account_name or answer.account_external_id):
            account = self.account(answer)
            if account is not None:
                contact.account = account
        return contact

    def unmatched(self, group: list[ExternalAnswer]) -> bool:
        """Whether an answer of ``group`` has no contact and no email address to create one."""
        return any(not (answer.email or "").strip() and self.find(answer) is None for answer in group)


def _record(groups, indexes: list[int], open_tickets: bool) -> dict[int, list[RecordedAnswer] | InvalidAnswer]:
    directory = _Directory([answer for index in indexes for answer in groups[index]])
    found: dict[int, list[RecordedAnswer] | InvalidAnswer] = {}
    recorded = []
    for index in indexes:
        if directory.unmatched(groups[index]):
            found[index] = UnmatchedContact("No contact has this external id, and the answer has no email address "
                                            "to create one.")
        else:
            recorded += [(index, answer, directory.contact(answer)) for answer in groups[index]]
    if not recorded:
        return found
    survey = default_survey()
    now = utcnow()
    keys = [_key(answer) for _, answer, _ in recorded]
    existing = {(response.source, response.external_id): response for response in db.session.execute(
        select(Response).where(Response.source.in_({source for source, _ in keys}),
                               Response.external_id.in_({external_id for _, external_id in keys}))
        .with_for_update().execution_options(populate_existing=True)
    ).scalars()} if keys else {}
    # One step per response: a group that answers the same question twice amends its own new response.
    steps: dict[tuple[str, str], list] = {}  # key → [response, created, previous score, extra answers]
    answered = []  # (group index, contact, key, outcome)
    for (index, answer, contact), key in zip(recorded, keys):
        band = survey.band_for(answer.score)
        comment = (answer.comment or "").strip()[:5000] or None
        step = steps.get(key)
        response = step[0] if step else existing.get(key)
        if response is None:
            response = Response(survey_id=survey.id, contact=contact, score=answer.score, band=band, comment=comment,
                                source=key[0], external_id=key[1],
                                created_at=min(answer.answered_at or now, now), amendable_until=now)
            db.session.add(response)
            steps[key] = [response, True, None, dict(answer.answers)]
            answered.append((index, contact, key, "created"))
            continue
        if step is None:
            step = steps[key] = [response, False, response.score, {}]
        step[3].update(answer.answers)
        changed = False
        if answer.score != response.score:
            response.score, response.band = answer.score, band
            changed = True
        if comment is not None and comment != response.comment:
            response.comment = comment
            changed = True
        answered.append((index, contact, key, "amended" if changed else "unchanged"))
    db.session.flush()
    created = [response for response, is_new, _, _ in steps.values() if is_new]
    if created:
        notifications.announce_all("response.created", responses=created)
    for response, _, _, extra in steps.values():
        if extra:
            store_answers(response, survey, response.band, extra)
    tickets = dict(zip(steps, apply_trigger_rules(survey, [
        (response, is_new, previous) for response, is_new, previous, _ in steps.values()]) if open_tickets
        else [None] * len(steps)))
    for index, contact, key, outcome in answered:
        ticket = tickets[key]
        found.setdefault(index, []).append(RecordedAnswer(
            response_id=steps[key][0].id, contact_id=contact.id, outcome=outcome,
            ticket_id=ticket.id if ticket is not None else None))
    return found
