"""SLA targets with explicit units, what stops the first-contact clock, survey sender, default contact role

Each SLA target becomes an amount and a unit (minutes, hours or business days). Existing settings keep
their meaning: a first-contact target or breach that was a whole number of days of hours ("24 hours",
"48 hours") becomes that many business days ("call within 1 business day, breach after 2"), any other
number of hours stays in hours, and a resolution target of N days becomes N business days (in
calendar-hours mode a day is 24 hours, so calendar-mode deadlines do not move).

Existing organisations keep counting any logged call or email as first contact; new contacts start with
no role until an admin picks a default; survey invitations show the organisation's name until an admin
chooses a sender name.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 23:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

settings = sa.table(
    'workflow_settings',
    sa.column('first_contact_target_hours', sa.Integer), sa.column('first_contact_breach_hours', sa.Integer),
    sa.column('resolution_target_days', sa.Integer),
    sa.column('first_contact_target', sa.Integer), sa.column('first_contact_target_unit', sa.String),
    sa.column('first_contact_breach', sa.Integer), sa.column('first_contact_breach_unit', sa.String),
    sa.column('resolution_target', sa.Integer), sa.column('resolution_target_unit', sa.String),
)


def _whole_days(hours):
    return hours % 24 == 0


def upgrade():
    with op.batch_alter_table('workflow_settings', schema=None) as batch_op:
        for name in ('first_contact_target', 'first_contact_breach', 'resolution_target'):
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column(f'{name}_unit', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('first_contact_stopped_by', sa.String(length=16), nullable=False,
                                      server_default='call_or_email'))
        batch_op.add_column(sa.Column('default_contact_role_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sender_name', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('reply_to_address', sa.String(length=254), nullable=True))
        batch_op.create_foreign_key(op.f('fk_workflow_settings_default_contact_role_id_recipient_role'),
                                    'recipient_role', ['default_contact_role_id'], ['id'], ondelete='SET NULL')

    for old, new in (('first_contact_target_hours', 'first_contact_target'),
                     ('first_contact_breach_hours', 'first_contact_breach')):
        hours = settings.c[old]
        op.execute(settings.update().values({
            new: sa.case((_whole_days(hours), hours / 24), else_=hours),
            f'{new}_unit': sa.case((_whole_days(hours), 'business_days'), else_='hours'),
        }))
    op.execute(settings.update().values(resolution_target=settings.c.resolution_target_days,
                                        resolution_target_unit='business_days'))

    with op.batch_alter_table('workflow_settings', schema=None) as batch_op:
        for name in ('first_contact_target', 'first_contact_breach', 'resolution_target'):
            batch_op.alter_column(name, existing_type=sa.Integer(), nullable=False)
            batch_op.alter_column(f'{name}_unit', existing_type=sa.String(length=16), nullable=False)
        batch_op.drop_column('first_contact_target_hours')
        batch_op.drop_column('first_contact_breach_hours')
        batch_op.drop_column('resolution_target_days')


def _as_hours(amount, unit):
    """Back to whole hours: minutes round up to the next hour, business days are 24 hours each."""
    return sa.case((unit == 'minutes', (amount + 59) / 60), (unit == 'business_days', amount * 24), else_=amount)


def downgrade():
    with op.batch_alter_table('workflow_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_contact_target_hours', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('first_contact_breach_hours', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('resolution_target_days', sa.Integer(), nullable=True))

    c = settings.c
    op.execute(settings.update().values(
        first_contact_target_hours=_as_hours(c.first_contact_target, c.first_contact_target_unit),
        first_contact_breach_hours=_as_hours(c.first_contact_breach, c.first_contact_breach_unit),
        resolution_target_days=sa.case(
            (c.resolution_target_unit == 'business_days', c.resolution_target),
            else_=(_as_hours(c.resolution_target, c.resolution_target_unit) + 23) / 24,
        ),
    ))

    with op.batch_alter_table('workflow_settings', schema=None) as batch_op:
        batch_op.alter_column('first_contact_target_hours', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('first_contact_breach_hours', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('resolution_target_days', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint(op.f('fk_workflow_settings_default_contact_role_id_recipient_role'),
                                 type_='foreignkey')
        for name in ('first_contact_target', 'first_contact_breach', 'resolution_target'):
            batch_op.drop_column(name)
            batch_op.drop_column(f'{name}_unit')
        for name in ('first_contact_stopped_by', 'default_contact_role_id', 'sender_name', 'reply_to_address'):
            batch_op.drop_column(name)
