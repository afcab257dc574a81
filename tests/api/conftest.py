"""Fixtures for the API tests: tokens made through the token service, and a client that sends one."""
from __future__ import annotations

import pytest

from app.api import tokens
from app.extensions import db
from app.tenancy import tenant_context


def make_token(app, tenant_id: int, user_id: int, scope: str = "read_write", name: str = "Sync") -> str:
    """A new API token's secret for the organisation, created by ``user_id`` (an admin)."""
    with app.app_context(), tenant_context(tenant_id):
        _, secret = tokens.create_token(name=name, scope=scope, created_by_id=user_id)
        db.session.commit()
        db.session.remove()
    return secret


class Api:
    """The test client with a bearer token: ``api.get("/contacts")`` calls ``/api/v1/contacts``."""

    def __init__(self, client, token: str | None):
        self.client, self.token = client, token

    def headers(self, extra: dict | None = None) -> dict:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**headers, **(extra or {})}

    def get(self, path: str, **kwargs):
        return self.client.get("/api/v1" + path, headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def delete(self, path: str, **kwargs):
        return self.client.delete("/api/v1" + path, headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, path: str, json=None, **kwargs):
        return self.client.post("/api/v1" + path, json=json, headers=self.headers(kwargs.pop("headers", None)),
                                **kwargs)

    def patch(self, path: str, json=None, **kwargs):
        return self.client.patch("/api/v1" + path, json=json, headers=self.headers(kwargs.pop("headers", None)),
                                 **kwargs)

    def put(self, path: str, json=None, **kwargs):
        return self.client.put("/api/v1" + path, json=json, headers=self.headers(kwargs.pop("headers", None)),
                               **kwargs)


@pytest.fixture()
def api(app, client, org):
    """Organisation A's read-write token, created by its admin."""
    return Api(client, make_token(app, org["tenant_id"], org["admin"]))


@pytest.fixture()
def read_api(app, client, org):
    """Organisation A's read-only token."""
    return Api(client, make_token(app, org["tenant_id"], org["admin"], scope="read", name="Reports"))


@pytest.fixture()
def other_api(app, client, other_org):
    """Organisation B's read-write token."""
    return Api(client, make_token(app, other_org["tenant_id"], other_org["admin"], name="Bayside sync"))
