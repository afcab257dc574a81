"""Answers collected elsewhere: the one way a response from outside Turnaround is recorded.

Every source — a signed webhook (app.integrations), the HubSpot poller, the REST API's ``POST /responses``, a
CSV of past responses — turns what it received into an :class:`ExternalAnswer` and calls
:func:`record_external_answer` (or, for a burst of deliveries or a batch of a file's rows,
:func:`record_external_answers`, of which the first is a batch of one), which

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
from typing import Sequence

from sqlalchemy import ARRAY, String, and_, bindparam, func, or_, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from app import notifications
from app.accounts.models import Tenant
from app.contacts.models import Contact
from app.customers.models import CustomerAccount
from app.extensions import db
from app.surveys.models import Response
from app.surveys.services import apply_trigger_rules, default_survey, store_answers
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


def record_external_answer(answer: ExternalAnswer, *, open_tickets: bool = True) -> RecordedAnswer:
    """Record ``answer`` for the current organisation (a batch of one: see :func:`record_external_answers`).
    Raises :class:`InvalidAnswer` (or :class:`UnmatchedContact`) with nothing written."""
    result = record_external_answers([[answer]], open_tickets=open_tickets)[0]
    if isinstance(result, InvalidAnswer):
        raise result
    return result[0]


def record_external_answers(groups: Sequence[Sequence[ExternalAnswer]], *,
                            open_tickets: bool | Sequence[bool] = True) -> list[list[RecordedAnswer] | InvalidAnswer]:
    """Record groups of answers for the current organisation (see the module docstring); idempotent on
    ``(answer.source, answer.external_id)``. A group (the answers of one delivery, one row of a file) is
    recorded whole or not at all: its result is the list of what was done for each answer, or the
    :class:`InvalidAnswer` (or :class:`UnmatchedContact`) that stopped it, with nothing of it written.

    A repeat changes the stored response only with what it adds: a comment replaces the stored one when it is
    given (a repeat without a comment keeps it), a different score changes the score and band and is noted on
    the ticket. ``open_tickets`` says whether answers may open tickets, for every group (a bool) or group by
    group (one bool each): ``False`` records history without opening tickets, noting score changes or telling
    the organisation's webhook endpoints (past responses loaded from a file).

    A fixed number of statements for the whole batch: contacts (by the unique index on email, or by external
    id), accounts and earlier responses (each probed in the unique index) are read with one query each; new
    accounts, contacts and responses go out in one ``INSERT … ON CONFLICT DO NOTHING`` per table, reading back
    what a concurrent writer added first; the tickets open together
    (:func:`app.surveys.services.apply_trigger_rules`). Only extra answers cost statements of their own. A batch
    that still meets a unique constraint is recorded again group by group, each finding what the other
    transaction wrote. The caller commits.
    """
    flags = [open_tickets] * len(groups) if isinstance(open_tickets, bool) else [bool(flag) for flag in open_tickets]
    if len(flags) != len(groups):
        raise ValueError("open_tickets needs one flag per group.")
    results: list = [None] * len(groups)
    for index, group in enumerate(groups):
        try:
            for answer in group:
                _check(answer)
        except InvalidAnswer as exc:
            results[index] = exc
    pending = [index for index in range(len(groups)) if results[index] is None]
    # Held for the batch: the session keeps loaded rows only while something refers to them, and every
    # answer asks the organisation whether webhooks listen (app.notifications.webhooks).
    tenant = db.session.get(Tenant, current_tenant_id()) if pending else None
    while pending:
        batch, pending = _distinct_answers(groups, pending)
        for index, result in _record_batch(groups, batch, flags).items():
            results[index] = result
    del tenant
    return results


def _key(answer: ExternalAnswer) -> tuple[str, str]:
    return answer.source.strip(), answer.external_id.strip()


def _email(answer: ExternalAnswer) -> str | None:
    # Contacts keep their address lower-cased (app.contacts.services.normalise_email), so the unique index on
    # (organisation, email) finds them, where lower(email) would read every contact.
    return (answer.email or "").strip().lower() or None


def _comment(answer: ExternalAnswer) -> str | None:
    return (answer.comment or "").strip()[:5000] or None


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


def _record_batch(groups, indexes: list[int], flags: list[bool]) -> dict[int, list[RecordedAnswer] | InvalidAnswer]:
    """Record the groups at ``indexes`` together; on a unique-constraint conflict with another transaction, again
    one group at a time (the conflicting row has committed by then, so the second try finds it)."""
    try:
        with db.session.begin_nested():
            return _record(groups, indexes, flags)
    except IntegrityError:
        if len(indexes) > 1:
            found = {}
            for index in indexes:
                found.update(_record_batch(groups, [index], flags))
            return found
    with db.session.begin_nested():
        return _record(groups, indexes, flags)


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


class _Directory:
    """The batch's contacts and accounts, read in one query each, with those the batch creates.

    Deciding comes before writing: :meth:`place` says which contact each answer of an accepted group belongs to
    (a contact found, or the email address of one to create), then :meth:`write` creates the accounts and
    contacts together and fills in what found contacts lack (an external id, an account)."""

    def __init__(self, answers: list[ExternalAnswer]):
        emails = {_email(answer) for answer in answers} - {None}
        external_ids = {_text(answer.contact_external_id, 80) for answer in answers} - {None}
        self.by_email: dict[str, Contact] = {}
        self.by_external_id: dict[str, Contact | str] = {}  # a contact, or the address of one to create
        if emails:
            self.by_email = {contact.email: contact for contact in db.session.execute(
                select(Contact).where(Contact.email.in_(emails))).scalars()}
        if external_ids:
            for contact in db.session.execute(select(Contact).where(Contact.external_id.in_(external_ids))
                                              .order_by(Contact.id)).scalars():
                self.by_external_id.setdefault(contact.external_id, contact)
        self.new: dict[str, ExternalAnswer] = {}  # email → the answer that creates its contact
        self.placed: list[tuple[ExternalAnswer, Contact | str]] = []

    def find(self, answer: ExternalAnswer) -> Contact | str | None:
        email = _email(answer)
        if email and (email in self.by_email or email in self.new):
            return self.by_email.get(email) or email
        external_id = _text(answer.contact_external_id, 80)
        return self.by_external_id.get(external_id) if external_id else None

    def place(self, group: Sequence[ExternalAnswer]) -> list | None:
        """Each answer's contact, a found one or the address of one to create; None (nothing placed) when an
        answer has no contact and no email address to create one."""
        if any(self.find(answer) is None and not _email(answer) for answer in group):
            return None
        refs = []
        for answer in group:
            ref = self.find(answer)
            if ref is None:
                ref = _email(answer)
                self.new[ref] = answer
            external_id = _text(answer.contact_external_id, 80)
            own = external_id if isinstance(ref, str) or ref.external_id is None else ref.external_id
            if own:
                self.by_external_id.setdefault(own, ref)
            self.placed.append((answer, ref))
            refs.append(ref)
        return refs

    def write(self) -> dict[str, Contact]:
        """Create the accounts and contacts placed answers need, complete the contacts found; returns the
        contacts created, ``{email: contact}``. A fixed number of statements."""
        needing = list(self.new.values()) + [
            answer for answer, ref in self.placed
            if not isinstance(ref, str) and ref.account_id is None and (answer.account_name or
                                                                        answer.account_external_id)]
        accounts = _accounts(needing)
        created: dict[str, Contact] = {}
        if self.new:
            now = utcnow()
            _insert(Contact, [{"name": _text(answer.name, 120) or email.split("@")[0], "email": email,
                               "external_id": _text(answer.contact_external_id, 80),
                               "account_id": accounts.of(answer), "created_at": now, "updated_at": now}
                              for email, answer in self.new.items()], ("id",))
            # Read back with any another writer added first.
            created = {contact.email: contact for contact in db.session.execute(
                select(Contact).where(Contact.email.in_(set(self.new)))).scalars()}
        for answer, ref in self.placed:
            contact = created.get(ref) if isinstance(ref, str) else ref
            if contact is None:
                continue
            external_id = _text(answer.contact_external_id, 80)
            if contact.external_id is None and external_id:
                contact.external_id = external_id
            if contact.account_id is None and (answer.account_name or answer.account_external_id):
                contact.account_id = accounts.of(answer)
        return created


@dataclass
class _Accounts:
    by_external: dict[str, int]
    by_name: dict[str, int]

    def of(self, answer: ExternalAnswer) -> int | None:
        """The answer's account: by external id, else by name."""
        external_id, name = _text(answer.account_external_id, 80), _text(answer.account_name, 160)
        found = self.by_external.get(external_id) if external_id else None
        return found if found is not None else (self.by_name.get(name) if name else None)


