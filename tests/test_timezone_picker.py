"""The timezone picker: zones grouped by region with the customers' common zones first, and a search by city
that works without JavaScript."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.accounts.models import Tenant
from app.extensions import db

SIGNUP = {"organisation": "Harbor Billing Partners", "kind": "billing", "timezone": "America/New_York",
          "name": "Hana Harbor", "email": "hana@harbor.example", "password": "a-long-enough-secret"}


def _tenant_timezone(app) -> str | None:
    with app.app_context():
        zone = db.session.execute(select(Tenant.timezone)).scalar_one_or_none()
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
