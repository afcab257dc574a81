"""contact imports: an uploaded CSV of contacts, stored with its mapping and progress, and its rejected rows

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 04:00:00

"""
import sqlalchemy as sa
from alembic import op

from app.tenancy import disable_row_level_security, enable_row_level_security

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'contact_import',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('size_bytes', sa.Integer(), nullable=False),
        sa.Column('delimiter', sa.String(length=1), nullable=False),
        sa.Column('headers', sa.JSON(), nullable=False),
        sa.Column('mapping', sa.JSON(), nullable=False),
        sa.Column('mode', sa.String(length=12), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('total_rows', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('created', sa.Integer(), nullable=False),
        sa.Column('updated', sa.Integer(), nullable=False),
        sa.Column('skipped', sa.Integer(), nullable=False),
        sa.Column('rejected', sa.Integer(), nullable=False),
        sa.Column('accounts_created', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_contact_import_tenant_id_tenant'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'],
                                name=op.f('fk_contact_import_created_by_id_user_account'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_import')),
    )
    op.create_index('ix_contact_import_tenant_created', 'contact_import', ['tenant_id', 'created_at'])
    op.create_index('ix_contact_import_status', 'contact_import', ['status', 'lease_until'])
    enable_row_level_security('contact_import')
    op.create_table(
        'contact_import_rejection',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('import_id', sa.Integer(), nullable=False),
        sa.Column('row_number', sa.Integer(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('values', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'],
                                name=op.f('fk_contact_import_rejection_tenant_id_tenant'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['import_id'], ['contact_import.id'],
                                name=op.f('fk_contact_import_rejection_import_id_contact_import'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_import_rejection')),
        sa.UniqueConstraint('import_id', 'row_number', name=op.f('uq_contact_import_rejection_import_id_row_number')),
    )
    op.create_index('ix_contact_import_rejection_tenant_import', 'contact_import_rejection',
                    ['tenant_id', 'import_id', 'row_number'])
    enable_row_level_security('contact_import_rejection')


def downgrade():
    disable_row_level_security('contact_import_rejection')
    op.drop_index('ix_contact_import_rejection_tenant_import', table_name='contact_import_rejection')
    op.drop_table('contact_import_rejection')
    disable_row_level_security('contact_import')
    op.drop_index('ix_contact_import_status', table_name='contact_import')
    op.drop_index('ix_contact_import_tenant_created', table_name='contact_import')
    op.drop_table('contact_import')