def _accounts(answers: list[ExternalAnswer]) -> _Accounts:
    """The accounts ``answers`` name, found by external id, else by name, else created, with a fixed number of
    statements: read them, insert the missing ones, read back any another writer added first."""
    found = _Accounts({}, {})
    if not answers:
        return found

    def read(external_ids, names) -> None:
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
            found.by_name.setdefault(name, account_id)
            if external_id:
                found.by_external.setdefault(external_id, account_id)

    read({_text(a.account_external_id, 80) for a in answers} - {None},
         {_text(a.account_name, 160) for a in answers} - {None})
    missing: dict[str, str | None] = {}
    for answer in answers:
        external_id, name = _text(answer.account_external_id, 80), _text(answer.account_name, 160)
        if not (external_id and external_id in found.by_external) and name and name not in found.by_name:
            missing.setdefault(name, external_id)
    if missing:
        now = utcnow()
        inserted = _insert(CustomerAccount, [{"name": name, "external_id": external_id, "status": "active",
                                               "created_at": now, "updated_at": now}
                                              for name, external_id in missing.items()], ("id", "name"))
        found.by_name.update({name: account_id for account_id, name in inserted})
        read(set(), set(missing) - {name for _, name in inserted})  # added meanwhile elsewhere
    return found


def _recorded(keys: set[tuple[str, str]]) -> dict[tuple[str, str], Response]:
    """The responses already recorded under ``keys`` (``(source, external id)`` pairs), locked, in one statement.
    On PostgreSQL each key is probed in the unique index and its row locked there (a LATERAL lookup per key):
    whatever the statistics say, and a table an import has just filled has none, the planner can neither read
    every answer of the source nor run the lookup again for every response it reads."""
    if not keys:
        return {}
    if db.session.get_bind().dialect.name != "postgresql":
        statement = select(Response).where(or_(*[and_(Response.source == source, Response.external_id == key)
                                                 for source, key in keys])).with_for_update()
    else:
        ordered = sorted(keys)
        wanted = func.unnest(bindparam(None, [source for source, _ in ordered], type_=ARRAY(String)),
                             bindparam(None, [key for _, key in ordered], type_=ARRAY(String))
                             ).table_valued("source", "key").render_derived(name="wanted")
        found = (select(Response).where(Response.source == wanted.c.source, Response.external_id == wanted.c.key)
                 .limit(1).with_for_update().lateral("found"))
        statement = select(aliased(Response, found)).select_from(wanted).join(found, true())
    return {(response.source, response.external_id): response for response in db.session.execute(
        statement.execution_options(populate_existing=True)).scalars()}


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


