"""An agent's day with accounts in real Chromium: create a company with a manager on its team, add two contacts
to it, answer a survey as one of them with a detractor score, find the ticket in the ticket list by its account,
send the second-outreach email from the composer, mark the company at risk from the ticket and close the ticket
with two root causes ticked."""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.contacts.models import Contact
from app.extensions import db
from app.tenancy import tenant_context
from tests.support.data import PASSWORD, add_member, make_invitation, make_org, slug_of
from tests.support.mail import outbox

pytestmark = pytest.mark.e2e


def _contact_id(app, tenant_id: int, email: str) -> int:
    with app.app_context(), tenant_context(tenant_id):
        contact_id = db.session.execute(select(Contact.id).where(Contact.email == email)).scalar_one()
        db.session.remove()
    return contact_id


def _add_contact(page, slug: str, name: str, email: str) -> None:
    page.goto(f"/t/{slug}/contacts/")
    page.get_by_role("button", name="Add contact").click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Company", exact=True).fill("Lakeside Orthopedics")
    page.get_by_role("button", name="Add contact").click()
    expect(page.get_by_text(name).first).to_be_visible()


def test_an_agent_works_a_detractor_at_a_company_from_the_list_to_closing(app, page, browser, live_server):
    tenant_id, _ = make_org(app, "Summit Billing", email="robin@summit.example")
    add_member(app, tenant_id, "agent", "Alex Agent", "alex@summit.example")
    add_member(app, tenant_id, "manager", "Mia Manager", "mia@summit.example")
    slug = slug_of(app, tenant_id)

    page.goto("/login")
    page.get_by_label("Email").fill("alex@summit.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(rf"/t/{slug}/"))

    # A company with a manager on its team.
    page.get_by_role("link", name="Companies").click()
    page.get_by_role("button", name="Add company").click()
    page.get_by_label("Name").fill("Lakeside Orthopedics")
    page.get_by_role("button", name="Add company").click()
    expect(page.get_by_text("Company added.")).to_be_visible()
    page.get_by_text("Add someone to the team").click()
    page.get_by_label("Member").select_option(label="Mia Manager")
    page.get_by_label("Function").select_option(label="Manager")
    page.get_by_role("button", name="Add to team").click()
    expect(page.get_by_text("Mia Manager — Manager")).to_be_visible()

    # Two contacts at it; one answers with a detractor score.
    _add_contact(page, slug, "Dana Whitfield", "dana@lakeside.example")
    _add_contact(page, slug, "Pat Partner", "pat@lakeside.example")
    token = make_invitation(app, tenant_id, _contact_id(app, tenant_id, "dana@lakeside.example"))
    respondent = browser.new_context(base_url=live_server).new_page()
    respondent.goto(f"/s/{token}?score=3")
    respondent.get_by_label(re.compile("what was missing or disappointing")).fill("Our denials sat for a month.")
    respondent.get_by_role("button", name="Send feedback").click()
    expect(respondent.get_by_role("heading", name="Thank you for your feedback")).to_be_visible()
    respondent.context.close()

    # The ticket list, filtered on the company.
    page.goto(f"/t/{slug}/tickets/")
    page.get_by_label("Account", exact=True).fill("Lakeside")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("row", name=re.compile("D-0001"))).to_contain_text("Lakeside Orthopedics")
    page.get_by_role("row", name=re.compile("D-0001")).get_by_role("link", name="Dana Whitfield").click()
    expect(page.get_by_text("Our denials sat for a month.")).to_be_visible()

    # The second outreach, from the composer.
    page.get_by_role("link", name="Email", exact=True).click()
    expect(page.get_by_label("To", exact=True)).to_have_value("dana@lakeside.example")
    page.get_by_role("button", name="Send email").click()
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Alex Agent sent an email to dana@lakeside.example")
    [message] = outbox(app, tenant_id, "personal_email")
    assert (message.to_address, message.reply_to) == ("dana@lakeside.example", "alex@summit.example")

    # Save / At risk.
    panel = page.locator("#account-panel")
    panel.get_by_text("Save / At risk").click()
    page.get_by_label("Why is the account at risk?").fill("Threatening to leave over denials")
    page.get_by_role("button", name="Mark account at risk").click()
    expect(page.locator("#account-panel .status-pill")).to_have_text("At risk")

    # Closed with two root causes.
    page.get_by_text("Close this ticket…").click()
    page.get_by_label("Outcome", exact=True).select_option("resolved")
    page.get_by_label("Billing errors", exact=True).check()
    page.get_by_label("Communication", exact=True).check()
    page.get_by_label("Closing note").fill("Denials reworked with the billing team; Dana is satisfied.")
    page.get_by_role("button", name="Close ticket").click()
    expect(timeline).to_contain_text("closed the ticket: Resolved.")
    page.goto(f"/t/{slug}/tickets/?status=closed")
    row = page.get_by_role("row", name=re.compile("D-0001"))
    expect(row).to_contain_text("Lakeside Orthopedics")
