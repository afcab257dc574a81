"""With JavaScript off, an admin deletes a notification list: the delete control leads to a page that asks,
Cancel keeps the list, and the page's button deletes it."""
import re

import pytest
from playwright.sync_api import expect

from tests.support.data import PASSWORD, make_org, slug_of

pytestmark = pytest.mark.e2e


def test_deleting_a_list_asks_first_even_without_javascript(browser, app, live_server):
    tenant_id, _ = make_org(app, "Acme Billing", email="ada@acme.example")
    slug = slug_of(app, tenant_id)
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Email").fill("ada@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.goto(f"/t/{slug}/settings/notifications")
    page.get_by_role("button", name="Delete list Managers").click()
    expect(page.get_by_role("heading", name="Delete the list “Managers”?")).to_be_visible()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("link", name="Managers", exact=True)).to_be_visible()

    page.get_by_role("button", name="Delete list Managers").click()
    page.get_by_role("button", name="Delete list Managers").click()
    expect(page.get_by_text("Deleted the list “Managers”.")).to_be_visible()
    expect(page.get_by_text(re.compile("No notification lists yet"))).to_be_visible()
    context.close()
