"""The whole loop in real Chromium: sign up, add a contact, send a survey, answer it from the email's
link as the respondent, see the ticket on the board, log a call and close it. A real worker process
delivers the mail to the SMTP sink."""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.test_signup import confirm_email
from tests.smtp_sink import body_html

pytestmark = pytest.mark.e2e


def _sign_up(page, smtp_sink):
    page.goto("/signup")
    page.get_by_label("Organisation name").fill("Summit Billing Group")
    page.get_by_label("Kind of organisation").select_option("billing")
    page.get_by_label("Your name").fill("Robin Summit")
    page.get_by_label("Work email").fill("robin@summit.example")
    page.get_by_label("Password").fill("summit-secret-42")
    page.get_by_role("button", name="Create organisation").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    confirm_email(page, smtp_sink, "robin@summit.example")
    smtp_sink.clear()


def _add_contact(page):
    page.get_by_role("link", name="Contacts", exact=True).click()
    page.get_by_role("button", name="Add contact").click()
    page.get_by_label("Name").fill("Dana Whitfield")
    page.get_by_label("Email address").fill("dana@lakeside.example")
    page.get_by_label("Company", exact=True).fill("Lakeside Orthopedics")
    page.get_by_role("button", name="Add contact").click()
    expect(page.get_by_text("Dana Whitfield").first).to_be_visible()


def test_whole_loop_from_sign_up_to_closed_ticket(page, browser, live_server, smtp_sink, worker_process):
    _sign_up(page, smtp_sink)
    _add_contact(page)

    page.get_by_role("link", name="Send survey", exact=True).click()
    page.get_by_label(re.compile("Dana Whitfield")).check()
    page.get_by_role("button", name="Send survey to selected contacts").click()
    expect(page.get_by_text(re.compile(r"Survey sent to 1 contact"))).to_be_visible()

    invitation = smtp_sink.wait_for(1, timeout=20)[0]
    assert invitation["To"].addresses[0].addr_spec == "dana@lakeside.example"
    link = re.search(r'href="(http://127\.0\.0\.1:\d+/s/[\w-]+\?score=3)"', body_html(invitation)).group(1)

    respondent = browser.new_context().new_page()
    respondent.goto(link)
    expect(respondent.get_by_label("3", exact=True)).to_be_checked()
    comment = respondent.get_by_label(re.compile("what was missing or disappointing"))
    expect(comment).to_be_visible()
    comment.fill("Our denials sat untouched for a month.")
    respondent.get_by_role("button", name="Send feedback").click()
    expect(respondent.get_by_role("heading", name="Thank you for your feedback")).to_be_visible()
    respondent.context.close()

    messages = smtp_sink.wait_for(3, timeout=20)
    intro = next(m for m in messages if "can we talk" in m["Subject"])
    assert intro["From"].addresses[0].display_name == "Robin Summit"
    assert intro["Reply-To"] == "robin@summit.example"

    page.get_by_role("link", name="Tickets", exact=True).click()
    card = page.locator(".card", has_text="D-0001")
    expect(card).to_contain_text("Dana Whitfield")
    card.get_by_role("link").first.click()
    expect(page.get_by_text("Our denials sat untouched for a month.")).to_be_visible()

    url_before = page.url
    page.get_by_label("How did the call go?").select_option("left_voicemail")
    page.get_by_label("Call notes").fill("Left a voicemail asking for a good time to talk.")
    page.get_by_role("button", name="Log call").click()
    timeline = page.locator("#timeline, .timeline").first
    expect(timeline).to_contain_text("Left a voicemail asking for a good time to talk.")
    expect(page.get_by_text("Contacted").first).to_be_visible()
    assert page.url == url_before, "logging a call swaps the page in place"

    page.get_by_text("Close this ticket…").click()
    page.get_by_label("Outcome").select_option("resolved")
    page.get_by_label("Closing note").fill("Called back, reviewed the denials with the billing team.")
    page.get_by_label("Billing errors", exact=True).check()
    page.get_by_role("button", name="Close ticket").click()
    expect(timeline).to_contain_text("Called back, reviewed the denials with the billing team.")

    page.get_by_role("link", name="Tickets", exact=True).click()
    closed = page.locator(".board-column", has_text="Closed")
    expect(closed.locator(".card", has_text="D-0001")).to_be_visible()
