"""A new user's first hour in Chromium, as an outsider trying the product: sign up, log in, find that nothing is
sent until the address is confirmed, confirm it from the email log, add contacts with a recipient role, send them
the survey with the confirmation, answer it as a detractor and open the ticket. On a desktop and on a 375 px
phone, where no page may be wider than the screen."""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.screens import DESKTOP, PHONE, WidthCheck, go_to, new_tab
from tests.smtp_sink import body_html
from tests.support.data import PASSWORD, make_org, slug_of

pytestmark = pytest.mark.e2e

FOUNDER = {"name": "Priya Patel", "email": "priya@northstar.example", "password": "northstar-secret-42"}
CONTACTS = [("Dana Whitfield", "dana@lakeside.example"), ("Omar Haddad", "omar@harbor.example")]


@pytest.fixture(params=[DESKTOP, PHONE], ids=["desktop", "phone"])
def visitor(request, browser, live_server):
    tab = new_tab(browser, live_server, request.param)
    yield tab
    tab.context.close()


def test_first_hour_from_sign_up_to_an_open_ticket(visitor, browser, smtp_sink, worker_process):
    page = visitor
    fits = WidthCheck(page)

    page.goto("/")
    fits()
    page.get_by_role("button", name="Sign up your organisation").click()
    page.get_by_label("Organisation name").fill("Northstar Billing")
    page.get_by_label("Kind of organisation").select_option("billing")
    page.get_by_label("Your name").fill(FOUNDER["name"])
    page.get_by_label("Work email").fill(FOUNDER["email"])
    page.get_by_label("Password").fill(FOUNDER["password"])
    fits()
    page.get_by_role("button", name="Create organisation").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    fits()

    page.get_by_role("main").get_by_role("link", name="log in").first.click()
    page.get_by_label("Email").fill(FOUNDER["email"])
    page.get_by_label("Password").fill(FOUNDER["password"])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=re.compile("Tickets|Board", re.I)).first).to_be_visible()
    fits()

    go_to(page, "Send survey")
    expect(page.get_by_role("heading", name="Confirm the email address to send surveys")).to_be_visible()
    expect(page.get_by_text(re.compile(f"No survey is sent until {FOUNDER['name']}"))).to_contain_text(FOUNDER["email"])
    fits()

    go_to(page, "Email log")
    fits()
    page.get_by_role("link", name="Confirm your email address for Turnaround").click()
    expect(page.get_by_role("heading", name="Text version")).to_be_visible()
    fits()
    page.frame_locator("iframe.email-frame").get_by_role("link", name="Confirm my email address").click()
    expect(page).to_have_url(re.compile(r"/verify/"))
    fits()
    page.get_by_role("button", name="Confirm my email address").click()
    expect(page.get_by_text("Your email address is confirmed")).to_be_visible()
    fits()

    for name, email in CONTACTS:
        go_to(page, "Contacts")
        page.get_by_role("main").get_by_role("button", name="Add contact").click()
        page.get_by_label("Name").fill(name)
        page.get_by_label("Email address").fill(email)
        page.get_by_label("NPS Recipient").check()
        fits()
        page.get_by_role("main").get_by_role("button", name="Add contact").click()
        expect(page.get_by_text(name).first).to_be_visible()
        fits()

    go_to(page, "Send survey")
    expect(page.get_by_role("heading", name="Confirm the email address to send surveys")).to_have_count(0)
    page.get_by_label("Recipient role", exact=True).select_option(label="NPS Recipient (2 contacts)")
    fits()
    page.get_by_role("button", name="Send survey to everyone with this role").click()
    expect(page.get_by_role("status").filter(has_text="This will email")).to_contain_text("This will email 2 contacts")
    fits()
    page.get_by_role("button", name="Send to 2 contacts").click()
    expect(page.get_by_text(re.compile("Survey sent to 2 contacts"))).to_be_visible()
    fits()

    invitation = next(m for m in smtp_sink.wait_for(2, timeout=20) if m["To"].addresses[0].addr_spec == CONTACTS[0][1])
    link = re.search(r'href="(http://127\.0\.0\.1:\d+/s/[\w-]+\?score=2)"', body_html(invitation)).group(1)
    respondent = browser.new_context(viewport=page.viewport_size).new_page()
    respondent_fits = WidthCheck(respondent)
    respondent.goto(link)
    expect(respondent.get_by_label("2", exact=True)).to_be_checked()
    respondent_fits()
    respondent.get_by_label(re.compile("what was missing or disappointing")).fill("Nobody called me back about my bill.")
    respondent.get_by_role("button", name="Send feedback").click()
    expect(respondent.get_by_role("heading", name="Thank you for your feedback")).to_be_visible()
    respondent_fits()
    respondent.context.close()

    go_to(page, "Tickets")
    card = page.locator(".card", has_text="D-0001")
    expect(card).to_contain_text(CONTACTS[0][0])
    fits()
    card.get_by_role("link").first.click()
    expect(page.get_by_text("Nobody called me back about my bill.")).to_be_visible()
    fits()

    fits.assert_all_fit()
    respondent_fits.assert_all_fit()


def test_the_email_log_reads_on_a_phone(browser, live_server, app):
    """Each email is a card of "heading value" lines on a phone, not six columns a letter wide; the state filter's
    label keeps its word whole."""
    tenant_id, _ = make_org(app, "Acme Billing", email="ada.longname@acme-billing.example", verified=False)
    page = new_tab(browser, live_server, PHONE)
    page.goto("/login")
    page.get_by_label("Email").fill("ada.longname@acme-billing.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"/t/{slug_of(app, tenant_id)}/surveys/send")
    page.get_by_role("button", name="Resend verification email").click()
    go_to(page, "Email log")

    address = page.get_by_role("main").get_by_text("ada.longname@acme-billing.example")
    expect(address).to_be_visible()
    line = page.evaluate("parseFloat(getComputedStyle(document.querySelector('main')).lineHeight)")
    assert address.bounding_box()["height"] < 2 * line, "the address is broken over several lines"
    assert page.locator("label", has_text=re.compile("^State$")).bounding_box()["height"] < 2 * line
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.context.close()
