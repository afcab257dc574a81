"""survey sends: a send to many contacts is a row worked through by a job, in batches

``survey_send`` records who sent which survey to whom (a recipient role or a list of contacts), its state and
progress; each invitation names its send, unique per (send, contact), so a resumed job never invites anyone
twice.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 01:00:00

"""
import sqlalchemy as sa
from alembic import op

from app.tenancy import disable_row_level_security, enable_row_level_security

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'survey_send',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.Integer(), nullable=False),
        sa.Column('survey_id', sa.Integer(), nullable=False),
        sa.Column('sent_by_id', sa.Integer(), nullable=True),
        sa.Column('role_id', sa.Integer(), nullable=True),
        sa.Column('contact_ids', sa.JSON(), nullable=True),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('queued', sa.Integer(), nullable=False),
        sa.Column('skipped_throttled', sa.Integer(), nullable=False),
        sa.Column('throttle_days', sa.Integer(), nullable=False),
        sa.Column('last_contact_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_survey_send_tenant_id_tenant'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['survey_id'], ['survey.id'], name=op.f('fk_survey_send_survey_id_survey'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['sent_by_id'], ['user_account.id'],
                                name=op.f('fk_survey_send_sent_by_id_user_account'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['role_id'], ['recipient_role.id'],
                                name=op.f('fk_survey_send_role_id_recipient_role'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_send')),
    )
    op.create_index('ix_survey_send_tenant_created', 'survey_send', ['tenant_id', 'created_at'])
    op.create_index('ix_survey_send_status', 'survey_send', ['status', 'lease_until'])
    enable_row_level_security('survey_send')
    with op.batch_alter_table('survey_invitation') as batch:
        batch.add_column(sa.Column('send_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f('fk_survey_invitation_send_id_survey_send'), 'survey_send', ['send_id'], ['id'],
                                 ondelete='SET NULL')
        batch.create_unique_constraint(op.f('uq_survey_invitation_send_id_contact_id'), ['send_id', 'contact_id'])


def downgrade():
    with op.batch_alter_table('survey_invitation') as batch:
        batch.drop_constraint(op.f('uq_survey_invitation_send_id_contact_id'), type_='unique')
        batch.drop_constraint(op.f('fk_survey_invitation_send_id_survey_send'), type_='foreignkey')
        batch.drop_column('send_id')
    disable_row_level_security('survey_send')
    op.drop_index('ix_survey_send_status', table_name='survey_send')
    op.drop_index('ix_survey_send_tenant_created', table_name='survey_send')
    op.drop_table('survey_send')
