"""Helpers for the ticket board and ticket page tests."""
from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event, select

from app.accounts.models import User
from app.contacts.models import Contact
from app.customers.models import CustomerAccount
from app.extensions import db
from app.settings.models import RootCause
from app.surveys import services as surveys
from app.surveys.models import Response
from app.tenancy import tenant_context
from app.tickets import services as ticket_services
from app.tickets.models import Activity, Ticket
from app.timeutil import utcnow
from tests.support.data import answer, make_contact

HTMX = {"HX-Request": "true"}


def open_ticket(app, org, name: str = "Casey Client", score: int = 3,
                comment: str | None = "The invoice was wrong twice", **contact_fields) -> int:
    """A real detractor ticket, opened the way a survey answer opens one; returns its id."""
    contact_id = make_contact(app, org["tenant_id"], name, **contact_fields)
    response_id = answer(app, org["tenant_id"], contact_id, score, comment)
    with app.app_context(), tenant_context(org["tenant_id"]):
        ticket_id = db.session.execute(select(Ticket.id).where(Ticket.response_id == response_id)).scalar_one()
        db.session.remove()
    return ticket_id


def ticket_state(app, tenant_id: int, ticket_id: int) -> dict:
    """The ticket's stored state and its timeline kinds (newest first)."""
    with app.app_context(), tenant_context(tenant_id):
        ticket = db.session.get(Ticket, ticket_id)
        state = {
            "status": ticket.status, "assignee_id": ticket.assignee_id, "outcome": ticket.outcome,
            "closing_note": ticket.closing_note, "closed_at": ticket.closed_at,
            "first_contact_at": ticket.first_contact_at,
            "kinds": [a.kind for a in ticket.activities],
            "activities": [(a.kind, a.actor_id, a.body, dict(a.details or {})) for a in ticket.activities],
        }
        db.session.remove()
    return state


def with_ticket(app, tenant_id: int, ticket_id: int, change) -> None:
    """Run ``change(ticket)`` on the ticket in its tenant and commit (for setting up a scenario)."""
    with app.app_context(), tenant_context(tenant_id):
        ticket = db.session.get(Ticket, ticket_id)
        change(ticket)
        db.session.commit()
        db.session.remove()


def bulk_tickets(app, tenant_id: int, count: int, *, status: str = "new", assignee_id: int | None = None,
                 start: int = 1000, minutes_apart: int = 1) -> list[int]:
    """Insert ``count`` tickets directly (contact, response, ticket rows), oldest first; returns their ids."""
    now = utcnow()
    with app.app_context(), tenant_context(tenant_id):
        survey = surveys.default_survey()
        accounts = [CustomerAccount(name=f"Account {start + i}") for i in range(count)]
        db.session.add_all(accounts)
        db.session.flush()
        contacts = [Contact(name=f"Bulk Contact {start + i}", email=f"bulk{start + i}@client.example",
                            account_id=accounts[i].id) for i in range(count)]
        db.session.add_all(contacts)
        db.session.flush()
        responses = [Response(survey_id=survey.id, contact_id=c.id, score=i % 7, band="detractor",
                              comment=f"Comment {start + i}", amendable_until=now + timedelta(days=7))
                     for i, c in enumerate(contacts)]
        db.session.add_all(responses)
        db.session.flush()
        tickets = []
        for i, (contact, response) in enumerate(zip(contacts, responses)):
            opened = now - timedelta(minutes=minutes_apart * (count - i) + 60)
            ticket = Ticket(number=start + i, response_id=response.id, contact_id=contact.id,
                            account_id=contact.account_id, assignee_id=assignee_id, status=status, opened_at=opened)
            if status == "closed":
                ticket.closed_at, ticket.outcome, ticket.closing_note = opened + timedelta(minutes=30), "resolved", "Done"
            tickets.append(ticket)
        db.session.add_all(tickets)
        db.session.flush()
        db.session.add_all([Activity(ticket_id=t.id, kind="opened", details={"score": 3}) for t in tickets])
        db.session.commit()
        ids = [t.id for t in tickets]
        db.session.remove()
    return ids


def add_notes(app, tenant_id: int, ticket_id: int, count: int, actor_id: int) -> None:
    with app.app_context(), tenant_context(tenant_id):
        db.session.add_all([Activity(ticket_id=ticket_id, actor_id=actor_id, kind="note", body=f"Note {i}")
                            for i in range(count)])
        db.session.commit()
        db.session.remove()


@contextmanager
def count_queries(app):
    """Count the SQL statements sent to the database inside the block."""
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def _count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", _count)


def column_html(page: str, status: str) -> str:
    """The HTML of one board column."""
    match = re.search(rf'<section class="board-column" aria-labelledby="column-{status}">(.*?)</section>', page, re.S)
    assert match, f"no {status} column"
    return match.group(1)


def column_count(page: str, status: str) -> int:
    match = re.search(r'<span class="column-count">(\d+)<', column_html(page, status))
    return int(match.group(1))


def card_count(page: str, status: str) -> int:
    return column_html(page, status).count('<li class="card">')


def timeline_html(page: str) -> str:
    match = re.search(r'<ol class="timeline" id="timeline">(.*?)</ol>', page, re.S)
    assert match, "no timeline"
    return match.group(1)


def squash(html: str) -> str:
    """Collapse whitespace, so sentences split across template lines can be matched."""
    return re.sub(r"\s+", " ", html)


def ticket_url(org, ticket_id: int, action: str | None = None) -> str:
    base = f"/t/{org['slug']}/tickets/{ticket_id}"
    return f"{base}/{action}" if action else base


def any_root_cause() -> list[int]:
    """One of the current tenant's root-cause ids (closing a ticket needs one). Call inside a tenant context."""
    from app.settings.models import RootCause

    return [db.session.execute(select(RootCause.id).order_by(RootCause.id).limit(1)).scalar_one()]


def root_cause_id(app, tenant_id: int) -> str:
    """A root-cause id of the tenant, as a form posts it."""
    from app.tenancy import tenant_context

    with app.app_context(), tenant_context(tenant_id):
        return str(any_root_cause()[0])


def reassign(app, tenant_id: int, ticket_id: int, actor_id: int, assignee_id: int) -> None:
    """Reassign the ticket through the service, as the ticket page would."""
    with app.app_context(), tenant_context(tenant_id):
        ticket = db.session.get(Ticket, ticket_id)
        ticket_services.reassign(ticket, db.session.get(User, actor_id), db.session.get(User, assignee_id))
        db.session.commit()
        db.session.remove()


def close(app, tenant_id: int, ticket_id: int, actor_id: int, note: str = "Agreed a credit.") -> None:
    """Close the ticket as not resolved with the tenant's first root cause, through the service."""
    with app.app_context(), tenant_context(tenant_id):
        ticket = db.session.get(Ticket, ticket_id)
        cause = db.session.execute(select(RootCause.id).order_by(RootCause.id).limit(1)).scalar_one()
        ticket_services.close_ticket(ticket, db.session.get(User, actor_id), outcome="not_resolved", note=note,
                                     root_cause_ids=[cause])
        db.session.commit()
        db.session.remove()
