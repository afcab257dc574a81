"""indexes for large organisations: board columns, keyset pages and trigram contact search

Every list reads one page through an index that leads with tenant_id and holds the page's sort keys
(ending with id, the keyset tiebreaker). On PostgreSQL, contact search by part of a name or email uses
trigram indexes (pg_trgm, with btree_gin so that tenant_id leads them too); SQLite keeps its LIKE scan.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:59:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# (name, table, columns) replaced by this revision, and what replaces them.
REPLACED = [
    ('ix_ticket_tenant_status_opened', 'ticket', ['tenant_id', 'status', 'opened_at']),
    ('ix_ticket_tenant_assignee_status', 'ticket', ['tenant_id', 'assignee_id', 'status']),
    ('ix_ticket_root_cause_tenant_cause', 'ticket_root_cause', ['tenant_id', 'root_cause_id']),
    ('ix_contact_tenant_name', 'contact', ['tenant_id', 'name']),
    ('ix_task_tenant_owner_open', 'task', ['tenant_id', 'owner_id', 'done_at', 'due_at']),
]
ADDED = [
    ('ix_ticket_board_opened', 'ticket', ['tenant_id', 'status', 'opened_at', 'id']),
    ('ix_ticket_board_closed', 'ticket', ['tenant_id', 'status', 'closed_at', 'id']),
    ('ix_ticket_board_mine_opened', 'ticket', ['tenant_id', 'assignee_id', 'status', 'opened_at', 'id']),
    ('ix_ticket_board_mine_closed', 'ticket', ['tenant_id', 'assignee_id', 'status', 'closed_at', 'id']),
    ('ix_ticket_root_cause_tenant_cause_ticket', 'ticket_root_cause', ['tenant_id', 'root_cause_id', 'ticket_id']),
    ('ix_contact_tenant_name_id', 'contact', ['tenant_id', 'name', 'id']),
    ('ix_outbox_tenant_status_created', 'outbox_message', ['tenant_id', 'status', 'created_at', 'id']),
]
# The board's "SLA due soonest" order: the due time a working ticket races (app.tickets.board.current_due).
CURRENT_DUE = ("coalesce(CASE WHEN first_contact_at IS NULL THEN first_contact_due_at ELSE resolution_due_at END, "
               "CAST('9999-12-31 00:00:00+00' AS TIMESTAMP WITH TIME ZONE))")
TRIGRAM = [
    ('ix_contact_name_trgm', 'contact', 'name'),
    ('ix_contact_email_trgm', 'contact', 'email'),
]


def upgrade():
    for name, table, columns in ADDED:
        op.create_index(name, table, columns)
    # My tasks: a member's open tasks in due order (a partial index, since "done_at IS NULL" is not an
    # equality the planner can order past).
    op.create_index('ix_task_tenant_owner_open_due', 'task', ['tenant_id', 'owner_id', 'due_at', 'id'],
                    postgresql_where=sa.text('done_at IS NULL'), sqlite_where=sa.text('done_at IS NULL'))
    for name, table, _ in REPLACED:
        op.drop_index(name, table_name=table)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.execute('CREATE EXTENSION IF NOT EXISTS btree_gin')
        for name, table, column in TRIGRAM:
            op.execute(f'CREATE INDEX {name} ON {table} USING gin (tenant_id, {column} gin_trgm_ops)')
        op.execute(f'CREATE INDEX ix_ticket_board_due ON ticket (tenant_id, status, ({CURRENT_DUE}), opened_at, id)')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_ticket_board_due', table_name='ticket')
        for name, table, _ in TRIGRAM:
            op.drop_index(name, table_name=table)
    for name, table, columns in REPLACED:
        op.create_index(name, table, columns)
    op.drop_index('ix_task_tenant_owner_open_due', table_name='task')
    for name, table, _ in ADDED:
        op.drop_index(name, table_name=table)
