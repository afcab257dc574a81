"""The responses and tickets behind the inbox's current filters, as CSV streamed row by row.

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
from sqlalchemy import select

from app.accounts.models import User
from app.contacts.models import Contact
from app.customers.models import CustomerAccount
from app.extensions import db
from app.feedback.inbox import InboxFilter, filtered
from app.surveys.models import Response
from app.tenancy import current_tenant_id, tenant_context
from app.tickets.models import OUTCOMES, STATUSES, Ticket, reference

BATCH = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
RESPONSE_HEADER = ["Answered at", "Score", "Band", "Comment", "Contact", "Email", "Account", "Source", "Ticket",
                   "Reviewed at"]
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
    writer.writerow(header)
    for count, row in enumerate(rows, 1):
        writer.writerow([safe(value) for value in row])
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _local(moment: datetime | None, zone) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""


def response_rows(chosen: InboxFilter, zone) -> Iterator[list]:
    """The filtered responses, newest first, one list of cells each (the order of :data:`RESPONSE_HEADER`)."""
    statement = filtered(
        select(Response.created_at, Response.score, Response.band, Response.comment, Contact.name, Contact.email,
               CustomerAccount.name, Response.source, Ticket.number, Response.reviewed_at)
        .select_from(Response)
        .join(Contact, Contact.id == Response.contact_id)
        .outerjoin(CustomerAccount, CustomerAccount.id == Contact.account_id)
        .outerjoin(Ticket, Ticket.response_id == Response.id),
        chosen, zone,
    ).order_by(Response.created_at.desc(), Response.id.desc())
    for row in db.session.execute(statement.execution_options(yield_per=BATCH)):
        answered, score, band, comment, name, email, account, source, number, reviewed = row
        yield [_local(answered, zone), score, band, comment, name, email, account, source,
               reference(number) if number is not None else "", _local(reviewed, zone)]


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
    return _download("responses.csv", _lines(RESPONSE_HEADER, response_rows(chosen, zone)))


def tickets_csv(chosen: InboxFilter, zone) -> HttpResponse:
    return _download("tickets.csv", _lines(TICKET_HEADER, ticket_rows(chosen, zone)))
