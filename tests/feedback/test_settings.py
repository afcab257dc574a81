"""Settings → Feedback and recovery: the editable list of themes and the re-survey switch, audited."""
from __future__ import annotations

from app.extensions import db
from app.settings.services import get_settings
from app.tenancy import tenant_context
from tests.support.data import audit_entries
from tests.support.html import field_error, text
from tests.support.tickets import HTMX


def test_admin_adds_retires_and_brings_back_themes(app, org, as_member):
    client = as_member("admin")
    url = f"/t/{org['slug']}/settings/feedback"
    assert client.post(f"{url}/themes", data={"theme-label": "Billing errors"}).status_code == 303
    page = client.get(url).get_data(as_text=True)
    assert "Billing errors" in text(page) and "In use" in text(page)
    duplicate = client.post(f"{url}/themes", data={"theme-label": "billing ERRORS"}, headers=HTMX)
    assert duplicate.status_code == 422
    assert field_error(duplicate.get_data(as_text=True), "theme-label") == "There is already a theme with this name."
    theme_id = page.split(f"{url}/themes/")[1].split("/")[0]
    client.post(f"{url}/themes/{theme_id}/retire")
    assert "Retired" in text(client.get(url).get_data(as_text=True))
    client.post(f"{url}/themes/{theme_id}/restore")
    summaries = [entry.summary for entry in audit_entries(app, org["tenant_id"])]
    assert "Added the theme “Billing errors”" in summaries and "Retired the theme “Billing errors”" in summaries


def test_recovery_settings_are_saved_checked_and_audited(app, org, as_member):
    client = as_member("admin")
    url = f"/t/{org['slug']}/settings/feedback/recovery"
    bad = client.post(url, data={"recovery-resurvey_enabled": "y", "recovery-resurvey_delay_days": "0"}, headers=HTMX)
    assert bad.status_code == 422
    assert field_error(bad.get_data(as_text=True), "recovery-resurvey_delay_days") == "Choose between 1 and 365 days."
    assert client.post(url, data={"recovery-resurvey_enabled": "y", "recovery-resurvey_delay_days": "14"}).status_code == 303
    with app.app_context(), tenant_context(org["tenant_id"]):
        settings = get_settings()
        assert (settings.resurvey_enabled, settings.resurvey_delay_days) == (True, 14)
        db.session.remove()
    entry = audit_entries(app, org["tenant_id"])[-1]
    assert entry.summary == "Changed the recovery re-survey"
    assert entry.changes["resurvey_delay_days"] == [30, 14]


def test_managers_may_look_but_not_change(app, org, as_member):
    client = as_member("manager")
    page = client.get(f"/t/{org['slug']}/settings/feedback")
    assert page.status_code == 200 and "Save re-survey" not in page.get_data(as_text=True)
    assert client.post(f"/t/{org['slug']}/settings/feedback/themes", data={"theme-label": "X"}).status_code == 403
