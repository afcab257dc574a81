"""Tenant isolation in one place.

Every tenant-owned model inherits :class:`TenantScoped`. A session listener adds
``tenant_id = <current tenant>`` to every ORM SELECT, UPDATE and DELETE that touches
such a model, and new rows take the current tenant's id by default. Code that must
cross tenants (the outbox sweep, the survey page reached by token, the list of a
user's organisations) says so by name with :func:`unscoped`.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from functools import wraps
from typing import Any, Callable, Iterator, TypeVar

from flask import Flask, abort, current_app, g, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import ForeignKey, event, select
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, declared_attr, mapped_column, with_loader_criteria
from werkzeug.local import LocalProxy

from app.extensions import db

_current_tenant_id: ContextVar[int | None] = ContextVar("current_tenant_id", default=None)

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


class TenantContextMissing(RuntimeError):
    """A tenant-owned table was queried with no tenant in context and no explicit opt-out."""


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
    """Scope every query inside the block to ``tenant_id`` (worker jobs, CLI commands, token pages)."""
    token = _current_tenant_id.set(tenant_id)
    try:
        yield
    finally:
        _current_tenant_id.reset(token)


def unscoped(statement):
    """Mark a statement as deliberately crossing tenants."""
    return statement.execution_options(all_tenants=True)


@event.listens_for(Session, "do_orm_execute")
def _scope_to_current_tenant(state: ORMExecuteState) -> None:
    if state.is_column_load or state.execution_options.get("all_tenants"):
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    tenant_id = _current_tenant_id.get()
    if tenant_id is None:
        if state.is_relationship_load:
            return
        if any(issubclass(m.class_, TenantScoped) for m in state.all_mappers):
            raise TenantContextMissing("tenant-owned rows were queried outside a tenant context")
        return
    state.statement = state.statement.options(
        with_loader_criteria(TenantScoped, lambda cls: cls.tenant_id == tenant_id, include_aliases=True)
    )


M = TypeVar("M")


def get_or_404(model: type[M], object_id: Any) -> M:
    """Fetch a tenant-owned row by id; missing and foreign rows are the same 404."""
    try:
        object_id = int(object_id)
    except (TypeError, ValueError):
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


def init_app(app: Flask) -> None:
    """Resolve ``/t/<tenant_slug>/…`` to the tenant and the member's membership once per request."""
    from app.accounts.models import Membership, Tenant

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
