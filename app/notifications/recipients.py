"""Who is told: an organisation's active members, and its notification lists resolved to addresses.

One rule for every path: a list subscribed to an event reaches the active members holding one of its roles
or named by it (in order of name), then its outside addresses (in the order of the lists); each address
once, compared without case. The sweep loads members and lists for many organisations with one query each;
:func:`recipients` loads them for the current organisation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from sqlalchemy import select

from app.accounts.models import Membership, User
from app.extensions import db
from app.settings.models import NotificationList
from app.tenancy import current_tenant_id, unscoped

# (address, display name); outside addresses have no name.
Recipient = tuple[str, str | None]


def first_name(name: str) -> str:
    return name.split()[0] if name.strip() else name


@dataclass(frozen=True)
class Member:
    """An active member of an organisation, as notifications need them."""

    user_id: int
    name: str
    email: str
    role: str
    phone: str | None = None
    title: str | None = None
    signature: str | None = None

    @property
    def first_name(self) -> str:
        return first_name(self.name)

    @property
    def recipient(self) -> Recipient:
        return self.email, self.name


def load_members(tenant_ids: Iterable[int]) -> dict[int, dict[int, Member]]:
    """Active members of each organisation, by user id, in one query."""
    members: dict[int, dict[int, Member]] = {tenant_id: {} for tenant_id in tenant_ids}
    rows = db.session.execute(unscoped(
        select(Membership.tenant_id, Membership.role, User.id, User.name, User.email, User.phone, User.job_title,
               User.email_signature)
        .join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id.in_(list(members)), Membership.is_active.is_(True))
    ))
    for row in rows:
        members[row.tenant_id][row.id] = Member(row.id, row.name, row.email, row.role, row.phone, row.job_title,
                                                row.email_signature)
    return members


def load_lists(tenant_ids: Iterable[int]) -> dict[int, list[NotificationList]]:
    """Each organisation's notification lists, oldest first, in one query."""
    lists: dict[int, list[NotificationList]] = {tenant_id: [] for tenant_id in tenant_ids}
    rows = db.session.execute(unscoped(
        select(NotificationList).where(NotificationList.tenant_id.in_(list(lists))).order_by(NotificationList.id)
    )).scalars()
    for nl in rows:
        lists[nl.tenant_id].append(nl)
    return lists


def resolve(lists: Sequence[NotificationList], members: Iterable[Member], event: str) -> list[Recipient]:
    """``(email, name)`` of everyone on a list subscribed to ``event``, each address once."""
    subscribed = [nl for nl in lists if event in (nl.events or [])]
    roles = {role for nl in subscribed for role in (nl.roles or [])}
    member_ids = {int(i) for nl in subscribed for i in (nl.member_ids or [])}
    found: dict[str, Recipient] = {}
    if roles or member_ids:
        for member in sorted(members, key=lambda m: (m.name, m.user_id)):
            if member.role in roles or member.user_id in member_ids:
                found.setdefault(member.email.lower(), member.recipient)
    for nl in subscribed:
        for address in nl.addresses or []:
            found.setdefault(address.strip().lower(), (address.strip(), None))
    return list(found.values())


def recipients(event: str) -> list[Recipient]:
    """Who the current organisation's lists tell about ``event``; two queries, one when no list hears it."""
    tenant_id = current_tenant_id()
    lists = load_lists([tenant_id])[tenant_id]
    if not any(event in (nl.events or []) for nl in lists):
        return []
    return resolve(lists, load_members([tenant_id])[tenant_id].values(), event)
