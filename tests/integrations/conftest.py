"""Fixtures of the integration tests: a connected source per test, the fake vendor API on loopback, and
helpers that read what was recorded."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.integrations import services
from app.integrations.models import IntegrationDelivery
from app.surveys.models import Response
from app.tenancy import tenant_context
from app.tickets.models import Ticket
from tests.integrations.fake_vendor import FakeVendor


@pytest.fixture()
def vendor(app, monkeypatch):
    """The fake SurveyMonkey / Qualtrics / HubSpot API; vendor base URLs on loopback are allowed meanwhile."""
    monkeypatch.setitem(app.config, "INTEGRATIONS_ALLOW_LOCAL_API", True)
    fake = FakeVendor().start()
    yield fake
    fake.stop()


@pytest.fixture()
def connect(app, org):
    """``connect(kind, credentials=…, settings=…)``: an integration of org A; returns (id, path, secret)."""

    def _connect(kind: str, credentials: dict | None = None, settings: dict | None = None, tenant_id=None):
        with app.app_context(), tenant_context(tenant_id or org["tenant_id"]):
            integration = services.create_integration(kind=kind, name=kind.title(), credentials=credentials,
                                                      settings=settings)
            db.session.commit()
            found = (integration.id, f"/hooks/{integration.token}", services.keys_of(integration).signing_secret)
            db.session.remove()
        return found

    return _connect


class Recorded:
    """What org A's database holds: responses, tickets and delivery log rows."""

    def __init__(self, app, tenant_id):
        self.app, self.tenant_id = app, tenant_id

    def _read(self, statement, many=True):
        with self.app.app_context(), tenant_context(self.tenant_id):
            rows = db.session.execute(statement)
            result = rows.all() if many else rows.scalar_one()
            db.session.remove()
        return result

    def responses(self):
        return self._read(select(Response.source, Response.external_id, Response.score, Response.comment,
                                 Response.contact_id).order_by(Response.id))

    def tickets(self) -> int:
        return self._read(select(func.count(Ticket.id)), many=False)

    def outcomes(self) -> list[str]:
        return [row[0] for row in self._read(select(IntegrationDelivery.outcome).order_by(IntegrationDelivery.id))]

    def log(self):
        return self._read(select(IntegrationDelivery.outcome, IntegrationDelivery.event_id, IntegrationDelivery.detail)
                          .order_by(IntegrationDelivery.id))


@pytest.fixture()
def recorded(app, org):
    return Recorded(app, org["tenant_id"])
