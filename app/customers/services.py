"""Accounts (a Company, Practice or Programme): finding, adding and changing them, their status and history,
their account team, and what an account's page shows.

Every query here is scoped to the current tenant by the session listener in :mod:`app.tenancy`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app import audit
from app.accounts.models import Membership, Tenant, User
from app.contacts.models import Contact
from app.customers.models import (
    ACCOUNT_STATUSES, AccountFunction, AccountStatus, AccountStatusChange, AccountTeamMember, CustomerAccount,
)
from app.extensions import db
from app.search import matching_ids
from app.rules import RuleError
from app.surveys.models import Response
from app.tickets.models import Activity, Status, Ticket, reference
from app.timeutil import utcnow
from app.views import KeysetPage, keyset_page

AREA = "accounts"
NAME_TAKEN = "Another account already has this name."
CONTACTS_SHOWN = 50
TICKETS_SHOWN = 20
HISTORY_SHOWN = 50
NPS_MONTHS = 24
AUDITED = ["name", "external_id", "owner", "notes"]


def _blank_to_none(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


# --- Finding accounts --------------------------------------------------------------------------------

def accounts_statement(q: str | None = None, status: str | None = None) -> Select:
    """Accounts whose name contains ``q`` (any case; the trigram index answers it on PostgreSQL), optionally
    only those with ``status``, with their owner."""
    statement = select(CustomerAccount).options(joinedload(CustomerAccount.owner))
    q = (q or "").strip()
    if q:
        statement = statement.where(CustomerAccount.id.in_(matching_ids(CustomerAccount, ["name"], q)))
    if status in ACCOUNT_STATUSES:
        statement = statement.where(CustomerAccount.status == status)
    return statement


def account_page(q: str | None, status: str | None, after: str | None, per_page: int = 25) -> KeysetPage:
    """One page of the accounts matching ``q`` and ``status``, by name, after the cursor ``after``."""
    return keyset_page(accounts_statement(q, status), [CustomerAccount.name, CustomerAccount.id], after=after,
                       limit=per_page)


def suggestions(q: str | None, limit: int = 10) -> list[str]:
    """Names of up to ``limit`` accounts containing ``q``, by name (what the contact form's Account field offers)."""
    q = (q or "").strip()
    if not q:
        return []
    return list(db.session.execute(select(CustomerAccount.name)
                                   .where(CustomerAccount.id.in_(matching_ids(CustomerAccount, ["name"], q)))
                                   .order_by(CustomerAccount.name).limit(limit)).scalars())


def contact_counts(account_ids: list[int]) -> dict[int, int]:
    """How many contacts each of ``account_ids`` has, in one query."""
    if not account_ids:
        return {}
    return dict(db.session.execute(
        select(Contact.account_id, func.count()).where(Contact.account_id.in_(account_ids))
        .group_by(Contact.account_id)).all())


def find_by_name(name: str) -> CustomerAccount | None:
    """The account called ``name``, ignoring case and surrounding spaces; None when there is none."""
    name = (name or "").strip()
    if not name:
        return None
    exact = db.session.execute(select(CustomerAccount).where(CustomerAccount.name == name)).scalar_one_or_none()
    if exact is not None:
        return exact
    return db.session.execute(select(CustomerAccount).where(func.lower(CustomerAccount.name) == name.lower())
                              .order_by(CustomerAccount.id).limit(1)).scalar_one_or_none()


def account_for_name(name: str | None) -> CustomerAccount | None:
    """The account a contact form's "Account" names: an existing one of that name (any case), else a new one;
    None for a blank name. Two people typing the same new name at once end with one account."""
    name = _blank_to_none(name)
    if name is None:
        return None
    found = find_by_name(name)
    if found is not None:
        return found
    try:
        with db.session.begin_nested():
            account = CustomerAccount(name=name, status=AccountStatus.ACTIVE)
            db.session.add(account)
    except IntegrityError:
        return find_by_name(name)
    audit.record(AREA, f"Added account {name}", {"name": [None, name]})
    return account


# --- Changing accounts -------------------------------------------------------------------------------

def owner_candidates() -> list[User]:
    """Active members of the organisation, by name: who may own an account or sit on its team."""
    return list(db.session.execute(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.is_active.is_(True)).order_by(User.name)).scalars())


def _active_member(user_id: int | None, field: str) -> User | None:
    if not user_id:
        return None
    user = db.session.execute(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(User.id == user_id, Membership.is_active.is_(True))).scalar_one_or_none()
    if user is None:
        raise RuleError("Choose an active member of your organisation.", field)
    return user


def _name_taken(name: str, exclude_id: int | None) -> bool:
    statement = select(CustomerAccount.id).where(func.lower(CustomerAccount.name) == name.lower())
    if exclude_id is not None:
        statement = statement.where(CustomerAccount.id != exclude_id)
    return db.session.execute(statement.limit(1)).first() is not None


def _snapshot(account: CustomerAccount) -> dict:
    return {"name": account.name, "external_id": account.external_id,
            "owner": account.owner.name if account.owner else None, "notes": account.notes}


