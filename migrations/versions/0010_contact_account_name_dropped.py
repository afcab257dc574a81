"""contacts keep their account only as a link: the free-text account name is dropped

Migration 0009 turned every account name into an account. A contact given a name after that (by code that still
wrote the column) is linked here the same way before the column goes. The downgrade brings the column back with
each contact's account name.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 04:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.execute(sa.text(
        "INSERT INTO customer_account (tenant_id, name, status, created_at, updated_at) "
        "SELECT c.tenant_id, TRIM(c.account_name), 'active', MIN(c.created_at), MIN(c.created_at) FROM contact c "
        "WHERE c.account_id IS NULL AND c.account_name IS NOT NULL AND TRIM(c.account_name) <> '' "
        "AND NOT EXISTS (SELECT 1 FROM customer_account a WHERE a.tenant_id = c.tenant_id "
        "AND a.name = TRIM(c.account_name)) GROUP BY c.tenant_id, TRIM(c.account_name)"))
    op.execute(sa.text(
        "UPDATE contact SET account_id = (SELECT a.id FROM customer_account a WHERE a.tenant_id = contact.tenant_id "
        "AND a.name = TRIM(contact.account_name)) "
        "WHERE account_id IS NULL AND account_name IS NOT NULL AND TRIM(account_name) <> ''"))
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_column('account_name')


def downgrade():
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('account_name', sa.String(length=160), nullable=True))
    op.execute(sa.text(
        "UPDATE contact SET account_name = (SELECT a.name FROM customer_account a WHERE a.id = contact.account_id) "
        "WHERE account_id IS NOT NULL"))
