"""Answering a survey runs a fixed, small number of SQL statements, however large the organisation."""
from __future__ import annotations

from tests.support.data import make_contact, make_invitation
from tests.support.tickets import bulk_tickets, count_queries

LIMIT = 20


def _answer(app, client, org, name: str) -> list[str]:
    """Statements of a detractor's form POST on a fresh invitation (it opens a ticket)."""
    token = make_invitation(app, org["tenant_id"], make_contact(app, org["tenant_id"], name))
    with count_queries(app) as statements:
        response = client.post(f"/s/{token}", data={"score": "2", "comment": "Still waiting on the refund."})
    assert response.status_code == 303
    return list(statements)


def test_a_detractor_answer_opening_a_ticket_runs_at_most_20_statements(app, client, org):
    _answer(app, client, org, "Warm Up")
    few = _answer(app, client, org, "Casey Client")
    bulk_tickets(app, org["tenant_id"], 300, start=100)
    many = _answer(app, client, org, "Dana Doe")
    assert len(few) == len(many), many
    assert len(many) <= LIMIT, "\n".join(many)
