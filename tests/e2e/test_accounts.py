"""Accounts in real Chromium on a 375 px phone: an agent adds a company with a manager on its team, the contact's
ticket shows it, "Save / At risk" marks it at risk without a reload, and no accounts page is wider than the screen."""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.screens import PHONE, page_width
from tests.support.data import PASSWORD, add_member, answer, make_contact, make_org, slug_of

pytestmark = pytest.mark.e2e

LONG_NAME = "Lakeside" + "Orthopedics" * 12


def test_an_agent_adds_a_company_and_marks_it_at_risk_from_the_ticket_on_a_phone(phone, app):
    tenant_id, _ = make_org(app, "Harbor Billing", email="owner@harbor.example")
    add_member(app, tenant_id, "agent", "Alex Agent", "alex@harbor.example")
    add_member(app, tenant_id, "manager", "Mia Manager", "mia@harbor.example")
    slug = slug_of(app, tenant_id)

    phone.goto("/login")
    phone.get_by_label("Email").fill("alex@harbor.example")
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Log in").click()
    expect(phone).to_have_url(re.compile(rf"/t/{slug}/"))
    phone.get_by_text("Menu", exact=True).click()
    phone.get_by_role("link", name="Companies").click()
    phone.get_by_role("button", name="Add company").click()
    phone.get_by_label("Name").fill(LONG_NAME)
    phone.get_by_label("External ID").fill("HS-1042")
    phone.get_by_label("Account owner").select_option(label="Mia Manager")
    phone.get_by_role("button", name="Add company").click()
    expect(phone.get_by_text("Company added.")).to_be_visible()
    phone.get_by_text("Add someone to the team").click()
    phone.get_by_label("Member").select_option(label="Mia Manager")
    phone.get_by_label("Function").select_option(label="Manager")
    phone.get_by_role("button", name="Add to team").click()
    expect(phone.get_by_text("Mia Manager — Manager")).to_be_visible()
    account_url = phone.url
    assert page_width(phone) <= PHONE["width"], f"the company page is {page_width(phone)} px wide"

    contact_id = make_contact(app, tenant_id, "Dana Whitfield", account=LONG_NAME)
    answer(app, tenant_id, contact_id, 3, "Our denials sat untouched for a month.")
    phone.goto(f"/t/{slug}/")
    phone.locator(".card", has_text="D-0001").get_by_role("link").first.click()
    panel = phone.locator("#account-panel")
    expect(panel.get_by_role("link", name=LONG_NAME)).to_be_visible()
    expect(panel.locator(".status-pill")).to_have_text("Active")
    panel.get_by_text("Save / At risk").click()
    url_before = phone.url
    panel.get_by_role("button", name="Mark account at risk").click()
    expect(phone.get_by_text("Say why the account is at risk.")).to_be_visible()
    phone.get_by_label("Why is the account at risk?").fill("Threatening to leave over denials")
    phone.get_by_role("button", name="Mark account at risk").click()
    expect(phone.locator("#account-panel .status-pill")).to_have_text("At risk")
    expect(phone.get_by_text("marked " + LONG_NAME + " at risk", exact=False)).to_be_visible()
    assert phone.url == url_before
    assert page_width(phone) <= PHONE["width"], f"the ticket page is {page_width(phone)} px wide"

    for path in (account_url, f"/t/{slug}/accounts/", f"/t/{slug}/contacts/", f"/t/{slug}/profile/"):
        assert phone.goto(path).ok, path
        assert page_width(phone) <= PHONE["width"], f"{path} is {page_width(phone)} px wide"
    phone.goto(account_url)
    expect(phone.get_by_text("Threatening to leave over denials").first).to_be_visible()
