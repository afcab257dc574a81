"""Builders for the routing, teams and backlog tests: accounts with owners, teams, capacities and absences."""
from __future__ import annotations

from sqlalchemy import insert, select, update

from app.accounts.models import Membership
from app.customers.models import CustomerAccount
from app.extensions import db
from app.mail import OutboxMessage
from app.teams.models import Team, team_member
from app.tenancy import scoped_by_hand, tenant_context
from app.tickets.models import Activity, Ticket
from tests.support.tickets import open_ticket


def make_account(app, tenant_id: int, name: str, owner_id: int | None) -> int:
    with app.app_context(), tenant_context(tenant_id):
        account = CustomerAccount(name=name, owner_id=owner_id)
        db.session.add(account)
        db.session.commit()
        account_id = account.id
        db.session.remove()
    return account_id


def make_team(app, tenant_id: int, name: str, members: list[int], manager_id: int | None = None) -> int:
    with app.app_context(), tenant_context(tenant_id):
        team = Team(name=name, manager_id=manager_id)
        db.session.add(team)
        db.session.commit()
        team_id = team.id
        db.session.remove()
    add_to_team(app, tenant_id, team_id, members)
    return team_id


def add_to_team(app, tenant_id: int, team_id: int, members: list[int]) -> None:
    if not members:
        return
    with app.app_context(), tenant_context(tenant_id):
        db.session.execute(scoped_by_hand(insert(team_member)), [
            {"tenant_id": tenant_id, "team_id": team_id, "user_id": user_id} for user_id in members])
        db.session.commit()
        db.session.remove()


def set_member(app, tenant_id: int, user_id: int, **values) -> None:
    """Change a member's capacity or absence (``capacity=0``, ``away_until=date(…)``)."""
    with app.app_context(), tenant_context(tenant_id):
        db.session.execute(update(Membership).where(Membership.user_id == user_id).values(**values))
        db.session.commit()
        db.session.remove()


def membership_id(app, tenant_id: int, user_id: int) -> int:
    with app.app_context(), tenant_context(tenant_id):
        found = db.session.execute(select(Membership.id).where(Membership.user_id == user_id)).scalar_one()
        db.session.remove()
    return found


def ticket_for(app, org, name: str, account_id: int | None = None) -> tuple[int | None, str]:
    """Open a ticket for a new contact (of ``account_id``); returns its assignee and its "opened" sentence data."""
    ticket_id = open_ticket(app, org, name, **({"account_id": account_id} if account_id else {}))
    with app.app_context(), tenant_context(org["tenant_id"]):
        ticket = db.session.get(Ticket, ticket_id)
        opened = db.session.execute(select(Activity).where(Activity.ticket_id == ticket_id,
                                                           Activity.kind == "opened")).scalar_one()
        found = ticket.assignee_id, (opened.details or {}).get("routed")
        db.session.remove()
    return found


def kinds_sent(app, tenant_id: int, kind: str) -> list[tuple[str, str]]:
    """``(address, subject)`` of the organisation's outbox messages of ``kind``, oldest first."""
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(select(OutboxMessage.to_address, OutboxMessage.subject)
                                  .where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)).all()
        db.session.remove()
    return [tuple(row) for row in rows]
