"""The timezone picker: zones grouped by region with the customers' common zones first, and a search by city
that works without JavaScript."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.accounts.models import Tenant
from app.extensions import db
from tests.support.data import audit_entries, login

SIGNUP = {"organisation": "Harbor Billing Partners", "kind": "billing", "timezone": "America/New_York",
          "name": "Hana Harbor", "email": "hana@harbor.example", "password": "a-long-enough-secret"}


def _tenant_timezone(app) -> str | None:
    """The timezone of the only organisation, or of the first one (the ``org`` fixture's)."""
    with app.app_context():
        zone = db.session.execute(select(Tenant.timezone).order_by(Tenant.id).limit(1)).scalar_one_or_none()
        db.session.remove()
    return zone


def test_sign_up_lists_common_zones_first_then_zones_by_region(client):
    page = client.get("/signup").get_data(as_text=True)
    groups = re.findall(r'<optgroup label="([^"]+)">', page)
    assert groups[0] == "United States and Canada"
    assert {"America", "Europe", "Asia", "Australia", "Pacific"} <= set(groups)
    common = page.split('<optgroup label="United States and Canada">')[1].split("</optgroup>")[0]
    assert re.findall(r">([^<]+)</option>", common)[:5] == [
        "Eastern time (New York)", "Central time (Chicago)", "Mountain time (Denver)",
        "Mountain time, no daylight saving (Phoenix)", "Pacific time (Los Angeles)"]
    europe = page.split('<optgroup label="Europe">')[1].split("</optgroup>")[0]
    assert '<option value="Europe/Paris">Paris</option>' in europe


def test_sign_up_offers_a_search_box_backed_by_a_datalist(client):
    page = client.get("/signup").get_data(as_text=True)
    search = re.search(r'<input type="search" id="timezone-search" name="timezone_search"[^>]*list="([^"]+)"', page)
    assert search and '<label for="timezone-search">Or search for your city</label>' in page
    assert f'<datalist id="{search.group(1)}">' in page
    assert '<option value="America/Chicago">Central time (Chicago) · United States and Canada</option>' in page


def test_a_city_typed_in_the_search_box_wins_over_the_list(client, app):
    response = client.post("/signup", data={**SIGNUP, "timezone_search": "  denver "})
    assert response.status_code == 303
    assert _tenant_timezone(app) == "America/Denver"


def test_a_search_that_names_no_zone_is_refused_next_to_the_field(client, app):
    response = client.post("/signup", data={**SIGNUP, "timezone_search": "Springfield"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="timezone-error"' in page and "No single timezone matches “Springfield”" in page
    assert 'value="Springfield"' in page, "what was typed stays in the box"
    assert _tenant_timezone(app) is None


def test_a_zone_that_is_not_a_timezone_is_refused(client, app):
    response = client.post("/signup", data={**SIGNUP, "timezone": "Mars/Olympus_Mons"})
    assert response.status_code == 422
    assert "Choose a timezone from the list." in response.get_data(as_text=True)
    assert _tenant_timezone(app) is None


def test_an_admin_changes_the_organisations_timezone_with_the_same_picker_and_it_is_audited(app, client, org):
    login(client, app, org["admin"])
    url = f"/t/{org['slug']}/settings/organisation"
    page = client.get(url).get_data(as_text=True)
    assert re.findall(r'<optgroup label="([^"]+)">', page)[0] == "United States and Canada"
    assert '<option selected value="America/New_York">Eastern time (New York)</option>' in page
    assert 'name="timezone_search"' in page

    response = client.post(url, data={"timezone": "America/New_York", "timezone_search": "Phoenix"})
    assert response.status_code == 303
    assert "Timezone saved: times are now shown in America/Phoenix." in client.get(url).get_data(as_text=True)
    assert _tenant_timezone(app) == "America/Phoenix"
    entry = audit_entries(app, org["tenant_id"])[-1]
    assert (entry.summary, entry.changes) == ("Changed the organisation's timezone",
                                              {"timezone": ["America/New_York", "America/Phoenix"]})


def test_managers_see_the_timezone_but_only_admins_change_it(app, client, org):
    login(client, app, org["manager"])
    url = f"/t/{org['slug']}/settings/organisation"
    page = client.get(url).get_data(as_text=True)
    assert "Acme Billing uses <strong>America/New_York</strong>." in page and "Save timezone" not in page
    assert client.post(url, data={"timezone": "Europe/Paris"}).status_code == 403
    assert _tenant_timezone(app) == "America/New_York"
