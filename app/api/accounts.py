"""``/api/v1/accounts``: the organisation's customer accounts."""
from __future__ import annotations

from flask import request
from sqlalchemy import select

from app.accounts.models import Membership
from app.api import schemas
from app.api.core import ApiError, actor, audit_change, bp, get_or_404, iso, page, responses, spec, writes
from app.audit import diff, snapshot
from app.customers.models import AccountStatus, AccountStatusChange, CustomerAccount
from app.extensions import db
from app.timeutil import utcnow

FIELDS = ["name", "external_id", "status", "status_reason", "owner_id", "notes"]


def serialise(account: CustomerAccount) -> dict:
    return {"id": account.id, "name": account.name, "external_id": account.external_id, "status": account.status,
            "status_reason": account.status_reason, "owner_id": account.owner_id, "notes": account.notes,
            "created_at": iso(account.created_at), "updated_at": iso(account.updated_at)}


def _apply(account: CustomerAccount, body) -> None:
    """Set the fields ``body`` gives: a taken name is a 409, an owner who is not an active member a 422, and a
    change of status is kept in the account's status history."""
    given = body.model_fields_set
    if "name" in given:
        name = (body.name or "").strip()
        if not name:
            raise ApiError(422, "invalid", "Give the account a name.", "name")
        taken = db.session.execute(select(CustomerAccount.id).where(
            CustomerAccount.name == name, CustomerAccount.id != (account.id or 0))).first()
        if taken:
            raise ApiError(409, "duplicate_name", "Another account already has this name.", "name")
        account.name = name
    if "owner_id" in given and body.owner_id is not None:
        member = db.session.execute(select(Membership.id).where(
            Membership.user_id == body.owner_id, Membership.is_active.is_(True))).first()
        if member is None:
            raise ApiError(422, "unknown_member", "No active member has this user id.", "owner_id")
    for name in ("external_id", "status_reason", "owner_id", "notes"):
        if name in given:
            value = getattr(body, name)
            setattr(account, name, value.strip() or None if isinstance(value, str) else value)
    new = account.id is None
    db.session.add(account)
    db.session.flush()
    status = body.status if "status" in given and body.status is not None else None
    if status is not None and status != account.status:
        previous = None if new else account.status
        account.status, account.status_changed_at = status, utcnow()
        user = actor()
        db.session.add(AccountStatusChange(account_id=account.id, from_status=previous, status=status,
                                           reason=account.status_reason, changed_by_id=user.id if user else None))
    db.session.flush()


@bp.get("/accounts")
@spec.validate(query=schemas.AccountQuery, resp=responses(schemas.AccountList), tags=["Accounts"])
def list_accounts():
    """List accounts, oldest first, filtered by name, external id, status or last change."""
    query = request.context.query
    statement = select(CustomerAccount)
    if query.name is not None:
        statement = statement.where(CustomerAccount.name == query.name)
    if query.external_id is not None:
        statement = statement.where(CustomerAccount.external_id == query.external_id)
    if query.status is not None:
        statement = statement.where(CustomerAccount.status == query.status)
    if query.updated_since is not None:
        statement = statement.where(CustomerAccount.updated_at >= query.updated_since)
    return page(statement, [CustomerAccount.id], serialise, query)


@bp.post("/accounts")
@spec.validate(json=schemas.AccountCreate, resp=responses(schemas.Account, 201, write=True), tags=["Accounts"])
@writes
def create_account():
    """Add an account (409 when another account has the name)."""
    account = CustomerAccount(status=AccountStatus.ACTIVE)
    _apply(account, request.context.json)
    audit_change(f"Account {account.id} added", diff({}, snapshot(account, FIELDS)))
    return serialise(account), 201


@bp.get("/accounts/<int:account_id>")
@spec.validate(resp=responses(schemas.Account, reads_id=True), tags=["Accounts"])
def get_account(account_id: int):
    """Read an account."""
    return serialise(get_or_404(CustomerAccount, account_id)), 200


@bp.patch("/accounts/<int:account_id>")
@spec.validate(json=schemas.AccountUpdate, resp=responses(schemas.Account, reads_id=True, write=True),
               tags=["Accounts"])
@writes
def update_account(account_id: int):
    """Change the fields given; a change of status is kept in the account's history."""
    account = get_or_404(CustomerAccount, account_id)
    before = snapshot(account, FIELDS)
    _apply(account, request.context.json)
    audit_change(f"Account {account.id} changed", diff(before, snapshot(account, FIELDS)))
    return serialise(account), 200
