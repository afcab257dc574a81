"""search views and a tenant policy the planner can price

The tenant policy of every table becomes a CASE (app.tenancy.TENANT_POLICY): PostgreSQL priced the former
"tenant_id = <setting> OR <all tenants>" at one organisation's share of the rows on top of the query's own
tenant condition, and chose plans that sort a whole organisation's rows to show one page.

Searches by part of a word go through a view per searchable table (app.search): ILIKE is not leakproof, so
under a policy the trigram indexes could not answer it. Comments and timeline entries get trigram indexes.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 04:20:00

"""
import sqlalchemy as sa
from alembic import op

from app.search import SEARCHABLE, create_search_view, drop_search_view
from app.tenancy import TENANT_POLICY, TENANT_POLICY_BEFORE_0016, replace_row_level_security_policy

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

TRIGRAM = [('ix_response_comment_trgm', 'response', 'comment'), ('ix_activity_body_trgm', 'activity', 'body')]


def _policy_tables() -> list[str]:
    return list(op.get_bind().execute(sa.text(
        "SELECT tablename FROM pg_policies WHERE policyname = 'tenant_isolation' AND schemaname = current_schema() "
        "ORDER BY tablename")).scalars())


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table in _policy_tables():
        replace_row_level_security_policy(table, TENANT_POLICY)
    for name, table, column in TRIGRAM:
        op.execute(f'CREATE INDEX {name} ON {table} USING gin (tenant_id, {column} gin_trgm_ops)')
    for table in SEARCHABLE:
        create_search_view(table)


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table in SEARCHABLE:
        drop_search_view(table)
    for name, table, _ in TRIGRAM:
        op.drop_index(name, table_name=table)
    for table in _policy_tables():
        replace_row_level_security_policy(table, TENANT_POLICY_BEFORE_0016)
