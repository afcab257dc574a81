"""``/api/v1/accounts``: the organisation's customer accounts."""
from __future__ import annotations

from flask import request
from sqlalchemy import select

from app.api import schemas
from app.api.core import ApiError, actor, bp, get_or_404, iso, page, responses, spec, writes
from app.customers import services as customers
from app.customers.models import CustomerAccount
from app.rules import RuleError


def serialise(account: CustomerAccount) -> dict:
    return {"id": account.id, "name": account.name, "external_id": account.external_id, "status": account.status,
            "status_reason": account.status_reason, "owner_id": account.owner_id, "notes": account.notes,
            "created_at": iso(account.created_at), "updated_at": iso(account.updated_at)}


def _apply(account: CustomerAccount | None, body) -> CustomerAccount:
    """Add (``account`` None) or change an account with the fields ``body`` gives, through the accounts
    service (app.customers.services: its rules, its audit entries — attributed to the token — and its status
    history): a taken name is a 409, any other refusal a 422 naming the field."""
    given = body.model_fields_set
    fields = {"name": "", "external_id": None, "owner_id": None, "notes": None} if account is None else {
        "name": account.name, "external_id": account.external_id, "owner_id": account.owner_id,
        "notes": account.notes}
    fields.update({name: getattr(body, name) for name in fields if name in given})
    try:
        if account is None:
            account = customers.create_account(**fields)
        else:
            customers.update_account(account, **fields)
        status = body.status if "status" in given else None
        if status is not None and status != account.status:
            customers.change_status(account, status, body.status_reason, actor())
    except RuleError as error:
        field, message = next(iter(error.errors.items()), (None, str(error)))
        if message == customers.NAME_TAKEN:
            raise ApiError(409, "duplicate_name", message, "name") from error
        raise ApiError(422, "rule", message, "status_reason" if field == "reason" else field) from error
    return account


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
    return serialise(_apply(None, request.context.json)), 201


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
    return serialise(_apply(get_or_404(CustomerAccount, account_id), request.context.json)), 200