def _record(groups, indexes: list[int], flags: list[bool]) -> dict[int, list[RecordedAnswer] | InvalidAnswer]:
    directory = _Directory([answer for index in indexes for answer in groups[index]])
    found: dict[int, list[RecordedAnswer] | InvalidAnswer] = {}
    placed = []  # (group index, answer, contact or address of the contact to create)
    for index in indexes:
        refs = directory.place(groups[index])
        if refs is None:
            found[index] = UnmatchedContact("No contact has this external id, and the answer has no email address "
                                            "to create one.")
        else:
            placed += [(index, answer, ref) for answer, ref in zip(groups[index], refs)]
    if not placed:
        return found
    created_contacts = directory.write()
    survey = default_survey()
    now = utcnow()
    recorded = []  # (group index, answer, contact, key)
    for index, answer, ref in placed:
        contact = created_contacts.get(ref) if isinstance(ref, str) else ref
        if contact is None:  # the insert skipped it and the read found nothing: cannot happen but for a bug
            raise InvalidAnswer("The contact could not be created.")
        recorded.append((index, answer, contact, _key(answer)))
    existing = _recorded({key for _, _, _, key in recorded})
    new_rows: dict[tuple[str, str], dict] = {}
    for _, answer, contact, key in recorded:
        if key not in existing and key not in new_rows:
            new_rows[key] = {"survey_id": survey.id, "contact_id": contact.id, "score": answer.score,
                             "band": survey.band_for(answer.score), "comment": _comment(answer), "source": key[0],
                             "external_id": key[1], "created_at": min(answer.answered_at or now, now),
                             "amendable_until": now, "updated_at": now}
    created: dict[tuple[str, str], Response] = {}
    if new_rows:
        inserted = [row.id for row in _insert(Response, list(new_rows.values()), ("id",))]
        if inserted:
            created = {(response.source, response.external_id): response for response in db.session.execute(
                select(Response).where(Response.id.in_(inserted))).scalars()}
        # Recorded meanwhile by a concurrent delivery: amended below, like any repeat.
        existing.update(_recorded(set(new_rows) - set(created)))
    # One step per response: a group that answers the same question twice amends its own new response.
    steps: dict[tuple[str, str], list] = {}  # key → [response, created, previous score, extra answers, flag]
    answered = []  # (group index, contact, key, outcome)
    for index, answer, contact, key in recorded:
        step = steps.get(key)
        if step is None and key in created:
            steps[key] = [created[key], True, None, dict(answer.answers), flags[index]]
            answered.append((index, contact, key, "created"))
            continue
        if step is None:
            response = existing[key]
            step = steps[key] = [response, False, response.score, {}, flags[index]]
        step[3].update(answer.answers)
        outcome = _amend(step[0], answer.score, survey.band_for(answer.score), _comment(answer))
        answered.append((index, contact, key, outcome))
    db.session.flush()
    # History (answers that may not open tickets) is not news: webhook endpoints hear of the others only.
    new_responses = [response for response, is_new, _, _, flag in steps.values() if is_new and flag]
    if new_responses:
        notifications.announce_all("response.created", responses=new_responses)
    for response, _, _, extra, _ in steps.values():
        if extra:
            store_answers(response, survey, response.band, extra)
    opening = [key for key, step in steps.items() if step[4]]
    tickets = dict(zip(opening, apply_trigger_rules(survey, [tuple(steps[key][:3]) for key in opening]))
                   ) if opening else {}
    for index, contact, key, outcome in answered:
        ticket = tickets.get(key)
        found.setdefault(index, []).append(RecordedAnswer(
            response_id=steps[key][0].id, contact_id=contact.id, outcome=outcome,
            ticket_id=ticket.id if ticket is not None else None))
    return found
