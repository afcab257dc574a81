"""An organisation without a settings row (one older than the settings) reads the defaults without writing
anything; its first change creates the row."""
from __future__ import annotations

from sqlalchemy import delete, select

from app.extensions import db
from app.settings.models import WorkflowSettings
from app.tenancy import tenant_context


def _rows(app, tenant_id: int) -> list[tuple[int, int]]:
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(
            select(WorkflowSettings.survey_throttle_days, WorkflowSettings.call_attempts)).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def test_reading_settings_writes_nothing_and_the_first_change_saves_them(app, org, as_member):
    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.execute(delete(WorkflowSettings))
        db.session.commit()
        db.session.remove()
    client = as_member("admin")
    for page in ("cadence", "throttling", "sla", "notifications"):
        assert client.get(f"/t/{org['slug']}/settings/{page}").status_code == 200
    assert _rows(app, org["tenant_id"]) == []

    response = client.post(f"/t/{org['slug']}/settings/throttling", data={"survey_throttle_days": "60"})
    assert response.status_code == 303
    assert _rows(app, org["tenant_id"]) == [(60, 2)]  # the change, and the other defaults with it
