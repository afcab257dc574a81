"""accounts, teams and routing, member profiles and saved ticket-list views

Accounts (``customer_account``: a Company, Practice or Programme) replace the contact's free-text account name:
each distinct name an organisation used becomes an account, its contacts and their tickets point at it, and the
old column stays until the code no longer reads it. Every organisation starts with the default list of account
team functions. Teams, a member's capacity and absence, and the routing settings feed app.teams.routing.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 03:50:00

"""
from alembic import op
import sqlalchemy as sa

from app.tenancy import disable_row_level_security, enable_row_level_security

NEW_TABLES = ('account_function', 'customer_account', 'saved_view', 'team', 'account_team_member', 'team_member',
              'account_status_change')
DEFAULT_FUNCTIONS = ("Business analyst", "BPA", "Manager", "Director", "Account manager")

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('account_function',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_account_function_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_function')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_account_function_tenant_id_name'))
    )
    op.create_table('customer_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=160), nullable=False),
    sa.Column('external_id', sa.String(length=80), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.String(length=300), nullable=True),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['user_account.id'], name=op.f('fk_customer_account_owner_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_customer_account_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_account')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_customer_account_tenant_id_name'))
    )
    with op.batch_alter_table('customer_account', schema=None) as batch_op:
        batch_op.create_index('ix_customer_account_tenant_external', ['tenant_id', 'external_id'], unique=False)
        batch_op.create_index('ix_customer_account_tenant_name_id', ['tenant_id', 'name', 'id'], unique=False)
        batch_op.create_index('ix_customer_account_tenant_owner', ['tenant_id', 'owner_id'], unique=False)
        batch_op.create_index('ix_customer_account_tenant_status', ['tenant_id', 'status', 'name', 'id'], unique=False)

    op.create_table('saved_view',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('query', sa.String(length=2000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_saved_view_tenant_id_tenant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_saved_view_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_view')),
    sa.UniqueConstraint('tenant_id', 'user_id', 'name', name=op.f('uq_saved_view_tenant_id_user_id_name'))
    )
    op.create_table('team',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('manager_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['manager_id'], ['user_account.id'], name=op.f('fk_team_manager_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_team_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_team')),
    sa.UniqueConstraint('tenant_id', 'name', name=op.f('uq_team_tenant_id_name'))
    )
    op.create_table('account_team_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('function_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['customer_account.id'], name=op.f('fk_account_team_member_account_id_customer_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['function_id'], ['account_function.id'], name=op.f('fk_account_team_member_function_id_account_function'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_account_team_member_tenant_id_tenant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_account_team_member_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_team_member')),
    sa.UniqueConstraint('account_id', 'user_id', 'function_id', name=op.f('uq_account_team_member_account_id_user_id_function_id'))
    )
    with op.batch_alter_table('account_team_member', schema=None) as batch_op:
        batch_op.create_index('ix_account_team_member_tenant_account', ['tenant_id', 'account_id'], unique=False)
        batch_op.create_index('ix_account_team_member_tenant_user', ['tenant_id', 'user_id'], unique=False)

    op.create_table('team_member',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_team_member_team_id_team'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_team_member_tenant_id_tenant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_team_member_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('team_id', 'user_id', name=op.f('pk_team_member'))
    )
    with op.batch_alter_table('team_member', schema=None) as batch_op:
        batch_op.create_index('ix_team_member_tenant_user', ['tenant_id', 'user_id'], unique=False)

    op.create_table('account_status_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('changed_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['customer_account.id'], name=op.f('fk_account_status_change_account_id_customer_account'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['changed_by_id'], ['user_account.id'], name=op.f('fk_account_status_change_changed_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_account_status_change_tenant_id_tenant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_account_status_change_ticket_id_ticket'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_status_change'))
    )
    with op.batch_alter_table('account_status_change', schema=None) as batch_op:
        batch_op.create_index('ix_account_status_change_tenant_account', ['tenant_id', 'account_id', 'created_at'], unique=False)
        batch_op.create_index('ix_account_status_change_tenant_ticket', ['tenant_id', 'ticket_id'], unique=False)

    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('account_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_contact_tenant_account', ['tenant_id', 'account_id', 'name', 'id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_contact_account_id_customer_account'), 'customer_account', ['account_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.add_column(sa.Column('capacity', sa.Integer(), server_default='50', nullable=False))
        batch_op.add_column(sa.Column('away_until', sa.Date(), nullable=True))

    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('account_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_ticket_tenant_account_opened', ['tenant_id', 'account_id', 'opened_at', 'id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_ticket_account_id_customer_account'), 'customer_account', ['account_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('job_title', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('email_signature', sa.Text(), nullable=True))

    with op.batch_alter_table('workflow_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alert_external_id', sa.Boolean(), server_default=sa.text('false'), nullable=False))
        batch_op.add_column(sa.Column('route_to_account_owner', sa.Boolean(), server_default=sa.text('true'), nullable=False))
        batch_op.add_column(sa.Column('routing_team_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('backlog_threshold', sa.Integer(), server_default='100', nullable=False))
        batch_op.create_foreign_key(batch_op.f('fk_workflow_settings_routing_team_id_team'), 'team', ['routing_team_id'], ['id'], ondelete='SET NULL')

    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE INDEX ix_customer_account_name_trgm ON customer_account USING gin (tenant_id, name gin_trgm_ops)')
    for table in NEW_TABLES:
        enable_row_level_security(table)
    _accounts_from_account_names()


def _accounts_from_account_names():
    """Each distinct account name of an organisation becomes an account; contacts and tickets point at it."""
    op.execute(sa.text(
        "INSERT INTO customer_account (tenant_id, name, status, created_at, updated_at) "
        "SELECT tenant_id, TRIM(account_name), 'active', MIN(created_at), MIN(created_at) FROM contact "
        "WHERE account_name IS NOT NULL AND TRIM(account_name) <> '' GROUP BY tenant_id, TRIM(account_name)"))
    op.execute(sa.text(
        "UPDATE contact SET account_id = (SELECT a.id FROM customer_account a WHERE a.tenant_id = contact.tenant_id "
        "AND a.name = TRIM(contact.account_name)) WHERE account_name IS NOT NULL AND TRIM(account_name) <> ''"))
    op.execute(sa.text(
        "UPDATE ticket SET account_id = (SELECT c.account_id FROM contact c WHERE c.id = ticket.contact_id) "
        "WHERE EXISTS (SELECT 1 FROM contact c WHERE c.id = ticket.contact_id AND c.account_id IS NOT NULL)"))
    for position, name in enumerate(DEFAULT_FUNCTIONS):
        op.execute(sa.text("INSERT INTO account_function (tenant_id, name, position) SELECT id, :name, :position "
                           "FROM tenant").bindparams(name=name, position=position))


def downgrade():
    for table in NEW_TABLES:
        disable_row_level_security(table)
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_customer_account_name_trgm', table_name='customer_account')
    with op.batch_alter_table('workflow_settings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_workflow_settings_routing_team_id_team'), type_='foreignkey')
        batch_op.drop_column('backlog_threshold')
        batch_op.drop_column('routing_team_id')
        batch_op.drop_column('route_to_account_owner')
        batch_op.drop_column('alert_external_id')

    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('email_signature')
        batch_op.drop_column('job_title')

    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_ticket_account_id_customer_account'), type_='foreignkey')
        batch_op.drop_index('ix_ticket_tenant_account_opened')
        batch_op.drop_column('account_id')

    with op.batch_alter_table('membership', schema=None) as batch_op:
        batch_op.drop_column('away_until')
        batch_op.drop_column('capacity')

    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_contact_account_id_customer_account'), type_='foreignkey')
        batch_op.drop_index('ix_contact_tenant_account')
        batch_op.drop_column('account_id')

    with op.batch_alter_table('account_status_change', schema=None) as batch_op:
        batch_op.drop_index('ix_account_status_change_tenant_ticket')
        batch_op.drop_index('ix_account_status_change_tenant_account')

    op.drop_table('account_status_change')
    with op.batch_alter_table('team_member', schema=None) as batch_op:
        batch_op.drop_index('ix_team_member_tenant_user')

    op.drop_table('team_member')
    with op.batch_alter_table('account_team_member', schema=None) as batch_op:
        batch_op.drop_index('ix_account_team_member_tenant_user')
        batch_op.drop_index('ix_account_team_member_tenant_account')

    op.drop_table('account_team_member')
    op.drop_table('team')
    op.drop_table('saved_view')
    with op.batch_alter_table('customer_account', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_account_tenant_status')
        batch_op.drop_index('ix_customer_account_tenant_owner')
        batch_op.drop_index('ix_customer_account_tenant_name_id')
        batch_op.drop_index('ix_customer_account_tenant_external')

    op.drop_table('customer_account')
    op.drop_table('account_function')
