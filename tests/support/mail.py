"""The outbox as a test reads it: an organisation's messages, and the link out of an email."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.mail import OutboxMessage
from app.tenancy import tenant_context


def outbox(app, tenant_id: int, kind: str | None = None) -> list[OutboxMessage]:
    """The organisation's outbox, oldest first, as detached rows; only ``kind`` when given."""
    with app.app_context(), tenant_context(tenant_id):
        statement = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind:
            statement = statement.where(OutboxMessage.kind == kind)
        rows = db.session.execute(statement).scalars().all()
        db.session.expunge_all()
    return rows


def link_path(message: OutboxMessage) -> str:
    """The path of the one link to this site in an email's text (BASE_URL is http://localhost in the tests)."""
    return re.search(r"http://localhost(/\S+)", message.text_body).group(1)
