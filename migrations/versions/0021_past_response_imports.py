"""past-response imports: an import says what its file holds (contacts or past responses), how recent a
detractor must be to get a ticket, and how many tickets it opened

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 06:45:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('contact_import', sa.Column('kind', sa.String(length=12), server_default='contacts',
                                              nullable=False))
    op.add_column('contact_import', sa.Column('ticket_days', sa.Integer(), nullable=True))
    op.add_column('contact_import', sa.Column('tickets_opened', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    op.drop_column('contact_import', 'tickets_opened')
    op.drop_column('contact_import', 'ticket_days')
    op.drop_column('contact_import', 'kind')
