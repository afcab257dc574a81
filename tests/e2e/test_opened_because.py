"""In Chromium on a 375 px phone: a ticket opened by a trigger question answered No says so on its board card
and on its page, and a long question wraps instead of widening the page."""
import re

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.surveys import services as surveys
from app.tenancy import tenant_context
from tests.support.data import PASSWORD, make_contact, make_invitation, make_org, slug_of
from tests.surveys.test_extra_questions import make_question

pytestmark = pytest.mark.e2e

PHONE = {"width": 375, "height": 740}
QUESTION = "Do you feel prepared to begin treatment with the Zyntheralimab-Subcutaneous-Autoinjector-Programme?"


def _promoter_answers_no(app, tenant_id: int, question_id: int) -> None:
    token = make_invitation(app, tenant_id, make_contact(app, tenant_id, "Nina Nine"))
    with app.app_context():
        invitation = surveys.find_invitation(token)
        with tenant_context(tenant_id):
            surveys.record_answer(invitation, 9, "Nobody explained the injections", answers={question_id: "no"})
            db.session.commit()
        db.session.remove()


def test_why_a_ticket_opened_shows_on_the_card_and_the_ticket_page_of_a_phone(browser, live_server, app):
    tenant_id, _ = make_org(app, "Helix Patient Support", kind="programme", email="ada@helix.example")
    slug = slug_of(app, tenant_id)
    _promoter_answers_no(app, tenant_id, make_question(app, tenant_id, QUESTION, opens_ticket_on_no=True))
    context = browser.new_context(base_url=live_server, viewport=PHONE)
    context.set_default_timeout(10_000)
    phone = context.new_page()
    try:
        phone.goto("/login")
        phone.get_by_label("Email").fill("ada@helix.example")
        phone.get_by_label("Password").fill(PASSWORD)
        phone.get_by_role("button", name="Log in").click()
        card = phone.locator("li.card").filter(has_text="D-0001")
        expect(card).to_contain_text(f"{QUESTION} — No")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        card.get_by_role("link", name="D-0001").click()
        expect(phone.get_by_text(re.compile(r"^Why it opened:"))).to_be_visible()
        expect(phone.locator("#ticket-why")).to_have_text(f"Why it opened: {QUESTION} — No")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert f"/t/{slug}/tickets/" in phone.url
    finally:
        context.close()