def _apply(account: CustomerAccount, *, name: str, external_id: str | None, owner_id: int | None,
           notes: str | None) -> None:
    name = (name or "").strip()
    if not name:
        raise RuleError("Enter the account's name.", "name")
    if _name_taken(name, account.id):
        raise RuleError(NAME_TAKEN, "name")
    owner = _active_member(owner_id, "owner_id")
    account.name, account.external_id = name, _blank_to_none(external_id)
    account.owner_id, account.owner = (owner.id if owner else None), owner
    account.notes = _blank_to_none(notes)


def create_account(*, name: str, external_id: str | None = None, owner_id: int | None = None,
                   notes: str | None = None) -> CustomerAccount:
    """Add an account. Refuses a name another account has (any case) and an owner who is not an active member."""
    account = CustomerAccount(status=AccountStatus.ACTIVE)
    _apply(account, name=name, external_id=external_id, owner_id=owner_id, notes=notes)
    db.session.add(account)
    db.session.flush()
    audit.record(AREA, f"Added account {account.name}", audit.diff({}, _snapshot(account)))
    return account


def update_account(account: CustomerAccount, *, name: str, external_id: str | None = None,
                   owner_id: int | None = None, notes: str | None = None) -> bool:
    """Change an account's details; returns whether anything changed (each change is in the audit log)."""
    before = _snapshot(account)
    _apply(account, name=name, external_id=external_id, owner_id=owner_id, notes=notes)
    changes = audit.diff(before, _snapshot(account))
    if changes:
        db.session.flush()
        audit.record(AREA, f"Changed account {account.name}", changes)
    return bool(changes)


def change_status(account: CustomerAccount, status: str, reason: str | None, actor: User | None, *,
                  ticket: Ticket | None = None) -> AccountStatusChange:
    """Move the account to ``status`` (active, at risk, churned) with a reason, recorded in its history and
    the audit log; from a ticket ("Save / At risk"), the change names the ticket and the ticket's timeline
    says so. The reason is required."""
    if status not in ACCOUNT_STATUSES:
        raise RuleError("Choose Active, At risk or Churned.", "status")
    reason = _blank_to_none(reason)
    if reason is None:
        raise RuleError("Say why the account's status changes.", "reason")
    if len(reason) > 300:
        raise RuleError("Keep the reason under 300 characters.", "reason")
    previous = account.status
    now = utcnow()
    account.status, account.status_reason, account.status_changed_at = status, reason, now
    change = AccountStatusChange(account_id=account.id, from_status=previous, status=status, reason=reason,
                                 ticket_id=ticket.id if ticket else None,
                                 changed_by_id=actor.id if actor else None, created_at=now)
    db.session.add(change)
    if ticket is not None:
        if ticket.account_id is None:
            ticket.account_id = account.id
        db.session.add(Activity(ticket_id=ticket.id, actor_id=actor.id if actor else None, kind="account_status",
                                body=reason, details={"account": account.name, "account_id": account.id,
                                                      "previous": previous, "status": status}))
    summary = f"Marked account {account.name} {ACCOUNT_STATUSES[status].lower()}"
    if ticket is not None:
        summary += f" from ticket {ticket.reference}"
    audit.record(AREA, summary, {"status": [previous, status], "reason": [None, reason]})
    db.session.flush()
    return change


# --- The account team --------------------------------------------------------------------------------

def active_functions() -> list[AccountFunction]:
    return list(db.session.execute(
        select(AccountFunction).where(AccountFunction.retired_at.is_(None))
        .order_by(AccountFunction.position, AccountFunction.name)).scalars())


def team(account: CustomerAccount) -> list[AccountTeamMember]:
    """The account's team with each member and function, in one query: by function's place, then name."""
    return list(db.session.execute(
        select(AccountTeamMember).where(AccountTeamMember.account_id == account.id)
        .join(User, User.id == AccountTeamMember.user_id)
        .outerjoin(AccountFunction, AccountFunction.id == AccountTeamMember.function_id)
        .options(joinedload(AccountTeamMember.user), joinedload(AccountTeamMember.function))
        .order_by(AccountFunction.position.nulls_last(), User.name, AccountTeamMember.id)).scalars())


def add_team_member(account: CustomerAccount, user_id: int | None, function_id: int | None) -> AccountTeamMember:
    """Put an active member on the account's team in a function (one of the organisation's list)."""
    user = _active_member(user_id, "user_id")
    if user is None:
        raise RuleError("Choose a member.", "user_id")
    function = None
    if function_id:
        function = db.session.execute(select(AccountFunction).where(
            AccountFunction.id == function_id, AccountFunction.retired_at.is_(None))).scalar_one_or_none()
        if function is None:
            raise RuleError("Choose a function from the list.", "function_id")
    exists = select(AccountTeamMember.id).where(
        AccountTeamMember.account_id == account.id, AccountTeamMember.user_id == user.id,
        AccountTeamMember.function_id == function.id if function else AccountTeamMember.function_id.is_(None))
    if db.session.execute(exists.limit(1)).first() is not None:
        raise RuleError(f"{user.name} is already on this account's team in that function.", "user_id")
    member = AccountTeamMember(account_id=account.id, user_id=user.id, function_id=function.id if function else None)
    db.session.add(member)
    db.session.flush()
    role = function.name if function else "no function"
    audit.record(AREA, f"Added {user.name} to the team of account {account.name} ({role})",
                 {"team": [None, f"{user.name} ({role})"]})
    return member


