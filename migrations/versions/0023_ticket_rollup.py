"""reports: a daily rollup of closed tickets and a monthly histogram of their minutes to first contact for the
follow-up report; indexes for finding changed tickets and
closed tickets whose first-contact breach time is still ahead

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 07:50:00

"""
from alembic import op
import sqlalchemy as sa

from app.tenancy import disable_row_level_security, enable_row_level_security

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

COUNTS = ('opened', 'first_contact_breaches', 'resolution_breaches', 'closed', 'resolved_within', 'resolved',
          'not_resolved', 'no_response', 'contacted', 'contacted_within')
UNCONTACTED_CLOSED = "status = 'closed' AND first_contact_at IS NULL"


def upgrade():
    op.create_index('ix_ticket_updated', 'ticket', ['updated_at'])
    op.create_index('ix_ticket_closed_uncontacted_breach', 'ticket', ['tenant_id', 'first_contact_breach_at'],
                    postgresql_include=['opened_at'], postgresql_where=sa.text(UNCONTACTED_CLOSED),
                    sqlite_where=sa.text(UNCONTACTED_CLOSED))
    op.create_table(
        'ticket_daily',
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('assignee_id', sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('tenant_id', 'day', 'assignee_id'),
    )
    enable_row_level_security('ticket_daily')
    op.create_table(
        'ticket_minutes_monthly',
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('assignee_id', sa.Integer(), nullable=False),
        sa.Column('minutes', sa.Integer(), nullable=False),
        sa.Column('tickets', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('tenant_id', 'month', 'assignee_id', 'minutes'),
    )
    enable_row_level_security('ticket_minutes_monthly')
    # Past days are filled by the next sweep: start it from the beginning.
    op.execute("UPDATE report_rollup_state SET watermark = NULL")


def downgrade():
    disable_row_level_security('ticket_minutes_monthly')
    op.drop_table('ticket_minutes_monthly')
    disable_row_level_security('ticket_daily')
    op.drop_table('ticket_daily')
    op.drop_index('ix_ticket_closed_uncontacted_breach', table_name='ticket')
    op.drop_index('ix_ticket_updated', table_name='ticket')
