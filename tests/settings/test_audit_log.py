"""The settings audit log page: admins only, newest first, paginated, filtered by area and person."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from app.extensions import db
from app.settings.models import AuditEntry
from app.tenancy import tenant_context
from tests.support.data import login
from tests.support.html import options

HTMX = {"HX-Request": "true"}
START = datetime(2026, 7, 1, 16, 0, tzinfo=timezone.utc)  # 12:00 in New York (summer time)


def url(org, query: str = "") -> str:
    return f"/t/{org['slug']}/settings/audit_log{query}"


def add_entries(app, tenant_id: int, *entries: tuple) -> None:
    """Insert ``(area, summary, actor_id, changes, minutes after START)`` audit entries."""
    with app.app_context(), tenant_context(tenant_id):
        for area, summary, actor_id, changes, minutes in entries:
            db.session.add(AuditEntry(area=area, summary=summary, actor_id=actor_id, changes=changes,
                                      created_at=START + timedelta(minutes=minutes)))
        db.session.commit()
        db.session.remove()


def summaries(html: str) -> list[str]:
    return re.findall(r"<p><strong>(.*?)</strong></p>", html)


def test_admin_sees_who_when_and_each_fields_before_and_after_newest_first(app, client, org):
    add_entries(app, org["tenant_id"],
                ("sla", "Changed SLA windows", org["admin"],
                 {"first_contact_target_hours": [24, 8], "business_hours_only": [True, False]}, 0),
                ("roles", "Added recipient role Office Lead", org["admin"], {"name": [None, "Office Lead"]}, 5))
    login(client, app, org["admin"])
    response = client.get(url(org))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert summaries(html) == ["Added recipient role Office Lead", "Changed SLA windows"]
    assert "Ada Admin" in html and "01 Jul 2026, 12:05" in html and "01 Jul 2026, 12:00" in html
    assert re.search(r'First contact target hours:</strong> <span class="before">24</span> → <span class="after">8</span>', html)
    assert re.search(r'Business hours only:</strong> <span class="before">Yes</span> → <span class="after">No</span>', html)
    assert re.search(r'Name:</strong> <span class="before"><span class="muted">\(none\)</span></span> → '
                     r'<span class="after">Office Lead</span>', html)


def test_real_settings_changes_appear_in_the_log(app, client, org):
    login(client, app, org["admin"])
    client.post(f"/t/{org['slug']}/settings/roles", data={"new-name": "Office Lead"})
    client.post(f"/t/{org['slug']}/settings/root_causes", data={"new-label": "Eligibility"})
    html = client.get(url(org)).get_data(as_text=True)
    assert summaries(html) == ["Added root cause Eligibility", "Added recipient role Office Lead"]


def test_the_log_is_paginated(app, client, org):
    add_entries(app, org["tenant_id"], *[("roles", f"Change {n:02d}", org["admin"], {"n": [n, n + 1]}, n)
                                         for n in range(35)])
    login(client, app, org["admin"])
    first = client.get(url(org)).get_data(as_text=True)
    assert summaries(first)[0] == "Change 34" and len(summaries(first)) == 30
    assert "Page 1 of 2 (35 in all)" in first
    second = client.get(url(org, "?page=2")).get_data(as_text=True)
    assert summaries(second) == ["Change 04", "Change 03", "Change 02", "Change 01", "Change 00"]


def test_the_log_filters_by_area_and_by_person(app, client, org):
    add_entries(app, org["tenant_id"],
                ("roles", "Admin role change", org["admin"], {}, 0),
                ("sla", "Admin SLA change", org["admin"], {}, 1),
                ("sla", "Manager SLA change", org["manager"], {}, 2),
                ("cadence", "Unattributed change", None, {}, 3))
    login(client, app, org["admin"])
    html = client.get(url(org)).get_data(as_text=True)
    assert {"SLA windows", "Recipient roles"} <= set(options(html, "area"))
    assert "Mia Manager" in options(html, "actor")
    assert "The system" in html
    assert summaries(client.get(url(org, "?area=sla")).get_data(as_text=True)) == [
        "Manager SLA change", "Admin SLA change"]
    assert summaries(client.get(url(org, f"?actor={org['admin']}")).get_data(as_text=True)) == [
        "Admin SLA change", "Admin role change"]
    fragment = client.get(url(org, f"?area=sla&actor={org['admin']}"), headers=HTMX).get_data(as_text=True)
    assert summaries(fragment) == ["Admin SLA change"] and "<h1>" not in fragment
    assert summaries(client.get(url(org, "?area=nonsense&actor=abc")).get_data(as_text=True))[0] == "Unattributed change"


def test_filters_that_match_nothing_say_so(app, client, org):
    add_entries(app, org["tenant_id"], ("roles", "Admin role change", org["admin"], {}, 0),
                ("sla", "Manager SLA change", org["manager"], {}, 1))
    login(client, app, org["admin"])
    html = client.get(url(org, f"?area=roles&actor={org['manager']}")).get_data(as_text=True)
    assert summaries(html) == [] and "No entries match these filters." in html


def test_an_organisation_with_no_changes_says_so(app, client, org):
    login(client, app, org["admin"])
    assert "No settings have been changed yet." in client.get(url(org)).get_data(as_text=True)


def test_managers_and_agents_may_not_read_the_audit_log(app, client, org):
    for role in ("manager", "agent", "viewer"):
        login(client, app, org[role])
        assert client.get(url(org)).status_code == 403


def test_another_organisations_entries_and_people_never_appear(app, client, org, other_org):
    add_entries(app, org["tenant_id"], ("roles", "Acme change", org["admin"], {}, 0))
    add_entries(app, other_org["tenant_id"], ("roles", "Bayside secret change", other_org["admin"], {}, 1))
    login(client, app, org["admin"])
    html = client.get(url(org)).get_data(as_text=True)
    assert summaries(html) == ["Acme change"]
    assert "Bayside" not in html and options(html, "actor") == ["Everyone", "Ada Admin"]
    assert summaries(client.get(url(org, f"?actor={other_org['admin']}")).get_data(as_text=True)) == ["Acme change"]
    outsider = app.test_client()
    login(outsider, app, other_org["admin"])
    assert outsider.get(url(org)).status_code == 404
