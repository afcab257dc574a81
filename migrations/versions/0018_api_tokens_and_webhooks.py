"""API tokens, idempotent requests and outgoing webhooks; audit entries name the token a change came through;
organisations say whether any webhook endpoint listens

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 04:00:00

"""
import sqlalchemy as sa
from alembic import op

from app.tenancy import disable_row_level_security, enable_row_level_security

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

TABLES = ['api_token', 'api_idempotent_request', 'webhook_endpoint', 'webhook_delivery']


def _tenant(table: str) -> list:
    return [
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f(f'fk_{table}_tenant_id_tenant'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{table}')),
    ]


def upgrade():
    op.create_table(
        'api_token', *_tenant('api_token'),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('scope', sa.String(length=12), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('prefix', sa.String(length=16), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'],
                                name=op.f('fk_api_token_created_by_id_user_account'), ondelete='SET NULL'),
        sa.UniqueConstraint('token_hash', name=op.f('uq_api_token_token_hash')),
    )
    op.create_index('ix_api_token_tenant_created', 'api_token', ['tenant_id', 'created_at'])

    op.create_table(
        'api_idempotent_request', *_tenant('api_idempotent_request'),
        sa.Column('token_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['token_id'], ['api_token.id'],
                                name=op.f('fk_api_idempotent_request_token_id_api_token'), ondelete='CASCADE'),
        sa.UniqueConstraint('tenant_id', 'token_id', 'key', name=op.f('uq_api_idempotent_request_tenant_id_token_id_key')),
    )
    op.create_index('ix_api_idempotent_request_tenant_created', 'api_idempotent_request', ['tenant_id', 'created_at'])

    op.create_table(
        'webhook_endpoint', *_tenant('webhook_endpoint'),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('description', sa.String(length=200), nullable=True),
        sa.Column('events', sa.JSON(), nullable=False),
        sa.Column('secret_salt', sa.String(length=64), nullable=False),
        sa.Column('created_by_token_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['created_by_token_id'], ['api_token.id'],
                                name=op.f('fk_webhook_endpoint_created_by_token_id_api_token'), ondelete='SET NULL'),
    )
    op.create_index('ix_webhook_endpoint_tenant_created', 'webhook_endpoint', ['tenant_id', 'created_at'])

    op.create_table(
        'webhook_delivery', *_tenant('webhook_delivery'),
        sa.Column('endpoint_id', sa.Integer(), nullable=False),
        sa.Column('event_type', sa.String(length=40), nullable=False),
        sa.Column('message_id', sa.String(length=40), nullable=False),
        sa.Column('payload', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_status_code', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.String(length=300), nullable=True),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoint.id'],
                                name=op.f('fk_webhook_delivery_endpoint_id_webhook_endpoint'), ondelete='CASCADE'),
        sa.UniqueConstraint('message_id', name=op.f('uq_webhook_delivery_message_id')),
    )
    op.create_index('ix_webhook_delivery_tenant_endpoint', 'webhook_delivery',
                    ['tenant_id', 'endpoint_id', 'created_at', 'id'])
    op.create_index('ix_webhook_delivery_status', 'webhook_delivery', ['status', 'next_attempt_at'])

    for table in TABLES:
        enable_row_level_security(table)

    with op.batch_alter_table('tenant') as batch:
        batch.add_column(sa.Column('has_webhook_endpoints', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('audit_entry') as batch:
        batch.add_column(sa.Column('api_token_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f('fk_audit_entry_api_token_id_api_token'), 'api_token', ['api_token_id'], ['id'],
                                 ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('audit_entry') as batch:
        batch.drop_constraint(op.f('fk_audit_entry_api_token_id_api_token'), type_='foreignkey')
        batch.drop_column('api_token_id')
    with op.batch_alter_table('tenant') as batch:
        batch.drop_column('has_webhook_endpoints')
    for table in reversed(TABLES):
        disable_row_level_security(table)
        op.drop_table(table)
