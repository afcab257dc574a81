"""tickets keep their business-time minutes to first contact; indexes for the reports

Revision ID: 0019
Revises: 0016
Create Date: 2026-12-02 04:40:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0019'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ticket') as batch_op:
        batch_op.add_column(sa.Column('first_contact_minutes', sa.Integer(), nullable=True))
    op.create_index('ix_ticket_tenant_opened', 'ticket', ['tenant_id', 'opened_at'])
    op.create_index('ix_ticket_tenant_first_contact', 'ticket', ['tenant_id', 'first_contact_at'])
    op.create_index('ix_ticket_tenant_closed', 'ticket', ['tenant_id', 'closed_at'])


def downgrade():
    op.drop_index('ix_ticket_tenant_closed', table_name='ticket')
    op.drop_index('ix_ticket_tenant_first_contact', table_name='ticket')
    op.drop_index('ix_ticket_tenant_opened', table_name='ticket')
    with op.batch_alter_table('ticket') as batch_op:
        batch_op.drop_column('first_contact_minutes')
