"""Tenant isolation in one place.

Every tenant-owned model inherits :class:`TenantScoped`. A session listener adds
``tenant_id = <current tenant>`` to every ORM SELECT, UPDATE and DELETE that touches
such a model, and new rows take the current tenant's id by default.

A statement the ORM criteria cannot reach is refused: a Core statement on a tenant-owned
table (``select(Contact.__table__.c.name)``, ``insert(Activity.__table__)``) and any
``text()`` SQL, which cannot be inspected, must say how it is scoped, with
:func:`unscoped` (it crosses tenants on purpose) or :func:`scoped_by_hand` (its author
wrote the ``tenant_id`` filter, or it touches no tenant-owned table).

On PostgreSQL the database enforces the same rule with row-level security: every table
with a ``tenant_id`` column has a policy comparing it with the transaction's
``app.tenant_id`` setting, unless ``app.all_tenants`` is ``on``. The app keeps both in step
with the context before each statement, and its connections act as the non-owner role
:data:`APP_DB_ROLE`, because owners and superusers bypass row-level security.

Code that must cross tenants (the sweeps, the mail job, the survey page reached by token,
sign-up, invitation acceptance, the list of a user's organisations, tenant resolution)
says so by name: :func:`unscoped` for one statement, :func:`all_tenants` for a block.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from functools import wraps
from typing import Any, Callable, Iterator, TypeVar

from flask import Flask, abort, current_app, g, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import ColumnClause, Engine, ForeignKey, Table, event, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, declared_attr, mapped_column, with_loader_criteria
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import TextClause
from werkzeug.local import LocalProxy
from werkzeug.routing import IntegerConverter

from app.extensions import db

log = logging.getLogger(__name__)

_current_tenant_id: ContextVar[int | None] = ContextVar("current_tenant_id", default=None)
_all_tenants: ContextVar[bool] = ContextVar("all_tenants", default=False)

class Role(StrEnum):
    """A member's role in an organisation, as stored on the membership."""

    ADMIN = "admin"
    MANAGER = "manager"
    AGENT = "agent"
    VIEWER = "viewer"


ROLES = tuple(Role)
ROLE_LABELS = {Role.ADMIN: "Admin", Role.MANAGER: "Manager", Role.AGENT: "Agent", Role.VIEWER: "Viewer"}
# Who works tickets (everyone but viewers), and who may override the team's rules (closing with open items).
WORKING_ROLES = (Role.ADMIN, Role.MANAGER, Role.AGENT)
MANAGING_ROLES = (Role.ADMIN, Role.MANAGER)

# The PostgreSQL role the app's statements run as: it owns nothing, so row-level security applies to it.
# Roles are cluster-wide; every database of the cluster shares this one.
APP_DB_ROLE = "turnaround_app"
# The row-level security rule, in one place (sub-selects so PostgreSQL reads each setting once per statement).
# It is written as a CASE rather than "tenant_id = … OR all_tenants": the planner prices a CASE at half the
# rows, whereas it prices "tenant_id = <a setting>" at one tenant's share of the table and multiplies that by
# the query's own tenant condition — with 200 organisations, row counts 200 times too low and plans that sort a
# whole organisation's rows to show twenty.
TENANT_POLICY = (
    "CASE WHEN (SELECT current_setting('app.all_tenants', true)) = 'on' THEN true "
    "ELSE tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::integer) END"
)
# The rule before migration 0016, which its downgrade puts back.
TENANT_POLICY_BEFORE_0016 = (
    "tenant_id = (SELECT NULLIF(current_setting('app.tenant_id', true), '')::integer) "
    "OR (SELECT current_setting('app.all_tenants', true)) = 'on'"
)
_SETTINGS_KEY = "turnaround_tenant_settings"


class TenantScopeError(RuntimeError):
    """A statement could reach tenant-owned rows without saying which tenant's."""


class TenantContextMissing(TenantScopeError):
    """A tenant-owned table was queried with no tenant in context and no explicit opt-out."""


class UnscopedStatement(TenantScopeError):
    """A Core or ``text()`` statement that the ORM criteria cannot scope said neither
    :func:`unscoped` nor :func:`scoped_by_hand`."""


def _default_tenant_id() -> int:
    tenant_id = _current_tenant_id.get()
    if tenant_id is None:
        raise TenantContextMissing("a tenant-owned row was created outside a tenant context")
    return tenant_id


