"""Outbox rows for notifications: one per recipient, each under a dedupe key, written in one statement.

The dedupe key is the one rule for every event: ``<occurrence key>:<address>`` (the address in lower case),
where the occurrence key names what happened (``ticket:12:first_contact_breached``, ``task:7:reminder``,
``ticket:12:reassigned:<timeline entry>``). ``(tenant_id, dedupe_key)`` is unique, so a person is told about
one occurrence once, whichever path, sweep or retry wrote it.
"""
from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.mail import OutboxMessage
from app.tenancy import all_tenants

OUTBOX_COLUMNS = ("tenant_id", "kind", "to_address", "to_name", "from_name", "from_address", "reply_to",
                  "subject", "text_body", "html_body", "status", "attempts", "ticket_id", "dedupe_key", "created_at",
                  "enqueued_at")
DEDUPE_KEY_LENGTH = OutboxMessage.__table__.c.dedupe_key.type.length
SUBJECT_LENGTH = OutboxMessage.__table__.c.subject.type.length


def dedupe_key(occurrence_key: str, address: str) -> str:
    """``<occurrence key>:<address>``; a digest stands in for an address too long for the column."""
    address = address.strip().lower()
    key = f"{occurrence_key}:{address}"
    if len(key) > DEDUPE_KEY_LENGTH:
        key = f"{occurrence_key}:{hashlib.sha256(address.encode()).hexdigest()}"
    return key


def row(*, tenant_id: int, kind: str, occurrence_key: str, address: str, name: str | None, sender: tuple[str, str],
        reply_to: str | None, subject: str, text_body: str, html_body: str, ticket_id: int | None,
        now: datetime) -> dict:
    """One outbox row (a dict of :data:`OUTBOX_COLUMNS`), queued now."""
    from_name, from_address = sender
    return {
        "tenant_id": tenant_id, "kind": kind, "to_address": address, "to_name": name, "from_name": from_name,
        "from_address": from_address, "reply_to": reply_to, "subject": subject[:SUBJECT_LENGTH],
        "text_body": text_body, "html_body": html_body, "status": "queued", "attempts": 0, "ticket_id": ticket_id,
        "dedupe_key": dedupe_key(occurrence_key, address), "created_at": now, "enqueued_at": now,
    }


@all_tenants()
def insert_outbox(rows: list[dict], *, stream: bool = False) -> dict[int, str]:
    """Add outbox rows, skipping any ``(tenant_id, dedupe_key)`` already owed; returns the rows added, as
    ``{id: kind}`` (the kind says which mail queue a message goes to).

    A service's few rows (one event's recipients) go in as one multi-row ``INSERT ... ON CONFLICT DO NOTHING``.
    A sweep's batch (``stream``) on PostgreSQL is streamed with COPY into a temporary table and moved with one
    ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``: a multi-row INSERT with sixteen parameters a row costs
    more to build and parse than to run, and thousands of rows would pass the driver's parameter limit. Either
    way the number of statements does not grow with the number of rows.
    """
    if not rows:
        return {}
    connection = db.session.connection()
    table = OutboxMessage.__table__
    postgres = connection.dialect.name == "postgresql"
    if not (stream and postgres):
        statement = ((postgresql.insert if postgres else sqlite.insert)(table)
                     .on_conflict_do_nothing(index_elements=["tenant_id", "dedupe_key"])
                     .returning(table.c.id, table.c.kind))
        if stream:  # SQLite: the driver sends the rows in as few statements as its parameter limit allows
            return dict(db.session.execute(statement, rows).all())
        return dict(db.session.execute(statement.values(rows)).all())
    columns = ", ".join(OUTBOX_COLUMNS)
    db.session.execute(text(f"CREATE TEMP TABLE IF NOT EXISTS notice_outbox ON COMMIT DELETE ROWS "
                            f"AS SELECT {columns} FROM outbox_message WITH NO DATA"))
    db.session.execute(text("DELETE FROM notice_outbox"))
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(f"COPY notice_outbox ({columns}) FROM STDIN") as copy:
        for values in rows:
            copy.write_row([values[column] for column in OUTBOX_COLUMNS])
    return dict(db.session.execute(text(
        f"INSERT INTO outbox_message ({columns}) SELECT {columns} FROM notice_outbox "
        f"ON CONFLICT (tenant_id, dedupe_key) DO NOTHING RETURNING id, kind"
    )).all())
