"""reports: daily rollups of responses by account (and by month) and by recipient role for the breakdowns; indexes for the follow-up report

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 06:40:00

"""
from alembic import op
import sqlalchemy as sa

from app.tenancy import disable_row_level_security, enable_row_level_security

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

TABLES = (('response_account_daily', 'day', 'account_id'), ('response_account_monthly', 'month', 'account_id'),
          ('response_role_daily', 'day', 'role_id'))


def upgrade():
    op.create_index('ix_contact_updated', 'contact', ['updated_at'])
    op.drop_index('ix_ticket_tenant_first_contact', table_name='ticket')
    op.create_index('ix_ticket_tenant_first_contact', 'ticket', ['tenant_id', 'first_contact_at'],
                    postgresql_include=['first_contact_minutes', 'assignee_id'])
    op.create_index('ix_survey_invitation_tenant_followup', 'survey_invitation', ['tenant_id', 'followup_ticket_id'],
                    postgresql_where=sa.text('followup_ticket_id IS NOT NULL'),
                    sqlite_where=sa.text('followup_ticket_id IS NOT NULL'))
    for table, when, key in TABLES:
        op.create_table(
            table,
            sa.Column('tenant_id', sa.Integer(), nullable=False),
            sa.Column(when, sa.Date(), nullable=False),
            sa.Column(key, sa.Integer(), nullable=False),
            sa.Column('promoters', sa.Integer(), nullable=False),
            sa.Column('passives', sa.Integer(), nullable=False),
            sa.Column('detractors', sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ondelete='CASCADE'),
            sa.PrimaryKeyConstraint('tenant_id', when, key),
        )
        enable_row_level_security(table)
    # Past days are filled by the next sweep: start it from the beginning.
    op.execute("UPDATE report_rollup_state SET watermark = NULL")


def downgrade():
    for table, _, _ in reversed(TABLES):
        disable_row_level_security(table)
        op.drop_table(table)
    op.drop_index('ix_survey_invitation_tenant_followup', table_name='survey_invitation')
    op.drop_index('ix_ticket_tenant_first_contact', table_name='ticket')
    op.create_index('ix_ticket_tenant_first_contact', 'ticket', ['tenant_id', 'first_contact_at'])
    op.drop_index('ix_contact_updated', table_name='contact')