class TenantScoped:
    """Mixin for every row that belongs to one tenant."""

    @declared_attr
    def tenant_id(cls) -> Mapped[int]:
        return mapped_column(
            ForeignKey("tenant.id", ondelete="CASCADE"), nullable=False, default=_default_tenant_id
        )


def current_tenant_id() -> int | None:
    return _current_tenant_id.get()


@contextmanager
def tenant_context(tenant_id: int) -> Iterator[None]:
    """Scope every query inside the block to ``tenant_id`` (worker jobs, CLI commands, token pages).

    Inside an :func:`all_tenants` block it narrows back to the one tenant until the block ends.
    """
    token = _current_tenant_id.set(tenant_id)
    crossing = _all_tenants.set(False)
    try:
        yield
    finally:
        _all_tenants.reset(crossing)
        _current_tenant_id.reset(token)


@contextmanager
def all_tenants() -> Iterator[None]:
    """Let every statement inside the block cross tenants (the sweeps, the mail job, sign-up, fixtures).

    The ORM criteria and the Core guard stand aside and, on PostgreSQL, ``app.all_tenants`` is on, so
    row-level security shows every tenant's rows. A :func:`tenant_context` inside the block scopes its
    own block to its tenant again. Also a decorator: ``@all_tenants()``.
    """
    token = _all_tenants.set(True)
    try:
        yield
    finally:
        _all_tenants.reset(token)


def unscoped(statement):
    """Mark a statement as deliberately crossing tenants: the ORM criteria and the guard stand aside,
    and on PostgreSQL it runs with ``app.all_tenants`` on, so row-level security lets it through."""
    return statement.execution_options(all_tenants=True)


def scoped_by_hand(statement):
    """Mark a Core or ``text()`` statement whose author scoped it: it filters on the current tenant's
    ``tenant_id`` itself, or touches no tenant-owned table. Row-level security still applies to it."""
    return statement.execution_options(scoped_by_hand=True)


def _crossing(options) -> bool:
    return bool(options.get("all_tenants")) or _all_tenants.get()


_tenant_tables_cache: tuple[int, frozenset[Table]] = (-1, frozenset())


def tenant_owned_tables() -> frozenset[Table]:
    """Every table of the metadata with a ``tenant_id`` column (mapped by a model or not)."""
    global _tenant_tables_cache
    tables = db.metadata.tables
    if _tenant_tables_cache[0] != len(tables):
        _tenant_tables_cache = (len(tables), frozenset(t for t in tables.values() if "tenant_id" in t.c))
    return _tenant_tables_cache[1]


def _tenant_reach(statement) -> str | None:
    """How ``statement`` reaches tenant-owned rows: ``"orm"`` when it names a tenant-owned model (the
    ORM criteria scope it), ``"core"`` when it touches a tenant-owned table only as a table (in FROM, a
    column, a subquery, as the INSERT / UPDATE / DELETE target), None when it touches none."""
    tables: set[Table] = set()
    for element in visitors.iterate(statement):
        entity = getattr(element, "_annotations", {}).get("parententity")
        if entity is not None and issubclass(entity.class_, TenantScoped):
            return "orm"
        if isinstance(element, Table):
            tables.add(element)
        elif isinstance(element, ColumnClause) and isinstance(element.table, Table):
            tables.add(element.table)
    target = getattr(statement, "table", None)
    if isinstance(target, Table):
        tables.add(target)
    return "core" if tables & tenant_owned_tables() else None


@event.listens_for(Session, "do_orm_execute")
def _scope_to_current_tenant(state: ORMExecuteState) -> None:
    """Scope ORM statements to the current tenant; refuse what cannot be scoped and does not say why."""
    if state.is_column_load or _crossing(state.execution_options) or state.execution_options.get("scoped_by_hand"):
        return
    statement = state.statement
    tenant_id = _current_tenant_id.get()
    if isinstance(statement, TextClause):
        raise UnscopedStatement("raw SQL cannot be scoped to a tenant: wrap it in unscoped() or scoped_by_hand()")
    reach = _tenant_reach(statement)
    if reach == "core":
        if tenant_id is None:
            raise TenantContextMissing("a Core statement on a tenant-owned table ran outside a tenant context")
        raise UnscopedStatement("a Core statement on a tenant-owned table is not scoped by the ORM: query the "
                                "model, or mark it unscoped() or scoped_by_hand()")
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if tenant_id is None:
        if reach == "orm" and not state.is_relationship_load:
            raise TenantContextMissing("tenant-owned rows were queried outside a tenant context")
        return
    state.statement = statement.options(
        with_loader_criteria(TenantScoped, lambda cls: cls.tenant_id == tenant_id, include_aliases=True)
    )


