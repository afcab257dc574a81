"""``/api/v1/contacts``: list with filters, add, read, change, delete, and upsert by email."""
from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from flask import request
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.api import schemas
from app.api.core import ApiError, audit_change, bp, get_or_404, iso, page, responses, spec, writes
from app.audit import diff, snapshot
from app.contacts import services
from app.contacts.models import Contact, RecipientRole
from app.customers.models import CustomerAccount
from app.extensions import db
from app.reports.rollup import note_deletion_of_contact
from app.rules import RuleError
from app.tickets.models import Status, Ticket

FIELDS = ["name", "email", "phone", "external_id", "account_id"]


def serialise(contact: Contact) -> dict:
    return {"id": contact.id, "name": contact.name, "email": contact.email, "phone": contact.phone,
            "external_id": contact.external_id, "account_id": contact.account_id,
            "roles": [role.name for role in contact.roles], "created_at": iso(contact.created_at),
            "updated_at": iso(contact.updated_at)}


def _role_ids(names: list[str] | None) -> list[int] | None:
    """The ids of the named active roles; an unknown name is a 422 on ``roles``."""
    if names is None:
        return None
    wanted = {name.strip() for name in names}
    found = dict(db.session.execute(select(RecipientRole.name, RecipientRole.id).where(
        RecipientRole.name.in_(wanted), RecipientRole.retired_at.is_(None))).all())
    unknown = sorted(wanted - set(found))
    if unknown:
        raise ApiError(422, "unknown_role", f"No active recipient role is named {unknown[0]!r}.", "roles")
    return list(found.values())


def _check_account(account_id: int | None) -> None:
    if account_id is not None and db.session.get(CustomerAccount, account_id) is None:
        raise ApiError(422, "unknown_account", "No account has this id.", "account_id")


def _save(contact: Contact | None, body, **override) -> Contact:
    """Create (``contact`` None) or change a contact with the fields ``body`` sets, through the contacts
    service; a duplicate email is a 409."""
    given = body.model_fields_set | set(override)
    values = {**body.model_dump(), **override}
    current = {name: getattr(contact, name) for name in FIELDS} if contact is not None else {}
    merged = {name: values[name] if name in given else current.get(name) for name in FIELDS}
    for required in ("name", "email"):
        if not (merged[required] or "").strip():
            raise ApiError(422, "invalid", f"{required.capitalize()} cannot be empty.", required)
    try:
        validate_email(merged["email"], check_deliverability=False)
    except EmailNotValidError:
        raise ApiError(422, "invalid", "This is not an email address.", "email") from None
    _check_account(merged["account_id"])
    role_ids = _role_ids(values.get("roles")) if "roles" in given else None
    fields = {"name": merged["name"], "email": merged["email"], "phone": merged["phone"],
              "external_id": merged["external_id"]}
    try:
        if contact is None:
            contact = services.create_contact(**fields, role_ids=role_ids or ())
        else:
            kept = [role.id for role in contact.roles if role.retired_at is None]
            contact = services.update_contact(contact, **fields, role_ids=kept if role_ids is None else role_ids)
    except RuleError as error:
        if error.errors.get("email") == services.DUPLICATE_EMAIL:
            raise ApiError(409, "duplicate_email", services.DUPLICATE_EMAIL, "email") from None
        raise
    # Through the relationship, so the contacts service (which may set it from an account name) never disagrees.
    contact.account = db.session.get(CustomerAccount, merged["account_id"]) if merged["account_id"] else None
    db.session.flush()
    return contact


@bp.get("/contacts")
@spec.validate(query=schemas.ContactQuery, resp=responses(schemas.ContactList), tags=["Contacts"])
def list_contacts():
    """List contacts, oldest first, filtered by email, external id, account, role or last change."""
    query = request.context.query
    statement = select(Contact).options(selectinload(Contact.roles))
    if query.email is not None:
        statement = statement.where(Contact.email == services.normalise_email(query.email))
    if query.external_id is not None:
        statement = statement.where(Contact.external_id == query.external_id)
    if query.account_id is not None:
        statement = statement.where(Contact.account_id == query.account_id)
    if query.role is not None:
        statement = statement.where(Contact.roles.any(RecipientRole.name == query.role))
    if query.updated_since is not None:
        statement = statement.where(Contact.updated_at >= query.updated_since)
    return page(statement, [Contact.id], serialise, query)


@bp.post("/contacts")
@spec.validate(json=schemas.ContactCreate, resp=responses(schemas.Contact, 201, write=True), tags=["Contacts"])
@writes
def create_contact():
    """Add a contact (409 when another contact has the email)."""
    contact = _save(None, request.context.json)
    audit_change(f"Contact {contact.id} added", diff({}, snapshot(contact, FIELDS)))
    return serialise(contact), 201


@bp.get("/contacts/<int:contact_id>")
@spec.validate(resp=responses(schemas.Contact, reads_id=True), tags=["Contacts"])
def get_contact(contact_id: int):
    """Read a contact."""
    return serialise(get_or_404(Contact, contact_id)), 200


@bp.patch("/contacts/<int:contact_id>")
@spec.validate(json=schemas.ContactUpdate, resp=responses(schemas.Contact, reads_id=True, write=True),
               tags=["Contacts"])
@writes
def update_contact(contact_id: int):
    """Change the fields given; the others keep their values."""
    contact = get_or_404(Contact, contact_id)
    before = snapshot(contact, FIELDS)
    _save(contact, request.context.json)
    audit_change(f"Contact {contact.id} changed", diff(before, snapshot(contact, FIELDS)))
    return serialise(contact), 200


@bp.delete("/contacts/<int:contact_id>")
@spec.validate(resp=responses(None, 204, reads_id=True, write=True), tags=["Contacts"])
@writes
def delete_contact(contact_id: int):
    """Delete a contact with their answers and closed tickets (409 while one of their tickets is open)."""
    contact = get_or_404(Contact, contact_id)
    open_ticket = db.session.execute(select(func.count(Ticket.id)).where(
        Ticket.contact_id == contact.id, Ticket.status != Status.CLOSED)).scalar_one()
    if open_ticket:
        raise ApiError(409, "open_ticket", "This contact has an open ticket: close it first.")
    audit_change(f"Contact {contact.id} deleted", {name: [value, None] for name, value in
                                                   snapshot(contact, FIELDS).items() if value is not None})
    note_deletion_of_contact(contact.tenant_id, contact.id)
    db.session.delete(contact)
    db.session.flush()
    return "", 204


@bp.put("/contacts/by-email/<path:email>")
@spec.validate(json=schemas.ContactUpsert, resp=responses(schemas.Contact, write=True, also=(201,)),
               tags=["Contacts"])
@writes
def upsert_contact(email: str):
    """Create the contact with this email (201), or change the one that has it (200)."""
    if not 3 <= len(email) <= 254 or "@" not in email:
        raise ApiError(422, "invalid", "The path must end with an email address.", "email")
    existing = db.session.execute(select(Contact).where(
        Contact.email == services.normalise_email(email))).scalar_one_or_none()
    before = snapshot(existing, FIELDS) if existing is not None else {}
    contact = _save(existing, request.context.json, email=email)
    audit_change(f"Contact {contact.id} {'changed' if existing else 'added'}", diff(before, snapshot(contact, FIELDS)))
    return serialise(contact), 200 if existing is not None else 201
