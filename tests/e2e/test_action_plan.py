"""An action plan in real Chromium: a manager applies the organisation's plan to a ticket, ticks items (each
checkbox saves at once), sees the progress on the board, and closes the ticket as resolved with a root cause,
giving the reason the plan is not finished."""
import re

import pytest
from playwright.sync_api import expect

from app.settings.services import DEFAULT_ACTION_PLANS
from tests.support.data import PASSWORD, add_member, answer, make_contact, make_org, slug_of

pytestmark = pytest.mark.e2e

PLAN = next(iter(DEFAULT_ACTION_PLANS))


def test_manager_works_an_action_plan_and_closes_the_ticket_with_a_root_cause(app, page):
    tenant_id, _ = make_org(app, "Harbor Billing", email="owner@harbor.example")
    add_member(app, tenant_id, "agent", "Alex Agent", "alex@harbor.example")
    add_member(app, tenant_id, "manager", "Mia Manager", "mia@harbor.example")
    contact_id = make_contact(app, tenant_id, "Dana Whitfield", account="Lakeside Orthopedics")
    answer(app, tenant_id, contact_id, 3, "Our denials sat untouched for a month.")
    slug = slug_of(app, tenant_id)

    page.goto("/login")
    page.get_by_label("Email").fill("mia@harbor.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(rf"/t/{slug}/"))

    page.locator(".card", has_text="D-0001").get_by_role("link").first.click()
    expect(page.get_by_text("Our denials sat untouched for a month.")).to_be_visible()
    expect(page.get_by_text("No action plan yet.")).to_be_visible()

    url_before = page.url
    page.get_by_label("Plan to apply").select_option(label=PLAN)
    page.get_by_role("button", name="Apply plan").click()
    progress = page.locator(".plan-progress")
    expect(progress).to_have_text("0 of 7 done")
    expect(page.locator(".ticket-facts .status-pill")).to_have_text("Action plan")

    page.get_by_label("Enrollments review", exact=True).check()
    expect(progress).to_have_text("1 of 7 done")
    page.get_by_label("AR review", exact=True).check()
    expect(progress).to_have_text("2 of 7 done")
    expect(page.get_by_label("AR review", exact=True)).to_be_checked()
    assert page.url == url_before, "ticking items swaps the ticket in place"

    page.get_by_role("link", name="Tickets", exact=True).click()
    card = page.locator(".card", has_text="D-0001")
    expect(card).to_contain_text("Action plan 2/7")
    card.get_by_role("link").first.click()

    page.get_by_text("Close this ticket…").click()
    page.get_by_label("Outcome", exact=True).select_option("resolved")
    page.get_by_label("Billing errors", exact=True).check()
    page.get_by_label("Closing note").fill("Reviewed the denials with the billing team; the backlog is cleared.")
    page.get_by_role("button", name="Close ticket").click()
    expect(page.locator("#close-override_reason-error")).to_contain_text("Give the reason")

    page.get_by_label("Reason for closing as resolved with action-plan items open").fill(
        "The remaining reviews are booked with the billing team; the customer is satisfied.")
    page.get_by_role("button", name="Close ticket").click()
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("closed the ticket: Resolved.")
    expect(timeline).to_contain_text("Closed as resolved with 5 action-plan items open")
    expect(page.get_by_role("link", name="Billing errors")).to_be_visible()

    page.get_by_role("link", name="Billing errors").click()
    closed = page.locator(".board-column", has_text="Closed")
    expect(closed).to_contain_text("Root cause: Billing errors")
    expect(closed.locator(".card", has_text="D-0001")).to_be_visible()
