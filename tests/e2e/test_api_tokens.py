"""An admin creates an API token in Chromium, copies it from the one time it is shown, a program uses it, and
the admin revokes it through the confirmation page — on a phone-sized screen."""
import json
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.support.data import PASSWORD, make_org


def _get(url: str, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())

pytestmark = pytest.mark.e2e


def test_an_admin_creates_uses_and_revokes_a_token(page, app, live_server):
    make_org(app, "Acme Billing", email="ada@acme.example")
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto("/login")
    page.get_by_label("Email").fill("ada@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(page.url.rstrip("/") + "/settings/")
    page.get_by_role("link", name="API", exact=True).click()

    page.get_by_label("Token name").fill("HubSpot sync")
    page.get_by_label("What it may do").select_option("read_write")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("heading", name="Token “HubSpot sync” created")).to_be_visible()
    secret = page.get_by_label("Your new token").input_value()
    assert re.fullmatch(r"ta_[\w-]{43}", secret)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    assert _get(f"{live_server}/api/v1/contacts", secret) == (200, {"data": [], "next_cursor": None})

    page.reload()
    expect(page.get_by_label("Your new token")).to_have_count(0)
    page.get_by_role("link", name="Revoke “HubSpot sync”").click()
    expect(page.get_by_role("heading", name="Revoke the token “HubSpot sync”?")).to_be_visible()
    page.get_by_role("button", name="Revoke token").click()
    expect(page.get_by_text("Token “HubSpot sync” revoked.")).to_be_visible()
    assert _get(f"{live_server}/api/v1/contacts", secret)[0] == 401
