"""outbox messages carry copy recipients: a personal email from a ticket copies others at the account

``outbox_message.cc`` holds the addresses a message is copied to (comma-separated; its Cc header and extra
envelope recipients), or NULL for a message to one person.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-02 04:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cc', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_column('cc')
