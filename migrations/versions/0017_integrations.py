"""integrations: connected survey tools, their delivery log, and responses recorded once per source

``integration`` holds each connected source (kind, receiving-URL token, encrypted signing secret and
credentials, a poller's cursor); ``integration_delivery`` is its delivery log, unique per (integration,
vendor event id). ``response.external_id`` with the unique constraint (tenant, source, external id) makes an
answer collected elsewhere land once however often it is delivered.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 04:30:00

"""
import sqlalchemy as sa
from alembic import op

from app.tenancy import disable_row_level_security, enable_row_level_security

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'integration',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('token', sa.String(length=64), nullable=False),
        sa.Column('signing_secret', sa.Text(), nullable=False),
        sa.Column('credentials', sa.Text(), nullable=True),
        sa.Column('settings', sa.JSON(), nullable=False),
        sa.Column('cursor', sa.JSON(), nullable=True),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_polled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('poll_lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_integration_tenant_id_tenant'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_integration')),
        sa.UniqueConstraint('token', name=op.f('uq_integration_token')),
    )
    op.create_index('ix_integration_tenant_created', 'integration', ['tenant_id', 'created_at'])
    op.create_index('ix_integration_kind_polled', 'integration', ['kind', 'last_polled_at'])
    enable_row_level_security('integration')
    op.create_table(
        'integration_delivery',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('integration_id', sa.Integer(), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('event_id', sa.String(length=200), nullable=True),
        sa.Column('dedupe_key', sa.String(length=200), nullable=True),
        sa.Column('outcome', sa.String(length=20), nullable=False),
        sa.Column('detail', sa.String(length=300), nullable=True),
        sa.Column('payload', sa.Text(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('response_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_integration_delivery_tenant_id_tenant'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['integration_id'], ['integration.id'],
                                name=op.f('fk_integration_delivery_integration_id_integration'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['response_id'], ['response.id'],
                                name=op.f('fk_integration_delivery_response_id_response'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_integration_delivery')),
        sa.UniqueConstraint('integration_id', 'dedupe_key', name=op.f('uq_integration_delivery_integration_id_dedupe_key')),
    )
    op.create_index('ix_integration_delivery_tenant_integration', 'integration_delivery',
                    ['tenant_id', 'integration_id', 'received_at', 'id'])
    op.create_index('ix_integration_delivery_outcome_due', 'integration_delivery', ['outcome', 'next_attempt_at'])
    op.create_index('ix_integration_delivery_received', 'integration_delivery', ['received_at'])
    enable_row_level_security('integration_delivery')
    with op.batch_alter_table('response') as batch:
        batch.add_column(sa.Column('external_id', sa.String(length=200), nullable=True))
        batch.create_unique_constraint(op.f('uq_response_tenant_id_source_external_id'),
                                       ['tenant_id', 'source', 'external_id'])


def downgrade():
    with op.batch_alter_table('response') as batch:
        batch.drop_constraint(op.f('uq_response_tenant_id_source_external_id'), type_='unique')
        batch.drop_column('external_id')
    disable_row_level_security('integration_delivery')
    op.drop_index('ix_integration_delivery_received', table_name='integration_delivery')
    op.drop_index('ix_integration_delivery_outcome_due', table_name='integration_delivery')
    op.drop_index('ix_integration_delivery_tenant_integration', table_name='integration_delivery')
    op.drop_table('integration_delivery')
    disable_row_level_security('integration')
    op.drop_index('ix_integration_kind_polled', table_name='integration')
    op.drop_index('ix_integration_tenant_created', table_name='integration')
    op.drop_table('integration')
