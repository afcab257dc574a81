"""Search by part of a word — ``ILIKE '%…%'`` — answered by the trigram indexes on PostgreSQL.

Row-level security stands between such a search and its index: PostgreSQL applies a table's policy before any
condition that is not *leakproof*, and ``ILIKE`` is not, so under a policy the trigram index cannot answer it
and every row of the organisation is read. Each searchable table therefore has a *search view* (created by the
migrations with :func:`create_search_view`): owned by the schema owner, so the policy does not apply inside it,
and showing only the rows of the tenant the transaction is set to (``app.tenant_id``, the setting the policies
read). A search asks the view for the ids that match and the caller reads the rows themselves from the table,
under its policy as usual::

    select(Contact).where(Contact.id.in_(matching_ids(Contact, ["name", "email"], q)))

SQLite has neither policies nor trigram indexes: there the same function searches the table itself.
"""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, column, or_, select, table

from app.extensions import db
from app.tenancy import APP_DB_ROLE, current_tenant_id, scoped_by_hand

# Every searchable table and the columns its search view carries (besides id and tenant_id).
SEARCHABLE: dict[str, tuple[str, ...]] = {
    "contact": ("name", "email"),
    "customer_account": ("name",),
    "response": ("comment",),
    "activity": ("body",),
}
_TENANT = "(SELECT NULLIF(current_setting('app.tenant_id', true), '')::integer)"


def like_pattern(text: str) -> str:
    """``%text%`` with the wildcards of ``text`` taken literally (escape character: backslash)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def matching_ids(model, columns: Sequence[str], text: str) -> Select:
    """The ids of ``model``'s rows in the current tenant where any of ``columns`` contains ``text`` (any case)."""
    name = model.__tablename__
    missing = set(columns) - set(SEARCHABLE.get(name, ()))
    if missing:
        raise ValueError(f"{name} has no search view with {sorted(missing)}")
    pattern = like_pattern(text)
    if db.engine.dialect.name == "postgresql":
        source = table(f"{name}_search", column("id"), column("tenant_id"), *(column(c) for c in columns))
    else:
        source = model.__table__
    return scoped_by_hand(
        select(source.c.id).where(source.c.tenant_id == current_tenant_id(),
                                  or_(*(source.c[c].ilike(pattern, escape="\\") for c in columns)))
    )


def create_search_view(name: str) -> None:
    """In a migration (PostgreSQL only): the search view of table ``name``, readable by the app's role."""
    from alembic import op

    if op.get_bind().dialect.name != "postgresql":
        return
    columns = ", ".join(("id", "tenant_id", *SEARCHABLE[name]))
    op.execute(f'CREATE OR REPLACE VIEW "{name}_search" AS SELECT {columns} FROM "{name}" WHERE tenant_id = {_TENANT}')
    op.execute(f'GRANT SELECT ON "{name}_search" TO "{APP_DB_ROLE}"')


def drop_search_view(name: str) -> None:
    from alembic import op

    if op.get_bind().dialect.name == "postgresql":
        op.execute(f'DROP VIEW IF EXISTS "{name}_search"')
