"""The responses and tickets behind the inbox's current filters, as CSV streamed row by row.

A response's row carries its themes and one column per extra question of the organisation (its answer, or
empty).

The rows are read through a server-side cursor (``yield_per``) and written as they come, so an export of a
million responses holds one batch in memory, never the whole result. Text that a spreadsheet would run as a
formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is prefixed with ``'``.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime

from flask import Response as HttpResponse
from flask import stream_with_context
from sqlalchemy import Select, select

from app.accounts.models import User
from app.contacts.models import Contact
from app.customers.models import CustomerAccount
from app.extensions import db
from app.feedback.inbox import InboxFilter, filtered
from app.feedback.models import Theme, response_theme
from app.surveys.models import Response, ResponseAnswer, SurveyQuestion
from app.tenancy import current_tenant_id, scoped_by_hand, tenant_context
from app.tickets.models import OUTCOMES, STATUSES, Ticket, reference

BATCH = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
RESPONSE_HEADER = ["Answered at", "Score", "Band", "Comment", "Contact", "Email", "Account", "Source", "Ticket",
                   "Reviewed at", "Themes"]
TICKET_HEADER = ["Ticket", "Opened at", "Status", "Outcome", "Closed at", "Assignee", "Contact", "Account", "Score"]


def safe(value) -> str | int:
    """A cell as written: text that starts like a formula gets a leading ``'``; numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, int):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _lines(header: list[str], rows: Iterable[list]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe(value) for value in header])
    for count, row in enumerate(rows, 1):
        writer.writerow([safe(value) for value in row])
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _local(moment: datetime | None, zone) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""


def extra_questions() -> list[tuple[int, str]]:
    """The organisation's extra questions, retired ones too (older answers hold them), in survey order: one
    column each after :data:`RESPONSE_HEADER`."""
    return list(db.session.execute(
        select(SurveyQuestion.id, SurveyQuestion.prompt)
        .order_by(SurveyQuestion.retired_at.is_not(None), SurveyQuestion.position, SurveyQuestion.id)).all())


def _of_batch(statement: Select, column, ids: list[int]) -> Select:
    """``statement`` narrowed to the rows whose ``column`` lies between the smallest and the largest of ``ids``
    (the caller keeps the ones it asked for). Answers mostly arrive in time order, so a batch's ids lie close
    together and this reads one short stretch of the key's index; a list of a few thousand ids costs more to
    plan and check than the few rows in between that are not wanted."""
    return statement.where(column >= min(ids), column <= max(ids))


def response_rows(chosen: InboxFilter, zone, questions: list[tuple[int, str]]) -> Iterator[list]:
    """The filtered responses, newest first, one list of cells each: the order of :data:`RESPONSE_HEADER` (themes
    by label, separated by "; "), then the answer to each of ``questions``. Rows come from a server-side cursor
    a batch at a time; each batch's themes and answers are read in one statement each."""
    statement = filtered(
        select(Response.id, Response.created_at, Response.score, Response.band, Response.comment, Contact.name,
               Contact.email, CustomerAccount.name, Response.source, Ticket.number, Response.reviewed_at)
        .select_from(Response)
        .join(Contact, Contact.id == Response.contact_id)
        .outerjoin(CustomerAccount, CustomerAccount.id == Contact.account_id)
        .outerjoin(Ticket, Ticket.response_id == Response.id),
        chosen, zone,
    ).order_by(Response.created_at.desc(), Response.id.desc())
    columns = {question_id: i for i, (question_id, _) in enumerate(questions)}
    labels = dict(db.session.execute(select(Theme.id, Theme.label)).all())
    result = db.session.execute(statement.execution_options(yield_per=BATCH))
    for batch in result.partitions():
        ids = [row[0] for row in batch]
        themes: dict[int, list[str]] = {}
        for response_id, theme_id in db.session.execute(scoped_by_hand(_of_batch(
                select(response_theme.c.response_id, response_theme.c.theme_id)
                .where(response_theme.c.tenant_id == current_tenant_id()), response_theme.c.response_id, ids))):
            themes.setdefault(response_id, []).append(labels[theme_id])
        for found in themes.values():
            found.sort()
        answers: dict[int, list[str]] = {}
        if questions:
            for response_id, question_id, value in db.session.execute(_of_batch(
                    select(ResponseAnswer.response_id, ResponseAnswer.question_id, ResponseAnswer.value),
                    ResponseAnswer.response_id, ids)):
                if question_id in columns:
                    answers.setdefault(response_id, [""] * len(questions))[columns[question_id]] = value
        for row in batch:
            response_id, answered, score, band, comment, name, email, account, source, number, reviewed = row
            yield [_local(answered, zone), score, band, comment, name, email, account, source,
                   reference(number) if number is not None else "", _local(reviewed, zone),
                   "; ".join(themes.get(response_id, ())), *answers.get(response_id, [""] * len(questions))]


def ticket_rows(chosen: InboxFilter, zone) -> Iterator[list]:
    """The tickets of the filtered responses, newest first (the order of :data:`TICKET_HEADER`)."""
    statement = filtered(
        select(Ticket.number, Ticket.opened_at, Ticket.status, Ticket.outcome, Ticket.closed_at, User.name,
               Contact.name, CustomerAccount.name, Response.score)
        .select_from(Ticket)
        .join(Response, Response.id == Ticket.response_id)
        .join(Contact, Contact.id == Ticket.contact_id)
        .outerjoin(CustomerAccount, CustomerAccount.id == Ticket.account_id)
        .outerjoin(User, User.id == Ticket.assignee_id),
        chosen, zone,
    ).order_by(Ticket.opened_at.desc(), Ticket.id.desc())
    for row in db.session.execute(statement.execution_options(yield_per=BATCH)):
        number, opened, status, outcome, closed, assignee, contact, account, score = row
        yield [reference(number), _local(opened, zone), STATUSES.get(status, status),
               OUTCOMES.get(outcome, outcome or ""), _local(closed, zone), assignee, contact, account, score]


def _in_tenant(tenant_id: int, lines: Iterator[str]) -> Iterator[str]:
    """``lines`` read in the tenant's context: the body is written after the view has returned, when the
    request's tenant context has already been left."""
    with tenant_context(tenant_id):
        yield from lines


def _download(name: str, lines: Iterator[str]) -> HttpResponse:
    lines = _in_tenant(current_tenant_id(), lines)
    return HttpResponse(stream_with_context(lines), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "Cache-Control": "no-store"})


def responses_csv(chosen: InboxFilter, zone) -> HttpResponse:
    questions = extra_questions()
    header = RESPONSE_HEADER + [prompt for _, prompt in questions]
    return _download("responses.csv", _lines(header, response_rows(chosen, zone, questions)))


def tickets_csv(chosen: InboxFilter, zone) -> HttpResponse:
    return _download("tickets.csv", _lines(TICKET_HEADER, ticket_rows(chosen, zone)))
