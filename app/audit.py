"""The audit log: every change records who (and which API token, for a change made through the API), when,
and each field's before → after."""
from __future__ import annotations

from typing import Any, Mapping

from flask import g, has_request_context
from flask_login import current_user

from app.extensions import db
from app.settings.models import AuditEntry


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list]:
    """Fields whose value changed, as ``{field: [before, after]}``."""
    return {
        key: [_plain(before.get(key)), _plain(after.get(key))]
        for key in sorted(set(before) | set(after))
        if _plain(before.get(key)) != _plain(after.get(key))
    }


def snapshot(obj: Any, fields: list[str]) -> dict[str, Any]:
    return {name: _plain(getattr(obj, name)) for name in fields}


def record(area: str, summary: str, changes: Mapping[str, list] | None = None) -> AuditEntry | None:
    """Add an audit entry to the current transaction; a change that changed nothing records nothing."""
    if changes is not None and not changes:
        return None
    actor_id = current_user.id if getattr(current_user, "is_authenticated", False) else None
    # A change made through the API names its token, and the admin who created the token as the actor.
    token = g.get("api_token") if has_request_context() else None
    if token is not None:
        actor_id = token.created_by_id
    entry = AuditEntry(actor_id=actor_id, area=area, summary=summary, changes=dict(changes or {}),
                       api_token_id=token.id if token is not None else None)
    db.session.add(entry)
    return entry
