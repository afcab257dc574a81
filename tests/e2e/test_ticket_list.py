"""The ticket list in Chromium: a filter updates the table through htmx without a reload, tickets are
assigned in bulk, a view is saved and opened again, and on a 375 px phone the page is no wider than the screen."""
import re

import pytest
from playwright.sync_api import expect

from tests.support.data import PASSWORD, add_member, answer, make_contact, make_org, slug_of

pytestmark = pytest.mark.e2e

PHONE = {"width": 375, "height": 740}


def _organisation(app) -> str:
    tenant_id, _ = make_org(app, "Harbour Billing", email="owner@harbour.example")
    add_member(app, tenant_id, "agent", "Alex Agent", "alex@harbour.example")
    add_member(app, tenant_id, "manager", "Mia Manager", "mia@harbour.example")
    comments = {"Dana Whitfield": "The refund never came", "Eli Marsh": "Nobody called back",
                "Fay Okafor": "Invoices were wrong twice"}
    for name, comment in comments.items():
        answer(app, tenant_id, make_contact(app, tenant_id, name), 2, comment)
    return slug_of(app, tenant_id)


def _log_in(page, email: str = "alex@harbour.example") -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=re.compile("Tickets|Board", re.I)).first).to_be_visible()


def test_filter_with_htmx_assign_in_bulk_and_save_a_view(app, page):
    slug = _organisation(app)
    _log_in(page)
    page.get_by_role("link", name="Show as a list").click()
    expect(page.get_by_role("heading", name="Ticket list")).to_be_visible()
    table = page.locator("#ticket-list")
    expect(table.locator("tbody tr")).to_have_count(3)

    # Changing a filter swaps the table in place (the page is not reloaded) and puts the filter in the URL.
    page.evaluate("window.notReloaded = true")
    page.get_by_label("Search comments, notes, calls, emails and contact names").fill("refund")
    page.get_by_role("button", name="Apply filters").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("Dana Whitfield")
    expect(page).to_have_url(re.compile(r"q=refund"))
    assert page.evaluate("window.notReloaded") is True
    page.get_by_label("Search comments, notes, calls, emails and contact names").fill("")
    page.get_by_label("Status").select_option(label="Open (not closed)")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(page).to_have_url(re.compile(r"status=open"))
    assert page.evaluate("window.notReloaded") is True

    # Sorting by a column heading, also in place.
    page.wait_for_load_state("networkidle")
    table.get_by_role("link", name=re.compile("^Score")).click()
    expect(table.locator('th[aria-sort="ascending"]')).to_contain_text("Score")
    expect(page).to_have_url(re.compile(r"sort=score"))

    # Bulk assign two ticked tickets.
    page.get_by_text("Act on the ticked tickets").click()
    page.get_by_label("D-0001").check()
    page.get_by_label("D-0002").check()
    page.get_by_label("Assign to").select_option(label="Mia Manager")
    page.get_by_role("button", name="Assign ticked tickets").click()
    expect(page.get_by_role("status")).to_contain_text("2 tickets assigned.")
    for reference in ("D-0001", "D-0002"):
        expect(table.locator("tr", has_text=reference)).to_contain_text("Mia Manager")
    assert page.evaluate("window.notReloaded") is True

    # Save the current filters as a view, then open it from the list of views.
    page.get_by_label("Assignee", exact=True).select_option(label="Mia Manager")
    expect(table.locator("tbody tr")).to_have_count(2)
    page.get_by_label("Name of this view").fill("Mia's open tickets")
    page.get_by_role("button", name="Save these filters as a view").click()
    expect(page.get_by_role("status")).to_contain_text("View “Mia's open tickets” saved.")
    page.goto(f"/t/{slug}/tickets/")
    expect(table.locator("tbody tr")).to_have_count(3)
    page.get_by_role("link", name="Mia's open tickets", exact=True).click()
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(page.get_by_label("Assignee", exact=True)).to_have_value(re.compile(r"\d+"))


def test_the_list_works_without_javascript(app, browser, live_server):
    _organisation(app)
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    page = context.new_page()
    try:
        _log_in(page)
        page.get_by_role("link", name="Ticket list").first.click()
        page.get_by_label("Search comments, notes, calls, emails and contact names").fill("okafor")
        page.get_by_role("button", name="Apply filters").click()
        expect(page.locator("#ticket-list tbody tr")).to_have_count(1)
        expect(page).to_have_url(re.compile(r"q=okafor"))
        page.get_by_label("D-0003").check()
        page.get_by_text("Act on the ticked tickets").click()
        page.get_by_label("Move to").select_option(label="Action plan")
        page.get_by_role("button", name="Move ticked tickets").click()
        expect(page.get_by_role("status")).to_contain_text("1 ticket moved to Action plan.")
        expect(page.locator("#ticket-list tbody tr")).to_contain_text("Action plan")
    finally:
        context.close()


def test_the_list_is_no_wider_than_a_phone(app, browser, live_server):
    slug = _organisation(app)
    context = browser.new_context(base_url=live_server, viewport=PHONE)
    page = context.new_page()
    try:
        _log_in(page)
        for path in (f"/t/{slug}/tickets/", f"/t/{slug}/tickets/?status=open&sort=due", f"/t/{slug}/"):
            page.goto(path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} is {width} px wide"
        page.goto(f"/t/{slug}/tickets/")
        expect(page.get_by_role("button", name="Apply filters")).to_be_visible()
        expect(page.get_by_label("D-0001")).to_be_visible()
    finally:
        context.close()
