"""Who hears about what: notification lists resolved to addresses, and the alert emails they get."""
from __future__ import annotations

from sqlalchemy import or_, select

from app.accounts.models import Membership, User
from app.extensions import db
from app.settings.models import NotificationList


def recipients(event: str) -> list[tuple[str, str | None]]:
    """``(email, name)`` of everyone on a list subscribed to ``event``, each address once.

    A list reaches active members holding its roles, its chosen active members, and its outside addresses.
    """
    lists = [nl for nl in db.session.execute(select(NotificationList).order_by(NotificationList.id)).scalars()
             if event in (nl.events or [])]
    if not lists:
        return []
    roles = {role for nl in lists for role in (nl.roles or [])}
    member_ids = {int(i) for nl in lists for i in (nl.member_ids or [])}
    found: dict[str, tuple[str, str | None]] = {}
    if roles or member_ids:
        users = db.session.execute(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.is_active.is_(True), or_(Membership.role.in_(roles), User.id.in_(member_ids)))
            .order_by(User.name)
        ).scalars()
        for user in users:
            found.setdefault(user.email.lower(), (user.email, user.name))
    for nl in lists:
        for address in nl.addresses or []:
            found.setdefault(address.strip().lower(), (address.strip(), None))
    return list(found.values())
