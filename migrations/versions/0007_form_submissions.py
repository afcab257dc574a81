"""Form submissions: the one-time key of each saved form post, so a repeated post does its work once.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

from app.tenancy import disable_row_level_security, enable_row_level_security

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "form_submission",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"], name=op.f("fk_form_submission_tenant_id_tenant"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_submission")),
        sa.UniqueConstraint("tenant_id", "key", name=op.f("uq_form_submission_tenant_id_key")),
    )
    op.create_index("ix_form_submission_created_at", "form_submission", ["created_at"])
    enable_row_level_security("form_submission")


def downgrade():
    disable_row_level_security("form_submission")
    op.drop_index("ix_form_submission_created_at", table_name="form_submission")
    op.drop_table("form_submission")
