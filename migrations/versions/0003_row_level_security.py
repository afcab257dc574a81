"""row-level security on every tenant-owned table, for a non-owner app role

The app's connections act as the role ``turnaround_app`` (created here if the cluster does not have it
yet; roles are shared by every database of the cluster). It owns nothing, so PostgreSQL applies the
``tenant_isolation`` policy of each table with a ``tenant_id`` column to it. A migration that adds a
tenant-owned table later calls ``enable_row_level_security("<table>")`` from ``app.tenancy``.
SQLite has no row-level security: there the application's guard stands alone.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 23:50:00

"""
from alembic import op
import sqlalchemy as sa

from app.tenancy import APP_DB_ROLE, disable_row_level_security, enable_row_level_security


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def _tenant_tables() -> list[str]:
    """Every table of the current schema with a ``tenant_id`` column, whichever revisions made them."""
    return list(op.get_bind().execute(sa.text(
        "SELECT table_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND column_name = 'tenant_id' ORDER BY table_name"
    )).scalars())


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    # Two databases of one cluster migrating at once may both find the role missing: the loser shrugs.
    op.execute(f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_DB_ROLE}') THEN
                CREATE ROLE "{APP_DB_ROLE}" NOLOGIN;
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$
    """)
    # A login user that owns the tables without being a superuser must be able to SET ROLE to it.
    op.execute(f"""
        DO $$
        BEGIN
            IF NOT pg_has_role(current_user, '{APP_DB_ROLE}', 'MEMBER') THEN
                EXECUTE format('GRANT %I TO %I', '{APP_DB_ROLE}', current_user);
            END IF;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE WARNING 'could not grant {APP_DB_ROLE} to %: grant it by hand', current_user;
        END $$
    """)
    op.execute(f'GRANT USAGE ON SCHEMA public TO "{APP_DB_ROLE}"')
    op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{APP_DB_ROLE}"')
    op.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{APP_DB_ROLE}"')
    # Tables and sequences later revisions create (as this same login user) are the app's to use too.
    op.execute(f'ALTER DEFAULT PRIVILEGES IN SCHEMA public '
               f'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{APP_DB_ROLE}"')
    op.execute(f'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO "{APP_DB_ROLE}"')
    for table in _tenant_tables():
        enable_row_level_security(table)


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table in _tenant_tables():
        disable_row_level_security(table)
    # The role stays: other databases of the cluster may use it. Only this database's grants go.
    op.execute(f'ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM "{APP_DB_ROLE}"')
    op.execute(f'ALTER DEFAULT PRIVILEGES IN SCHEMA public '
               f'REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM "{APP_DB_ROLE}"')
    op.execute(f'REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM "{APP_DB_ROLE}"')
    op.execute(f'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{APP_DB_ROLE}"')
    op.execute(f'REVOKE USAGE ON SCHEMA public FROM "{APP_DB_ROLE}"')
