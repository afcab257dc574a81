"""indexes for the ticket list: its sort orders, with and without the common filters

The list (app.tickets.listing) reads a keyset page in one of five orders (opened, SLA due, score, status, last
update). Each order has an index that leads with tenant_id and holds the sort keys, so a page deep in the list
costs what the first one does; a search finds a contact's tickets by index; "Open" tickets (and the SLA states, which only open tickets have) read partial
indexes of the open tickets alone. Score is the response's: its order is read from the response.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 04:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

OPEN = "status <> 'closed'"
ADDED = [
    ('ix_ticket_tenant_opened', 'ticket', ['tenant_id', 'opened_at', 'id'], None),
    ('ix_ticket_tenant_updated', 'ticket', ['tenant_id', 'updated_at', 'id'], None),
    ('ix_ticket_tenant_status_updated', 'ticket', ['tenant_id', 'status', 'updated_at', 'id'], None),
    ('ix_ticket_tenant_assignee_opened', 'ticket', ['tenant_id', 'assignee_id', 'opened_at', 'id'], None),
    ('ix_ticket_open_opened', 'ticket', ['tenant_id', 'opened_at', 'id'], OPEN),
    ('ix_ticket_tenant_contact', 'ticket', ['tenant_id', 'contact_id'], None),
    ('ix_response_tenant_score', 'response', ['tenant_id', 'score', 'id'], None),
]
# The list's "SLA due" key (app.tickets.listing.due_key): the board's due time written with CASE alone, so that
# under row-level security a cursor's bound can start the index scan (PostgreSQL does not count COALESCE as
# leaking nothing).
NO_DUE = "CAST('9999-12-31 00:00:00+00' AS TIMESTAMP WITH TIME ZONE)"
DUE_KEY = (f"CASE WHEN first_contact_at IS NULL THEN CASE WHEN first_contact_due_at IS NULL THEN {NO_DUE} "
           f"ELSE first_contact_due_at END ELSE CASE WHEN resolution_due_at IS NULL THEN {NO_DUE} "
           f"ELSE resolution_due_at END END")


def upgrade():
    for name, table, columns, where in ADDED:
        condition = sa.text(where) if where else None
        op.create_index(name, table, columns, postgresql_where=condition, sqlite_where=condition)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'CREATE INDEX ix_ticket_list_due ON ticket (tenant_id, ({DUE_KEY}), opened_at, id)')
        op.execute(f'CREATE INDEX ix_ticket_open_due ON ticket (tenant_id, ({DUE_KEY}), opened_at, id) '
                   f'WHERE {OPEN}')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_ticket_open_due', table_name='ticket')
        op.drop_index('ix_ticket_list_due', table_name='ticket')
    for name, table, _, _ in reversed(ADDED):
        op.drop_index(name, table_name=table)
