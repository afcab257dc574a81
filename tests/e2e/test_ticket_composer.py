"""The ticket page's activity composer in real Chromium on a 375 px phone: log a call on the Call tab, preview and
send an email from the Email tab, add a note on the Note tab, without the page ever scrolling sideways; and the
tabs still work with JavaScript off."""
import re

import pytest
from playwright.sync_api import expect

from app.customers.models import CustomerAccount
from app.extensions import db
from app.tenancy import tenant_context
from tests.support.data import PASSWORD, add_member, answer, make_contact, make_org, slug_of
from tests.support.mail import outbox

pytestmark = pytest.mark.e2e

PHONE = {"width": 375, "height": 740}
COMMENT = "Our denials sat untouched for a month and nobody called back."


def _setup(app) -> tuple[int, str]:
    tenant_id, _ = make_org(app, "Summit Billing Group", email="robin@summit.example")
    add_member(app, tenant_id, "agent", "Alex Agent", "alex@summit.example")
    with app.app_context(), tenant_context(tenant_id):
        account = CustomerAccount(name="Lakeside Orthopedics")
        db.session.add(account)
        db.session.commit()
        account_id = account.id
        db.session.remove()
    make_contact(app, tenant_id, "Pat Partner", "pat@lakeside.example", account_id=account_id)
    dana = make_contact(app, tenant_id, "Dana Whitfield", "dana@lakeside.example", account_id=account_id)
    answer(app, tenant_id, dana, 3, COMMENT)
    return tenant_id, slug_of(app, tenant_id)


def _log_in(page) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill("alex@summit.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=re.compile("Tickets|Board", re.I)).first).to_be_visible()


def _fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide"


def _within_screen(locator) -> None:
    box = locator.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box


def test_working_a_ticket_from_the_composer_on_a_phone(app, browser, live_server):
    tenant_id, slug = _setup(app)
    context = browser.new_context(base_url=live_server, viewport=PHONE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    _log_in(page)
    page.goto(f"/t/{slug}/tickets/1")
    url = page.url

    composer = page.locator("#composer")
    expect(page.get_by_text(COMMENT)).to_be_visible()
    expect(composer).to_be_visible()
    _within_screen(page.locator("blockquote.comment"))
    _within_screen(composer)
    _fits(page)

    # Call (the tab the composer opens on)
    expect(page.get_by_role("link", name="Call", exact=True)).to_have_attribute("aria-current", "page")
    page.get_by_label("How did the call go?").select_option("left_voicemail")
    page.get_by_label("Call notes").fill("Left a voicemail asking for a good time to talk.")
    page.get_by_role("button", name="Log call").click()
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Alex Agent called Dana Whitfield: Left voicemail.")
    _fits(page)

    # Email: starts from the second outreach, copies someone at the account, previews, sends
    page.get_by_role("link", name="Email", exact=True).click()
    expect(page.get_by_role("heading", name="Send an email")).to_be_visible()
    expect(page.get_by_label("To", exact=True)).to_have_value("dana@lakeside.example")
    expect(page.get_by_label("Subject", exact=True)).to_have_value("Following up: your feedback to Summit Billing Group")
    expect(page.get_by_label("Message", exact=True)).to_contain_text("Hi Dana,")
    page.get_by_label(re.compile("Pat Partner")).check()
    page.get_by_label("Subject", exact=True).fill("Can we talk this week, {contact.first_name}?")
    _fits(page)
    page.get_by_role("button", name="Preview email").click()
    preview = page.locator("#email-preview")
    expect(preview).to_contain_text("Can we talk this week, Dana?")
    expect(preview).to_contain_text("Reply-To")
    expect(preview).to_contain_text("alex@summit.example")
    expect(preview).to_contain_text("pat@lakeside.example")
    _fits(page)
    page.get_by_role("button", name="Send email").click()
    expect(timeline).to_contain_text(
        "Alex Agent sent an email to dana@lakeside.example (copied to pat@lakeside.example): "
        "“Can we talk this week, Dana?”.")
    expect(page.get_by_role("link", name="Email", exact=True)).to_have_attribute("aria-current", "page")
    [message] = outbox(app, tenant_id, "personal_email")
    assert (message.from_name, message.reply_to) == ("Alex Agent", "alex@summit.example")
    _fits(page)

    # Note
    page.get_by_role("link", name="Note", exact=True).click()
    page.locator("#composer").get_by_label("Note", exact=True).fill("Dana prefers email; Pat is the practice manager.")
    page.get_by_role("button", name="Add note").click()
    expect(timeline).to_contain_text("Dana prefers email; Pat is the practice manager.")
    assert page.url.split("?")[0] == url, "the composer works the ticket in place"
    _fits(page)
    context.close()


def test_the_composer_tabs_work_without_javascript(app, browser, live_server):
    _, slug = _setup(app)
    context = browser.new_context(base_url=live_server, viewport=PHONE, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    _log_in(page)
    page.goto(f"/t/{slug}/tickets/1")
    page.get_by_role("link", name="Email", exact=True).click()
    expect(page).to_have_url(re.compile(r"tab=email"))
    expect(page.get_by_role("button", name="Send email")).to_be_visible()
    page.get_by_role("link", name="Log an email").click()
    expect(page.get_by_role("button", name="Log email")).to_be_visible()
    page.get_by_role("link", name="Task", exact=True).click()
    expect(page.get_by_role("button", name="Add task")).to_be_visible()
    page.get_by_role("link", name="Note", exact=True).click()
    page.locator("#composer").get_by_label("Note", exact=True).fill("Written without JavaScript.")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#timeline")).to_contain_text("Written without JavaScript.")
    _fits(page)
    context.close()
