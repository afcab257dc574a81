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
from typing import Sequence

from sqlalchemy import ARRAY, String, and_, bindparam, func, or_, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from app import notifications
from app.accounts.models import Tenant
from app.contacts.models import Contact
from app.customers.models import CustomerAccount
from app.extensions import db
from app.surveys.models import Response
from app.surveys.services import apply_trigger_rule, default_survey, store_answers
from app.tenancy import current_tenant_id, scoped_by_hand
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
    _complete(contact, answer)
    return contact


def _complete(contact: Contact, answer: ExternalAnswer) -> None:
    """Fill what a found contact lacks from the answer: its external id, its account."""
    external_id = _text(answer.contact_external_id, 80)
    if contact.external_id is None and external_id:
        contact.external_id = external_id
    if contact.account_id is None and (answer.account_name or answer.account_external_id):
        account = _account(answer)
        if account is not None:
            contact.account_id = account.id


def _existing(source: str, external_id: str) -> Response | None:
    return db.session.execute(
        select(Response).where(Response.source == source, Response.external_id == external_id)
        .with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _comment(answer: ExternalAnswer) -> str | None:
    return (answer.comment or "").strip()[:5000] or None


def _amend(response: Response, score: int, band: str, comment: str | None) -> str:
    """Apply a repeat of a recorded answer: a different score changes the score and band; a comment, when
    given, replaces the stored one. Returns ``amended`` or ``unchanged``."""
    changed = False
    if score != response.score:
        response.score, response.band = score, band
        changed = True
    if comment is not None and comment != response.comment:
        response.comment = comment
        changed = True
    return "amended" if changed else "unchanged"


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
    comment = _comment(answer)
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
            outcome = _amend(response, answer.score, band, comment)
            db.session.flush()
        if answer.answers:
            store_answers(response, survey, response.band, dict(answer.answers))
        ticket = None
        if open_tickets:
            ticket = apply_trigger_rule(response, survey, created=created, previous_score=previous_score)
    return RecordedAnswer(response_id=response.id, contact_id=contact.id, outcome=outcome,
                          ticket_id=ticket.id if ticket is not None else None)


def _insert(model, rows: list[dict], returning):
    """Insert ``rows`` of the current organisation into ``model``'s table in one statement, skipping those a
    unique constraint already holds; returns the ``returning`` columns of the rows inserted."""
    table = model.__table__
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    tenant_id = current_tenant_id()
    # Executed with its rows as parameters and a RETURNING clause, SQLAlchemy sends this as one multi-row
    # statement per 1,000 rows ("insertmanyvalues"), compiled once.
    statement = dialect.insert(table).on_conflict_do_nothing().returning(*[table.c[name] for name in returning])
    return db.session.execute(scoped_by_hand(statement), [{"tenant_id": tenant_id, **row} for row in rows]).all()


def _create_contacts(answers: dict[str, ExternalAnswer]) -> dict[str, Contact]:
    """The contacts for answers whose email address no contact has, ``{email: contact}``, created as
    :func:`_contact` creates one (named by the answer, else by the address; the account found by external id,
    else by name, or created), with a fixed number of statements: read the accounts, insert the missing ones,
    insert the contacts, read them back (with any another writer added first)."""
    account_ids = {_text(a.account_external_id, 80) for a in answers.values()} - {None}
    account_names = {_text(a.account_name, 160) for a in answers.values()} - {None}
    by_external: dict[str, int] = {}
    by_name: dict[str, int] = {}

    def read_accounts(external_ids, names) -> None:
        conditions = []
        if external_ids:
            conditions.append(CustomerAccount.external_id.in_(external_ids))
        if names:
            conditions.append(CustomerAccount.name.in_(names))
        if not conditions:
            return
        for account_id, name, external_id in db.session.execute(
                select(CustomerAccount.id, CustomerAccount.name, CustomerAccount.external_id)
                .where(or_(*conditions)).order_by(CustomerAccount.id)):
            by_name.setdefault(name, account_id)
            if external_id:
                by_external.setdefault(external_id, account_id)

    read_accounts(account_ids, account_names)
    now = utcnow()
    new_accounts: dict[str, str | None] = {}
    for answer in answers.values():
        external_id, name = _text(answer.account_external_id, 80), _text(answer.account_name, 160)
        if not (external_id and external_id in by_external) and name and name not in by_name:
            new_accounts.setdefault(name, external_id)
    if new_accounts:
        created = _insert(CustomerAccount, [{"name": name, "external_id": external_id, "status": "active",
                                             "created_at": now, "updated_at": now}
                                            for name, external_id in new_accounts.items()], ("id", "name"))
        by_name.update({name: account_id for account_id, name in created})
        read_accounts(set(), set(new_accounts) - {name for _, name in created})  # added meanwhile elsewhere

    rows = []
    for email, answer in answers.items():
        external_id, name = _text(answer.account_external_id, 80), _text(answer.account_name, 160)
        account_id = by_external.get(external_id) if external_id else None
        if account_id is None and name:
            account_id = by_name.get(name)
        rows.append({"name": _text(answer.name, 120) or email.split("@")[0], "email": email,
                     "external_id": _text(answer.contact_external_id, 80), "account_id": account_id,
                     "created_at": now, "updated_at": now})
    _insert(Contact, rows, ("id",))
    return {contact.email: contact for contact in db.session.execute(
        select(Contact).where(Contact.email.in_(set(answers)))).scalars()}


def _recorded(source: str, ids: set[str]):
    """The condition "recorded from ``source`` under one of ``ids``". On PostgreSQL the ids are probed one by one
    in the unique index (a LATERAL lookup per id, whatever the statistics say: a table an import has just filled
    has none, and the planner would rather read every answer of the source)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return and_(Response.source == source, Response.external_id.in_(ids))
    wanted = func.unnest(bindparam(None, sorted(ids), type_=ARRAY(String))).table_valued("key").render_derived(
        name="wanted")
    found = (select(Response.id).where(Response.source == source, Response.external_id == wanted.c.key)
             .limit(1).lateral("found"))
    return Response.id.in_(select(found.c.id).select_from(wanted).join(found, true()))


def record_external_answers(answers: Sequence[ExternalAnswer], *,
                            open_tickets: Sequence[bool]) -> list[RecordedAnswer | InvalidAnswer]:
    """Record many answers for the current organisation by the rules of :func:`record_external_answer` (the
    same checks, contact matching and creation, once per ``(source, external_id)``, amendments and trigger
    rule), with ``open_tickets[i]`` saying whether ``answers[i]`` may open a ticket; for a file of thousands of
    answers. The contacts and the responses already recorded are read with one statement each, and the new
    responses written with one, new contacts and accounts with a few (:func:`_create_contacts`); only extra
    answers and tickets cost statements of their own.

    Returns, for each answer in order, what was recorded or the :class:`InvalidAnswer` that refused it (nothing
    is written for a refused answer). The caller commits.
    """
    results: list[RecordedAnswer | InvalidAnswer | None] = [None] * len(answers)
    valid: list[int] = []
    for index, answer in enumerate(answers):
        try:
            _check(answer)
        except InvalidAnswer as refusal:
            results[index] = refusal
        else:
            valid.append(index)
    if not valid:
        return results
    survey = default_survey()
    # Held for the batch: the session keeps loaded rows only while something refers to them, and every
    # answer asks the organisation whether webhooks listen (app.notifications.webhooks).
    tenant = db.session.get(Tenant, current_tenant_id())
    emails = {(answers[i].email or "").strip().lower() for i in valid} - {""}
    external_ids = {_text(answers[i].contact_external_id, 80) for i in valid} - {None}
    # Contacts keep their address lower-cased (app.contacts.services.normalise_email), so the unique index on
    # (organisation, email) answers this, where lower(email) would read every contact each batch.
    by_email = {contact.email: contact for contact in db.session.execute(
        select(Contact).where(Contact.email.in_(emails))).scalars()} if emails else {}
    by_external: dict[str, Contact] = {}
    if external_ids:
        for contact in db.session.execute(select(Contact).where(Contact.external_id.in_(external_ids))
                                          .order_by(Contact.id)).scalars():
            by_external.setdefault(contact.external_id, contact)
    ids_by_source: dict[str, set[str]] = {}
    for i in valid:
        ids_by_source.setdefault(answers[i].source.strip(), set()).add(answers[i].external_id.strip())
    recorded = {(response.source, response.external_id): response for response in db.session.execute(
        select(Response).where(or_(*[_recorded(source, ids) for source, ids in ids_by_source.items()]))
        .with_for_update().execution_options(populate_existing=True)).scalars()}

    missing: dict[str, ExternalAnswer] = {}
    for index in valid:
        answer = answers[index]
        email = (answer.email or "").strip().lower() or None
        external_id = _text(answer.contact_external_id, 80)
        if email and email not in by_email and not (external_id and external_id in by_external):
            missing.setdefault(email, answer)
    new_contacts = _create_contacts(missing) if missing else {}

    now = utcnow()
    new_rows: dict[tuple[str, str], dict] = {}
    placed: list[tuple[int, Contact, tuple[str, str]]] = []
    for index in valid:
        answer = answers[index]
        email = (answer.email or "").strip().lower() or None
        external_id = _text(answer.contact_external_id, 80)
        contact = (by_email.get(email) if email else None) or (by_external.get(external_id) if external_id else None)
        if contact is None and not email:
            results[index] = UnmatchedContact("No contact has this external id, and the answer has no email "
                                              "address to create one.")
            continue
        if contact is None:
            contact = new_contacts.get(email)
            if contact is None:
                results[index] = InvalidAnswer("The contact could not be created.")
                continue
        else:
            _complete(contact, answer)
        if contact.external_id:
            by_external.setdefault(contact.external_id, contact)
        key = (answer.source.strip(), answer.external_id.strip())
        if key not in recorded and key not in new_rows:
            new_rows[key] = {"survey_id": survey.id, "contact_id": contact.id, "score": answer.score,
                             "band": survey.band_for(answer.score), "comment": _comment(answer), "source": key[0],
                             "external_id": key[1], "created_at": min(answer.answered_at or now, now),
                             "amendable_until": now, "updated_at": now}
        placed.append((index, contact, key))

    created: set[tuple[str, str]] = set()
    if new_rows:
        inserted = [row.id for row in _insert(Response, list(new_rows.values()), ("id",))]
        for response in db.session.execute(select(Response).where(Response.id.in_(inserted))).scalars():
            key = (response.source, response.external_id)
            recorded[key] = response
            created.add(key)
        for key in set(new_rows) - created:  # recorded meanwhile by a concurrent delivery: amended below
            recorded[key] = _existing(*key)

    first_seen: set[tuple[str, str]] = set()
    for index, contact, key in placed:
        answer = answers[index]
        response = recorded[key]
        is_new = key in created and key not in first_seen
        first_seen.add(key)
        previous_score = None
        if is_new:
            outcome = "created"
            notifications.announce("response.created", response=response)
        else:
            previous_score = response.score
            outcome = _amend(response, answer.score, survey.band_for(answer.score), _comment(answer))
        if answer.answers:
            store_answers(response, survey, response.band, dict(answer.answers))
        ticket = None
        if open_tickets[index]:
            db.session.flush()
            ticket = apply_trigger_rule(response, survey, created=is_new, previous_score=previous_score)
        results[index] = RecordedAnswer(response_id=response.id, contact_id=contact.id, outcome=outcome,
                                        ticket_id=ticket.id if ticket is not None else None)
    db.session.flush()
    del tenant
    return results
