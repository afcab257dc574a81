"""reports: daily rollups of responses, invitations and closed tickets' root causes, tickets keep their business minutes to first contact

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 04:40:00

"""
from alembic import op
import sqlalchemy as sa

from app.tenancy import disable_row_level_security, enable_row_level_security

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ticket') as batch_op:
        batch_op.add_column(sa.Column('first_contact_minutes', sa.Integer(), nullable=True))
    op.create_index('ix_ticket_tenant_first_contact', 'ticket', ['tenant_id', 'first_contact_at'])
    op.create_index('ix_ticket_tenant_closed', 'ticket', ['tenant_id', 'closed_at'])
    op.create_index('ix_response_updated', 'response', ['updated_at'])
    op.create_index('ix_survey_invitation_created', 'survey_invitation', ['created_at'])
    op.create_table(
        'response_daily',
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('band', sa.String(length=12), nullable=False),
        sa.Column('responses', sa.Integer(), nullable=False),
        sa.Column('score_sum', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('tenant_id', 'day', 'source', 'band'),
    )
    op.create_table(
        'invitation_daily',
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('sent', sa.Integer(), nullable=False),
        sa.Column('answered', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('tenant_id', 'day'),
    )
    op.create_index('ix_ticket_closed', 'ticket', ['closed_at'])
    op.create_table(
        'cause_daily',
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('root_cause_id', sa.Integer(), nullable=False),
        sa.Column('tickets', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('tenant_id', 'day', 'root_cause_id'),
    )
    op.create_table(
        'report_rollup_state',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('watermark', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    enable_row_level_security('response_daily')
    enable_row_level_security('invitation_daily')
    enable_row_level_security('cause_daily')


def downgrade():
    disable_row_level_security('cause_daily')
    disable_row_level_security('invitation_daily')
    disable_row_level_security('response_daily')
    op.drop_table('report_rollup_state')
    op.drop_table('cause_daily')
    op.drop_index('ix_ticket_closed', table_name='ticket')
    op.drop_table('invitation_daily')
    op.drop_table('response_daily')
    op.drop_index('ix_survey_invitation_created', table_name='survey_invitation')
    op.drop_index('ix_response_updated', table_name='response')
    op.drop_index('ix_ticket_tenant_closed', table_name='ticket')
    op.drop_index('ix_ticket_tenant_first_contact', table_name='ticket')
    with op.batch_alter_table('ticket') as batch_op:
        batch_op.drop_column('first_contact_minutes')
