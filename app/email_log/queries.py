"""The email log's list: newest first, a keyset page at a time, optionally of one state."""
from __future__ import annotations

from sqlalchemy import select

from app.mail import OutboxMessage
from app.views import KeysetPage, keyset_page



def message_page(state: str | None, after: str | None, per_page: int) -> KeysetPage:
    """``per_page`` messages after the cursor ``after``, newest first; of one state when ``state`` is given."""
    statement = select(OutboxMessage)
    if state:
        statement = statement.where(OutboxMessage.status == state)
    return keyset_page(statement, [OutboxMessage.created_at, OutboxMessage.id], after=after, limit=per_page,
                       descending=True)