def remove_team_member(account: CustomerAccount, member: AccountTeamMember) -> None:
    if member.account_id != account.id:
        raise RuleError("That person is not on this account's team.")
    role = member.function.name if member.function else "no function"
    audit.record(AREA, f"Removed {member.user.name} from the team of account {account.name} ({role})",
                 {"team": [f"{member.user.name} ({role})", None]})
    db.session.delete(member)
    db.session.flush()


# --- What an account's page shows --------------------------------------------------------------------

def account_contacts(account: CustomerAccount, limit: int = CONTACTS_SHOWN) -> tuple[list[Contact], int]:
    """The account's first ``limit`` contacts by name, and how many it has (counted up to ``limit`` + 1)."""
    rows = list(db.session.execute(select(Contact).where(Contact.account_id == account.id)
                                   .order_by(Contact.name, Contact.id).limit(limit + 1)).scalars())
    return rows[:limit], len(rows)


def responses_page(account: CustomerAccount, after: str | None, per_page: int = 20) -> KeysetPage:
    """The answers of the account's contacts, newest first, as ``(response, contact name)`` rows; keyset paged."""
    statement = (select(Response, Contact.name).join(Contact, Contact.id == Response.contact_id)
                 .where(Contact.account_id == account.id))
    return keyset_page(statement, [Response.created_at, Response.id], after=after, limit=per_page, descending=True)


@dataclass(frozen=True)
class NpsMonth:
    month: datetime
    responses: int
    promoters: int
    detractors: int

    @property
    def nps(self) -> int:
        return round(100 * (self.promoters - self.detractors) / self.responses) if self.responses else 0

    @property
    def meter(self) -> int:
        """The NPS moved to 0..200, for a <meter> that cannot start below zero in every browser."""
        return self.nps + 100


def nps_by_month(account: CustomerAccount, tenant: Tenant, months: int = NPS_MONTHS) -> list[NpsMonth]:
    """The account's NPS per month in the organisation's timezone (promoters − detractors, as a share of the
    month's answers), the last ``months`` months that had answers, oldest first: one GROUP BY query."""
    if db.session.get_bind().dialect.name == "postgresql":
        month = func.date_trunc("month", func.timezone(tenant.timezone, Response.created_at))
    else:
        month = func.strftime("%Y-%m-01 00:00:00", Response.created_at)
    rows = db.session.execute(
        select(month.label("month"), func.count().label("responses"),
               func.sum(case((Response.band == "promoter", 1), else_=0)).label("promoters"),
               func.sum(case((Response.band == "detractor", 1), else_=0)).label("detractors"))
        .join(Contact, Contact.id == Response.contact_id)
        .where(Contact.account_id == account.id)
        .group_by(month).order_by(month.desc()).limit(months)).all()
    found = []
    for row in reversed(rows):
        moment = row.month if isinstance(row.month, datetime) else datetime.fromisoformat(row.month)
        found.append(NpsMonth(moment, row.responses, int(row.promoters or 0), int(row.detractors or 0)))
    return found


def account_tickets(account: CustomerAccount, closed: bool, limit: int = TICKETS_SHOWN) -> tuple[list[Ticket], int]:
    """The account's newest open (or closed) tickets with contact and assignee, and how many up to ``limit`` + 1."""
    rows = list(db.session.execute(
        select(Ticket).where(Ticket.account_id == account.id,
                             Ticket.status == Status.CLOSED if closed else Ticket.status != Status.CLOSED)
        .options(joinedload(Ticket.contact), joinedload(Ticket.assignee), joinedload(Ticket.response))
        .order_by(Ticket.opened_at.desc(), Ticket.id.desc()).limit(limit + 1)).scalars())
    return rows[:limit], len(rows)


def status_history(account: CustomerAccount, limit: int = HISTORY_SHOWN) -> list[tuple[AccountStatusChange, str | None]]:
    """The account's status changes, newest first, each with who made it and the reference of the ticket it
    came from (None when it did not come from a ticket)."""
    rows = db.session.execute(
        select(AccountStatusChange, Ticket.number)
        .outerjoin(Ticket, Ticket.id == AccountStatusChange.ticket_id)
        .where(AccountStatusChange.account_id == account.id)
        .options(joinedload(AccountStatusChange.changed_by))
        .order_by(AccountStatusChange.created_at.desc(), AccountStatusChange.id.desc()).limit(limit)).all()
    return [(change, reference(number) if number is not None else None) for change, number in rows]
