"""Finding, adding and changing contacts.

Every query here is scoped to the current tenant by the session listener in
:mod:`app.tenancy`; nothing in this module filters on ``tenant_id`` by hand.
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from app.contacts.models import Contact, RecipientRole
from app.customers.models import CustomerAccount
from app.customers.services import account_for_name
from app.extensions import db
from app.search import matching_ids
from app.settings.services import get_settings
from app.rules import RuleError
from app.surveys.models import Response, SurveyInvitation
from app.timeutil import utcnow
from app.views import KeysetPage, capped_count, keyset_page

HISTORY_LIMIT = 50
COUNT_CAP = 500
# A search's count stops sooner: a common fragment matches thousands, and past a hundred the number
# only says "narrow it down".
SEARCH_COUNT_CAP = 100


DUPLICATE_EMAIL = "Another contact in this organisation already uses this email address."


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def _blank_to_none(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def active_roles() -> list[RecipientRole]:
    """The tenant's recipient roles that may still be given to contacts, by name."""
    return list(
        db.session.execute(
            select(RecipientRole).where(RecipientRole.retired_at.is_(None)).order_by(RecipientRole.name)
        ).scalars()
    )


def default_role_ids(roles: Iterable[RecipientRole]) -> list[int]:
    """The roles ticked on the form for a new contact: the default role chosen in Settings → Recipient roles
    when it is among ``roles``; none when no default is set."""
    default_id = get_settings().default_contact_role_id
    return [role.id for role in roles if role.id == default_id]


def _matching(statement: Select, q: str | None) -> Select:
    """Contacts whose name, email or account name contains ``q`` (any case, wildcards taken literally),
    through the trigram indexes on PostgreSQL (app.search): the account's name through its own index, then
    the contacts of the matching accounts through ``ix_contact_tenant_account``."""
    q = (q or "").strip()
    if not q:
        return statement
    return statement.where(or_(Contact.id.in_(matching_ids(Contact, ["name", "email"], q)),
                               Contact.account_id.in_(matching_ids(CustomerAccount, ["name"], q))))


def contact_page(q: str | None, after: str | None, per_page: int = 25) -> KeysetPage:
    """One page of the contacts matching ``q`` (all without it), by name, after the cursor ``after``,
    with their roles loaded in one more statement."""
    statement = _matching(select(Contact).options(selectinload(Contact.roles), joinedload(Contact.account)), q)
    return keyset_page(statement, [Contact.name, Contact.id], after=after, limit=per_page)


def count_cap(q: str | None) -> int:
    """Where the count of contacts matching ``q`` stops (shown as "500+" or "100+")."""
    return SEARCH_COUNT_CAP if (q or "").strip() else COUNT_CAP


def count_matching(q: str | None) -> int:
    """How many contacts match ``q``, counted up to ``count_cap(q) + 1``."""
    return capped_count(_matching(select(Contact.id), q), count_cap(q))


def email_in_use(email: str, *, exclude_id: int | None = None) -> bool:
    statement = select(Contact.id).where(func.lower(Contact.email) == normalise_email(email))
    if exclude_id is not None:
        statement = statement.where(Contact.id != exclude_id)
    return db.session.execute(statement.limit(1)).first() is not None


def _roles_by_ids(role_ids: Iterable[int]) -> list[RecipientRole]:
    ids = {int(i) for i in role_ids or ()}
    if not ids:
        return []
    return list(
        db.session.execute(
            select(RecipientRole).where(RecipientRole.id.in_(ids), RecipientRole.retired_at.is_(None))
        ).scalars()
    )


def _apply(contact: Contact, *, name: str, email: str, phone: str | None, account: str | None,
           external_id: str | None) -> None:
    contact.name = name.strip()
    contact.email = normalise_email(email)
    contact.phone = _blank_to_none(phone)
    linked = account_for_name(account)
    contact.account_id, contact.account = (linked.id if linked else None), linked
    contact.external_id = _blank_to_none(external_id)


def create_contact(*, name: str, email: str, phone: str | None = None, account: str | None = None,
                   external_id: str | None = None, role_ids: Iterable[int] = ()) -> Contact:
    """Add a contact to the current tenant. ``account`` names its account: an existing one of that name (any
    case), else a new one; blank for none. Raises :class:`~app.rules.RuleError` on ``email`` if the address is
    taken."""
    if email_in_use(email):
        raise RuleError(DUPLICATE_EMAIL, "email")
    contact = Contact()
    _apply(contact, name=name, email=email, phone=phone, account=account, external_id=external_id)
    contact.roles = _roles_by_ids(role_ids)
    db.session.add(contact)
    db.session.flush()
    return contact


def update_contact(contact: Contact, *, name: str, email: str, phone: str | None = None,
                   account: str | None = None, external_id: str | None = None,
                   role_ids: Iterable[int] = ()) -> Contact:
    """Change a contact. Retired roles the contact still holds are kept (the form does not offer them)."""
    if email_in_use(email, exclude_id=contact.id):
        raise RuleError(DUPLICATE_EMAIL, "email")
    _apply(contact, name=name, email=email, phone=phone, account=account, external_id=external_id)
    retired = [role for role in contact.roles if role.retired_at is not None]
    roles = _roles_by_ids(role_ids) + retired
    if {role.id for role in roles} != {role.id for role in contact.roles}:
        # A change of roles alone writes no contact column; the report rollups find changed contacts by this.
        contact.updated_at = utcnow()
    contact.roles = roles
    db.session.flush()
    return contact


def survey_history(contact: Contact, limit: int = HISTORY_LIMIT) -> list[dict]:
    """The surveys sent to the contact and the answers that came back, newest first.

    Each entry is ``{"at", "invitation", "response"}``; answers given without an
    invitation (for example entered by hand) appear with ``invitation`` None.
    """
    invitations = db.session.execute(
        select(SurveyInvitation)
        .where(SurveyInvitation.contact_id == contact.id)
        .options(selectinload(SurveyInvitation.response))
        .order_by(SurveyInvitation.created_at.desc(), SurveyInvitation.id.desc())
        .limit(limit)
    ).scalars().all()
    loose = db.session.execute(
        select(Response)
        .where(Response.contact_id == contact.id, Response.invitation_id.is_(None))
        .order_by(Response.created_at.desc())
        .limit(limit)
    ).scalars().all()
    entries = [{"at": inv.created_at, "invitation": inv, "response": inv.response} for inv in invitations]
    entries += [{"at": resp.created_at, "invitation": None, "response": resp} for resp in loose]
    entries.sort(key=lambda e: e["at"], reverse=True)
    return entries[:limit]