def _wanted_settings(context) -> tuple[str, str]:
    """``(app.tenant_id, app.all_tenants)`` for the statement about to run."""
    options = context.execution_options if context is not None else {}
    tenant_id = _current_tenant_id.get()
    return ("" if tenant_id is None else str(tenant_id), "on" if _crossing(options) else "off")


def _sync_settings(conn: Connection, cursor, statement, parameters, context, executemany) -> None:
    """Before each statement, make the transaction's tenant settings match the context.

    ``set_config(..., true)`` lasts until the transaction ends, so the value last set is remembered on
    the connection and forgotten when a transaction begins or a savepoint rolls back: one extra round
    trip per transaction, and one more each time the context changes within it.
    """
    wanted = _wanted_settings(context)
    if conn.info.get(_SETTINGS_KEY) == wanted:
        return
    if statement.startswith(("ROLLBACK TO SAVEPOINT", "RELEASE SAVEPOINT")):
        # These read no rows, and after a failed statement (a unique violation caught in a savepoint) the
        # transaction accepts nothing else until the rollback: the next statement sets the settings again.
        return
    dbapi_connection = conn.connection.dbapi_connection
    # An autocommit connection (the mail job's outcome writer) runs each statement in a transaction of its
    # own, so a transaction-local setting would be gone before the statement: there the setting is made for
    # the session, and the next transaction on this connection sets its own again before its first statement.
    local = not dbapi_connection.autocommit
    with dbapi_connection.cursor() as setter:
        setter.execute("SELECT set_config('app.tenant_id', %s, %s), set_config('app.all_tenants', %s, %s)",
                       (wanted[0], local, wanted[1], local))
    conn.info[_SETTINGS_KEY] = wanted


def _forget_settings(conn: Connection, *args) -> None:
    conn.info.pop(_SETTINGS_KEY, None)


def _assume_app_role(dbapi_connection, connection_record) -> None:
    """Act as :data:`APP_DB_ROLE` on each new connection when the login user may (a superuser, the
    schema owner made a member by the migration, or any member); a login user that already is a
    non-owner role, without membership, stays itself."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True  # SET ROLE must outlive the first transaction
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(
                "SELECT r.rolname = session_user, pg_has_role(session_user, r.oid, 'MEMBER') "
                "FROM pg_roles r WHERE r.rolname = %s", (APP_DB_ROLE,))
            row = cursor.fetchone()
            if row is not None and row[1] and not row[0]:
                cursor.execute(f'SET ROLE "{APP_DB_ROLE}"')
                return
            cursor.execute("SELECT current_user, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
            user, bypasses = cursor.fetchone()
            if bypasses:
                log.warning("row-level security is bypassed: database user %s cannot act as role %s "
                            "(run the migrations, or GRANT %s TO %s)", user, APP_DB_ROLE, APP_DB_ROLE, user)
    finally:
        dbapi_connection.autocommit = autocommit


def install_row_level_security(engine: Engine) -> None:
    """Hook ``engine`` up to PostgreSQL row-level security: the app role and the per-transaction settings.

    Only the app's engine: migrations and test fixtures connect as the login user with their own engine.
    """
    if engine.dialect.name != "postgresql":
        return
    event.listen(engine, "connect", _assume_app_role)
    event.listen(engine, "before_cursor_execute", _sync_settings)
    event.listen(engine, "begin", _forget_settings)
    event.listen(engine, "rollback_savepoint", _forget_settings)


def enable_row_level_security(table: str) -> None:
    """In a migration: make ``table`` (with a ``tenant_id`` column) visible to the app role only through
    the tenant policy. Call it in the migration that creates a tenant-owned table; PostgreSQL only."""
    from alembic import op

    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON "{table}" TO "{APP_DB_ROLE}"')
    op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
    op.execute(f'CREATE POLICY tenant_isolation ON "{table}" USING ({TENANT_POLICY}) WITH CHECK ({TENANT_POLICY})')


def replace_row_level_security_policy(table: str, policy: str) -> None:
    """In a migration: give ``table`` the tenant policy ``policy`` in place of the one it has."""
    from alembic import op

    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f'DROP POLICY IF EXISTS tenant_isolation ON "{table}"')
    op.execute(f'CREATE POLICY tenant_isolation ON "{table}" USING ({policy}) WITH CHECK ({policy})')


def disable_row_level_security(table: str) -> None:
    """In a migration's downgrade: undo :func:`enable_row_level_security`."""
    from alembic import op

    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f'DROP POLICY IF EXISTS tenant_isolation ON "{table}"')
    op.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')


