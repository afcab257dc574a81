"""Teams in Chromium on a phone: an admin creates "Customer Success", staffs it and names its manager, sets a
capacity and marks themselves away on the workload page, and chooses the team for routing; no page is wider
than the screen."""
import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.screens import assert_fits
from tests.support.data import PASSWORD, add_member, make_org, slug_of

pytestmark = pytest.mark.e2e



def test_an_admin_builds_a_team_sets_capacity_and_routing_on_a_phone(phone, app):
    tenant_id, _ = make_org(app, "Acme Billing", email="ada@acme.example")
    slug = slug_of(app, tenant_id)
    add_member(app, tenant_id, "agent", "Alex Agent", "alex@acme.example")
    add_member(app, tenant_id, "manager", "Mia Manager", "mia@acme.example")

    phone.goto("/login")
    phone.get_by_label("Email").fill("ada@acme.example")
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Log in").click()
    expect(phone.get_by_role("heading", name=re.compile("Tickets|Board", re.I)).first).to_be_visible()

    phone.goto(f"/t/{slug}/teams/")
    assert_fits(phone)
    phone.get_by_label("Team name").fill("Customer Success")
    phone.get_by_role("button", name="Create team").click()
    expect(phone.get_by_role("heading", name="Customer Success")).to_be_visible()
    phone.get_by_label("Add a member").select_option(label="Alex Agent")
    phone.get_by_role("button", name="Add to Customer Success").click()
    expect(phone.get_by_text("Member added.")).to_be_visible()
    phone.get_by_label("Manager").select_option(label="Mia Manager")
    phone.get_by_role("button", name="Set manager").click()
    expect(phone.get_by_text("Mia Manager manages Customer Success.")).to_be_visible()
    expect(phone.get_by_role("button", name="Remove Alex Agent from Customer Success")).to_be_visible()
    assert_fits(phone)

    phone.get_by_role("link", name=re.compile("Everyone's workload")).click()
    expect(phone.get_by_role("heading", name="Workload")).to_be_visible()
    phone.get_by_label("Capacity of Alex Agent").fill("30")
    phone.get_by_role("button", name="Set capacity of Alex Agent").click()
    expect(phone.get_by_text("Alex Agent can hold 30 open tickets.")).to_be_visible()
    expect(phone.get_by_text("0 of 30")).to_be_visible()
    back = date.today() + timedelta(days=14)
    phone.get_by_label("Away until (the day you are back)").fill(back.isoformat())
    phone.get_by_role("button", name="Mark me away").click()
    expect(phone.get_by_text(f"You are away until {back:%a %d %b %Y}: new tickets pass you by.")).to_be_visible()
    assert_fits(phone)
    phone.get_by_role("button", name="I'm back").click()
    expect(phone.get_by_text("You are available for new tickets.")).to_be_visible()
    phone.screenshot(path="/tmp/routing-workload.png", full_page=True)

    phone.goto(f"/t/{slug}/settings/routing")
    assert_fits(phone)
    phone.get_by_label("Routing team").select_option(label="Customer Success")
    phone.get_by_label("Backlog threshold (open tickets per working member)").fill("80")
    phone.get_by_role("button", name="Save routing").click()
    expect(phone.get_by_text("Routing saved.")).to_be_visible()
    phone.goto(f"/t/{slug}/teams/")
    expect(phone.get_by_text("New tickets go round robin in this team")).to_be_visible()
    assert_fits(phone)
