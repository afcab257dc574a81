"""Answering a survey runs a fixed, small number of SQL statements, however large the organisation."""
from __future__ import annotations

from sqlalchemy import select

from app.customers.models import AccountFunction, AccountTeamMember
from app.extensions import db
from app.tenancy import tenant_context
from tests.support.data import add_member, make_account, make_contact, make_invitation
from tests.support.tickets import bulk_tickets, count_queries
from tests.support.workflow import set_sla
from tests.teams.helpers import make_team

LIMIT = 20


def _answer(app, client, org, name: str, account_id: int | None = None) -> list[str]:
    """Statements of a detractor's form POST on a fresh invitation (it opens a ticket)."""
    contact_id = make_contact(app, org["tenant_id"], name, account_id=account_id)
    token = make_invitation(app, org["tenant_id"], contact_id)
    with count_queries(app) as statements:
        response = client.post(f"/s/{token}", data={"score": "2", "comment": "Still waiting on the refund."})
    assert response.status_code == 303
    return list(statements)


def _seat(app, tenant_id: int, account_id: int, user_id: int, function: str) -> None:
    with app.app_context(), tenant_context(tenant_id):
        function_id = db.session.execute(
            select(AccountFunction.id).where(AccountFunction.name == function)).scalar_one()
        db.session.add(AccountTeamMember(account_id=account_id, user_id=user_id, function_id=function_id))
        db.session.commit()
        db.session.remove()


def test_a_detractor_answer_opening_a_ticket_runs_at_most_20_statements(app, client, org):
    _answer(app, client, org, "Warm Up")
    few = _answer(app, client, org, "Casey Client")
    bulk_tickets(app, org["tenant_id"], 300, start=100)
    many = _answer(app, client, org, "Dana Doe")
    assert len(few) == len(many), many
    assert len(many) <= LIMIT, "\n".join(many)


def test_an_answer_from_a_contact_with_an_account_team_and_a_routing_team_runs_at_most_20_statements(
        app, client, org):
    """The most an answer reads: the account's owner and its managers and directors for the introduction, and
    the routing team's members and manager."""
    tenant_id = org["tenant_id"]
    owner = add_member(app, tenant_id, "agent", "Olive Owner", "olive@acme.example")
    director = add_member(app, tenant_id, "manager", "Dora Director", "dora@acme.example")
    account_id = make_account(app, tenant_id, "Casey Dental", owner_id=owner)
    _seat(app, tenant_id, account_id, org["manager"], "Manager")
    _seat(app, tenant_id, account_id, director, "Director")
    set_sla(app, tenant_id, routing_team_id=make_team(app, tenant_id, "Customer Success", [org["agent"]],
                                                      manager_id=org["manager"]))

    _answer(app, client, org, "Warm Up", account_id)
    few = _answer(app, client, org, "Casey Client", account_id)
    bulk_tickets(app, tenant_id, 300, start=100, assignee_id=owner)
    many = _answer(app, client, org, "Dana Doe", account_id)
    assert len(few) == len(many), many
    assert len(many) <= LIMIT, "\n".join(many)
