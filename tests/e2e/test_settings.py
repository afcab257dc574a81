"""An admin reshapes the survey in Chromium — score bands, a follow-up question, the invitation email
with its live preview — and a respondent then answers a survey that shows the new texts."""
import re

import pytest
from playwright.sync_api import expect

from tests.smtp_sink import body_html
from tests.support.data import PASSWORD, make_contact, make_org, slug_of

pytestmark = pytest.mark.e2e


def _log_in(page, email):
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_admin_edits_bands_follow_up_and_template_then_a_respondent_sees_them(
        page, browser, app, live_server, smtp_sink, worker_process):
    tenant_id, _ = make_org(app, "Acme Billing", email="ada@acme.example")
    slug = slug_of(app, tenant_id)
    make_contact(app, tenant_id, "Dana Whitfield", "dana@lakeside.example")
    _log_in(page, "ada@acme.example")

    page.get_by_role("link", name="Settings", exact=True).click()
    page.get_by_role("link", name="Scoring").click()
    page.get_by_label("Detractor max").fill("5")
    page.get_by_label("Open a ticket when the score is at most").fill("5")
    page.get_by_role("button", name="Save scoring").click()
    expect(page.get_by_text(re.compile("Scoring saved: 0–5 Detractor · 6–8 Passive"))).to_be_visible()

    page.goto(f"/t/{slug}/settings/survey-content")
    page.get_by_label("Follow-up question for passives").fill("What one thing would make us a 10 for you?")
    page.get_by_label("Thank-you text for passives").fill("Thanks! We read every answer.")
    page.get_by_role("button", name="Save survey texts").click()
    expect(page.locator("#flashes")).to_contain_text(re.compile("saved", re.I))

    page.goto(f"/t/{slug}/settings/email-templates")
    page.get_by_role("link", name="Survey invitation").click()
    page.get_by_label("Subject").fill("A quick question from {organisation}")
    page.get_by_label("Body").fill("Hello {contact.first_name},\n\n{survey.question}\n\n{survey.scores}\n\nThe Acme team")
    preview = page.locator("#template-preview")
    expect(preview).to_contain_text("A quick question from Acme Billing")
    expect(preview.frame_locator("iframe").get_by_text("Hello Dana,")).to_be_visible()
    page.get_by_role("button", name="Save template").click()
    expect(page.locator("#flashes")).to_contain_text(re.compile("saved", re.I))

    page.get_by_role("link", name="Send survey", exact=True).click()
    page.get_by_label(re.compile("Dana Whitfield")).check()
    page.get_by_role("button", name="Send survey to selected contacts").click()
    expect(page.get_by_text("Survey sent to 1 contact.")).to_be_visible()

    invitation = smtp_sink.wait_for(1, timeout=20)[0]
    assert invitation["Subject"] == "A quick question from Acme Billing"
    html = body_html(invitation)
    assert "Hello Dana," in html and "The Acme team" in html
    link = re.search(r'href="(http://127\.0\.0\.1:\d+/s/[\w-]+\?score=6)"', html).group(1)

    respondent = browser.new_context().new_page()
    respondent.goto(link)
    expect(respondent.get_by_label("What one thing would make us a 10 for you?")).to_be_visible()
    respondent.get_by_label("What one thing would make us a 10 for you?").fill("Faster statements.")
    respondent.get_by_role("button", name="Send feedback").click()
    expect(respondent.get_by_text("Thanks! We read every answer.")).to_be_visible()
    respondent.context.close()

    page.get_by_role("link", name="Tickets", exact=True).click()
    expect(page.get_by_text(re.compile("No tickets|no tickets|Send a survey")).first).to_be_visible()


def test_the_scoring_check_marks_a_wrong_value_without_touching_the_field_being_typed_in(page, app, live_server):
    make_org(app, "Acme Billing", email="ada@acme.example")
    _log_in(page, "ada@acme.example")
    page.get_by_role("link", name="Settings", exact=True).click()
    page.get_by_role("link", name="Scoring").click()

    page.get_by_label("Detractor max").fill("9")
    trigger = page.get_by_label("Open a ticket when the score is at most")
    trigger.fill("11")
    trigger.press("Tab")
    expect(page.get_by_text("Detractor max must be below the passive max (8).")).to_be_visible()
    expect(page.get_by_text("The ticket trigger must be a score from 0 to 10.")).to_be_visible()
    expect(page.get_by_text("Correct the value marked above to see the new bands.")).to_be_visible()
    expect(trigger).to_have_value("11")

    trigger.fill("4")
    page.get_by_label("Detractor max").fill("5")
    page.get_by_label("Passive max").click()
    expect(page.get_by_text(re.compile("With these values: 0–5 Detractor · 6–8 Passive"))).to_be_visible()
    expect(page.get_by_text("Detractor max must be below the passive max (8).")).to_have_count(0)
    expect(trigger).to_have_value("4")
    page.get_by_role("button", name="Save scoring").click()
    expect(page.get_by_text(re.compile("Scoring saved: 0–5 Detractor · 6–8 Passive.*scores 0–4"))).to_be_visible()
