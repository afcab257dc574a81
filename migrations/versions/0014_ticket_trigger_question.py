"""the trigger question that opened a ticket

A ticket opened by a yes/no trigger question answered No remembers the question, so every page and alert can
say why it opened ("Do you feel prepared to begin treatment? — No"). Tickets already opened that way get the
first such question their response answered No.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 04:10:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trigger_question_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_ticket_trigger_question_id_survey_question'), 'survey_question',
                                    ['trigger_question_id'], ['id'], ondelete='SET NULL')
    op.execute(sa.text(
        "UPDATE ticket SET trigger_question_id = (SELECT q.id FROM survey_question q "
        "JOIN response_answer a ON a.question_id = q.id "
        "WHERE a.response_id = ticket.response_id AND a.value = 'no' AND q.kind = 'yes_no' "
        "AND q.opens_ticket_on_no ORDER BY q.position, q.id LIMIT 1) WHERE trigger = 'question'"))


def downgrade():
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_ticket_trigger_question_id_survey_question'), type_='foreignkey')
        batch_op.drop_column('trigger_question_id')
