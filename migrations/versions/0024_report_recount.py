"""reports: moments whose days the sweep counts again because the rows counted there were deleted

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 10:30:00

"""
from alembic import op
import sqlalchemy as sa

from app.tenancy import disable_row_level_security, enable_row_level_security

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'report_recount',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('noted_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_report_recount_noted', 'report_recount', ['noted_at'])
    enable_row_level_security('report_recount')


def downgrade():
    disable_row_level_security('report_recount')
    op.drop_index('ix_report_recount_noted', table_name='report_recount')
    op.drop_table('report_recount')