M = TypeVar("M")


# Ids are PostgreSQL ``integer`` columns: a number outside this range names no row (and would not bind).
ID_MAX = 2**31 - 1


def parse_id(raw: Any) -> int | None:
    """``raw`` (a URL part, a query or form value) as a row id, or None when it cannot be one: not a whole
    number, or outside 1..:data:`ID_MAX`. Every id that comes from a request goes through here."""
    try:
        value = int(raw)
    except (TypeError, ValueError, OverflowError):
        return None
    return value if 1 <= value <= ID_MAX else None


def get_or_404(model: type[M], object_id: Any) -> M:
    """Fetch a tenant-owned row by id; missing and foreign rows, and ids no row can have, are the same 404."""
    object_id = parse_id(object_id)
    if object_id is None:
        abort(404)
    obj = db.session.execute(select(model).where(model.id == object_id)).scalar_one_or_none()
    if obj is None or getattr(obj, "tenant_id", None) != _current_tenant_id.get():
        abort(404)
    return obj


current_tenant = LocalProxy(lambda: g.get("tenant"))
current_membership = LocalProxy(lambda: g.get("membership"))


def require_role(*roles: str) -> Callable:
    """Allow only members whose role is in ``roles``; other members of the tenant get 403."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            membership = g.get("membership")
            if membership is None:
                abort(404)
            if membership.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


class IdConverter(IntegerConverter):
    """``<int:…>`` in every route: a number outside 0..:data:`ID_MAX` matches no route, so it is a 404
    before any view (or query) sees it."""

    def __init__(self, map, fixed_digits: int = 0, min: int = 0, max: int = ID_MAX, signed: bool = False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def init_app(app: Flask) -> None:
    """Resolve ``/t/<tenant_slug>/…`` to the tenant and the member's membership once per request, and
    route ``<int:…>`` path parts through :class:`IdConverter` (call before any blueprint is registered)."""
    from app.accounts.models import Membership, Tenant

    app.url_map.converters["int"] = IdConverter

    with app.app_context():
        install_row_level_security(db.engine)

    @app.url_value_preprocessor
    def _pull_slug(endpoint, values):
        if values and "tenant_slug" in values:
            g.tenant_slug = values.pop("tenant_slug")

    @app.url_defaults
    def _add_slug(endpoint, values):
        if "tenant_slug" in values or not g.get("tenant"):
            return
        if current_app.url_map.is_endpoint_expecting(endpoint, "tenant_slug"):
            values["tenant_slug"] = g.tenant.slug

    @app.before_request
    def _resolve_tenant():
        slug = g.get("tenant_slug")
        if slug is None:
            return None
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        row = db.session.execute(
            unscoped(
                select(Tenant, Membership)
                .join(Membership, Membership.tenant_id == Tenant.id)
                .where(Tenant.slug == slug, Membership.user_id == current_user.id, Membership.is_active.is_(True))
            )
        ).first()
        if row is None:
            abort(404)
        g.tenant, g.membership = row
        g._tenant_token = _current_tenant_id.set(g.tenant.id)
        return None

    @app.teardown_request
    def _clear_tenant(exc):
        token = g.pop("_tenant_token", None)
        if token is not None:
            _current_tenant_id.reset(token)

    @app.context_processor
    def _tenant_globals():
        return {
            "current_tenant": g.get("tenant"),
            "current_membership": g.get("membership"),
            "ROLE_LABELS": ROLE_LABELS,
            "Role": Role,
            "WORKING_ROLES": WORKING_ROLES,
            "MANAGING_ROLES": MANAGING_ROLES,
        }
