"""The notification lists admins keep: add, change, delete, and the PHI-safe alerts switch.

A list names the ticket events it hears about, and reaches everyone holding some roles, chosen members
and outside addresses (:mod:`app.notifications.recipients` turns lists into addresses). Every change to a
list, and to PHI-safe alerts, writes an audit entry in the same transaction.
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import func, select

from app import audit
from app.accounts.models import Membership, User
from app.extensions import db
from app.rules import RuleError
from app.settings.models import NOTIFICATION_EVENTS, NotificationList
from app.settings.services import get_settings
from app.tenancy import ROLE_LABELS, ROLES




def active_members() -> list[User]:
    """Active members of the current organisation, by name: who a list may name one by one."""
    return list(db.session.execute(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.is_active.is_(True)).order_by(User.name, User.id)
    ).scalars())


def member_names(lists: Iterable[NotificationList]) -> dict[int, str]:
    """Names of every member the given lists name, in one query (deactivated members included)."""
    ids = {int(i) for nl in lists for i in (nl.member_ids or [])}
    if not ids:
        return {}
    return dict(db.session.execute(
        select(User.id, User.name).join(Membership, Membership.user_id == User.id).where(User.id.in_(ids))
    ).all())


def unheard_events() -> list[str]:
    """Labels of the events no list hears about (nobody would be told)."""
    heard = {event for events in db.session.execute(select(NotificationList.events)).scalars()
             for event in events or []}
    return [label for event, label in NOTIFICATION_EVENTS.items() if event not in heard]


def _snapshot(nl: NotificationList, names: dict[int, str]) -> dict:
    """A list as the audit log shows it: labels and names rather than keys and ids."""
    return {
        "name": nl.name,
        "events": [label for e, label in NOTIFICATION_EVENTS.items() if e in (nl.events or [])],
        "roles": [ROLE_LABELS[r] for r in ROLES if r in (nl.roles or [])],
        "members": sorted(names.get(int(i), f"member #{i}") for i in nl.member_ids or []),
        "addresses": list(nl.addresses or []),
    }


def _normalise_addresses(addresses: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for address in addresses:
        address = address.strip()
        if address:
            seen.setdefault(address.lower(), address)
    return list(seen.values())


def _apply(nl: NotificationList, *, name: str, events: list[str], roles: list[str], member_ids: list[int],
           addresses: list[str]) -> None:
    name = (name or "").strip()
    if not name:
        raise RuleError("Give the list a name.", "name")
    clash = select(NotificationList.id).where(func.lower(NotificationList.name) == name.lower())
    if nl.id is not None:
        clash = clash.where(NotificationList.id != nl.id)
    if db.session.execute(clash).first():
        raise RuleError(f"There is already a list called “{name}”. Choose another name.", "name")
    events = [e for e in NOTIFICATION_EVENTS if e in set(events)]
    if not events:
        raise RuleError("Choose at least one event this list hears about.", "events")
    allowed_ids = {user.id for user in active_members()} if member_ids else set()
    if set(member_ids) - allowed_ids:
        raise RuleError("Choose active members of this organisation.", "member_ids")
    roles = [r for r in ROLES if r in set(roles)]
    addresses = _normalise_addresses(addresses)
    if not (roles or member_ids or addresses):
        raise RuleError("Choose at least one role, member or outside address to send to.", "roles")
    nl.name, nl.events, nl.roles = name, events, roles
    nl.member_ids, nl.addresses = sorted(set(member_ids)), addresses


def create_list(*, name: str, events: list[str], roles: list[str], member_ids: list[int],
                addresses: list[str]) -> NotificationList:
    """Add a list (names are unique per organisation, case aside) and audit it."""
    nl = NotificationList()
    _apply(nl, name=name, events=events, roles=roles, member_ids=member_ids, addresses=addresses)
    db.session.add(nl)
    db.session.flush()
    audit.record("notifications", f"Added the notification list “{nl.name}”",
                 audit.diff({}, _snapshot(nl, member_names([nl]))))
    return nl


def update_list(nl: NotificationList, *, name: str, events: list[str], roles: list[str], member_ids: list[int],
                addresses: list[str]) -> bool:
    """Change a list and audit what changed; False when nothing did."""
    before = _snapshot(nl, member_names([nl]))
    _apply(nl, name=name, events=events, roles=roles, member_ids=member_ids, addresses=addresses)
    changes = audit.diff(before, _snapshot(nl, member_names([nl])))
    audit.record("notifications", f"Changed the notification list “{nl.name}”", changes)
    return bool(changes)


def delete_list(nl: NotificationList) -> None:
    audit.record("notifications", f"Deleted the notification list “{nl.name}”",
                 audit.diff(_snapshot(nl, member_names([nl])), {}))
    db.session.delete(nl)


def set_phi_safe_alerts(on: bool) -> bool:
    """Turn PHI-safe alerts on or off and audit it; False when it already was."""
    settings = get_settings()
    if settings.phi_safe_alerts == on:
        return False
    audit.record("notifications", f"Turned PHI-safe alerts {'on' if on else 'off'}",
                 {"phi_safe_alerts": [settings.phi_safe_alerts, on]})
    settings.phi_safe_alerts = on
    return True


def set_alert_external_id(on: bool) -> bool:
    """Let PHI-safe alerts carry the contact's external id, or stop them, and audit it; False when it
    already was so."""
    settings = get_settings()
    if settings.alert_external_id == on:
        return False
    audit.record("notifications",
                 f"{'Allowed' if on else 'Stopped'} the contact's external id in PHI-safe alerts",
                 {"alert_external_id": [settings.alert_external_id, on]})
    settings.alert_external_id = on
    return True
