"""email verification and password reset

Adds ``user_account.email_verified_at`` and the ``account_token`` table of one-time links.
Users who joined by accepting an emailed team invitation already proved their address, so they start verified;
the organisations' first admins confirm theirs with an emailed link.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_verified_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table('account_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_account_token_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_account_token_token_hash'))
    )
    with op.batch_alter_table('account_token', schema=None) as batch_op:
        batch_op.create_index('ix_account_token_user_purpose', ['user_id', 'purpose'], unique=False)

    op.execute(
        "UPDATE user_account SET email_verified_at = ("
        " SELECT min(team_invitation.accepted_at) FROM team_invitation"
        " WHERE team_invitation.email = user_account.email AND team_invitation.accepted_at IS NOT NULL)"
        " WHERE email_verified_at IS NULL AND EXISTS ("
        " SELECT 1 FROM team_invitation"
        " WHERE team_invitation.email = user_account.email AND team_invitation.accepted_at IS NOT NULL)"
    )


def downgrade():
    with op.batch_alter_table('account_token', schema=None) as batch_op:
        batch_op.drop_index('ix_account_token_user_purpose')
    op.drop_table('account_token')
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('email_verified_at')
