"""feedback inbox: reviewed responses and themes; recovery re-surveys; the weekly digest

Responses can be marked reviewed and tagged with themes; a closed ticket may owe its contact a re-survey
(one row per ticket), whose invitation names the ticket; the weekly digest is recorded once per ISO week.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 04:43:36.483334

"""
import sqlalchemy as sa
from alembic import op

from app.tenancy import disable_row_level_security, enable_row_level_security


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

NEW_TABLES = ('theme', 'response_theme', 'recovery_survey', 'digest_sent')


def upgrade():
    op.create_table('digest_sent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('week', sa.String(length=10), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_digest_sent_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_digest_sent')),
    sa.UniqueConstraint('tenant_id', 'week', name=op.f('uq_digest_sent_tenant_id_week'))
    )
    op.create_table('theme',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=80), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_theme_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_theme')),
    sa.UniqueConstraint('tenant_id', 'label', name=op.f('uq_theme_tenant_id_label'))
    )
    op.create_table('response_theme',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('theme_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['response_id'], ['response.id'], name=op.f('fk_response_theme_response_id_response'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_response_theme_tenant_id_tenant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['theme_id'], ['theme.id'], name=op.f('fk_response_theme_theme_id_theme'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('response_id', 'theme_id', name=op.f('pk_response_theme'))
    )
    with op.batch_alter_table('response_theme', schema=None) as batch_op:
        batch_op.create_index('ix_response_theme_tenant_theme_response', ['tenant_id', 'theme_id', 'response_id'], unique=False)

    op.create_table('recovery_survey',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('invitation_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['invitation_id'], ['survey_invitation.id'], name=op.f('fk_recovery_survey_invitation_id_survey_invitation'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_recovery_survey_tenant_id_tenant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_recovery_survey_ticket_id_ticket'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_survey')),
    sa.UniqueConstraint('tenant_id', 'ticket_id', name=op.f('uq_recovery_survey_tenant_id_ticket_id'))
    )
    with op.batch_alter_table('recovery_survey', schema=None) as batch_op:
        batch_op.create_index('ix_recovery_survey_owed', ['due_at'], unique=False, postgresql_where=sa.text('sent_at IS NULL AND cancelled_at IS NULL'), sqlite_where=sa.text('sent_at IS NULL AND cancelled_at IS NULL'))

    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reviewed_by_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_response_tenant_created_id', ['tenant_id', 'created_at', 'id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_response_reviewed_by_id_user_account'), 'user_account', ['reviewed_by_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('survey_invitation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('followup_ticket_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_survey_invitation_followup_ticket_id_ticket'), 'ticket', ['followup_ticket_id'], ['id'], ondelete='SET NULL', use_alter=True)

    with op.batch_alter_table('workflow_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resurvey_enabled', sa.Boolean(), server_default=sa.text('false'), nullable=False))
        batch_op.add_column(sa.Column('resurvey_delay_days', sa.Integer(), server_default='30', nullable=False))

    for table in NEW_TABLES:
        enable_row_level_security(table)


def downgrade():
    for table in NEW_TABLES:
        disable_row_level_security(table)
    with op.batch_alter_table('workflow_settings', schema=None) as batch_op:
        batch_op.drop_column('resurvey_delay_days')
        batch_op.drop_column('resurvey_enabled')

    with op.batch_alter_table('survey_invitation', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_survey_invitation_followup_ticket_id_ticket'), type_='foreignkey')
        batch_op.drop_column('followup_ticket_id')

    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_response_reviewed_by_id_user_account'), type_='foreignkey')
        batch_op.drop_index('ix_response_tenant_created_id')
        batch_op.drop_column('reviewed_by_id')
        batch_op.drop_column('reviewed_at')

    with op.batch_alter_table('recovery_survey', schema=None) as batch_op:
        batch_op.drop_index('ix_recovery_survey_owed', postgresql_where=sa.text('sent_at IS NULL AND cancelled_at IS NULL'), sqlite_where=sa.text('sent_at IS NULL AND cancelled_at IS NULL'))

    op.drop_table('recovery_survey')
    with op.batch_alter_table('response_theme', schema=None) as batch_op:
        batch_op.drop_index('ix_response_theme_tenant_theme_response')

    op.drop_table('response_theme')
    op.drop_table('theme')
    op.drop_table('digest_sent')
