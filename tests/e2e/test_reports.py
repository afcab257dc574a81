"""Reports in real Chromium: a manager opens the NPS overview, widens the period and sees the chart and its
table change, then follows a root-cause bar to the tickets behind it."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.timeutil import utcnow
from tests.reports.support import respond, roll_up
from tests.reports.test_root_causes import close_with
from tests.support.data import PASSWORD, add_member, answer, make_contact, make_org, slug_of
from tests.support.tickets import open_ticket

pytestmark = pytest.mark.e2e


def test_manager_changes_the_period_and_follows_a_root_cause_bar_to_its_tickets(app, page):
    tenant_id, _ = make_org(app, "Quay Billing", email="owner@quay.example")
    manager = add_member(app, tenant_id, "manager", "Mia Manager", "mia@quay.example")
    add_member(app, tenant_id, "agent", "Alex Agent", "alex@quay.example")
    slug = slug_of(app, tenant_id)
    org = {"tenant_id": tenant_id, "slug": slug}
    for name, score in (("Pat Promoter", 10), ("Pam Passive", 8)):
        answer(app, tenant_id, make_contact(app, tenant_id, name), score)
    for name in ("Old Oscar", "Old Olga", "Old Otto"):
        respond(app, tenant_id, make_contact(app, tenant_id, name), 9, utcnow() - timedelta(days=60))
    ticket_id = open_ticket(app, org, "Dee Detractor", score=2)
    close_with(app, tenant_id, ticket_id, manager, "Billing errors")
    roll_up(app)  # past days are read from the rollups the worker's sweep keeps

    page.goto("/login")
    page.get_by_label("Email").fill("mia@quay.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(rf"/t/{slug}/"))

    page.get_by_role("link", name="Reports", exact=True).click()
    expect(page.get_by_role("heading", name="Reports")).to_be_visible()
    expect(page.locator('[data-figure="responses"]')).to_have_text("3")
    trend = page.locator("#trend-table tbody tr")
    expect(trend).to_have_count(5)
    chart = page.locator("svg.chart").first
    expect(chart.locator("text", has_text="n=3")).to_have_count(1)

    page.get_by_label("Period", exact=True).select_option(label="Last 90 days")
    page.get_by_role("button", name="Show period").click()
    expect(page.locator('[data-figure="responses"]')).to_have_text("6")
    expect(page).to_have_url(re.compile(r"period=90"))
    expect(trend.first).to_be_visible()
    assert trend.count() > 5
    expect(page.locator("#trend-table")).to_contain_text("3")
    expect(chart.locator("text", has_text="n=3")).to_have_count(2)

    page.get_by_role("link", name="Root causes").click()
    expect(page.locator("#pareto-table")).to_contain_text("Billing errors")
    page.get_by_role("link", name="Billing errors: 1 ticket").click()
    expect(page).to_have_url(re.compile(r"cause=\d+"))
    expect(page.get_by_text("D-0001").first).to_be_visible()
