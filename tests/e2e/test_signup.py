"""Sign-up and login in a real browser."""
import re

import pytest
from playwright.sync_api import expect

from tests.smtp_sink import body_text

pytestmark = pytest.mark.e2e


def confirm_email(page, smtp_sink, address: str) -> None:
    """Open the confirmation link emailed to ``address`` and confirm: the browser lands on the board, logged in."""
    message = next(m for m in smtp_sink.wait_for(1, timeout=20) if m["To"].addresses[0].addr_spec == address)
    assert message["Subject"] == "Confirm your email address for Turnaround"
    page.goto(re.search(r"(http://127\.0\.0\.1:\d+/verify/[\w-]+)", body_text(message)).group(1))
    page.get_by_role("button", name="Confirm my email address").click()
    expect(page.get_by_text("Your email address is confirmed")).to_be_visible()


def test_visitor_signs_up_confirms_the_address_and_lands_on_the_empty_board(page, smtp_sink, worker_process):
    page.goto("/")
    page.get_by_role("button", name="Sign up your organisation").click()
    page.get_by_label("Organisation name").fill("Lakeview Physical Therapy")
    page.get_by_label("Kind of organisation").select_option("clinic")
    page.get_by_label("Timezone").select_option("America/Denver")
    page.get_by_label("Your name").fill("Lena Lake")
    page.get_by_label("Work email").fill("lena@lakeview.example")
    page.get_by_label("Password").fill("lakeview-secret-1")
    page.get_by_role("button", name="Create organisation").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    confirm_email(page, smtp_sink, "lena@lakeview.example")
    expect(page).to_have_url(re.compile(r"/t/lakeview-physical-therapy/$"))
    page.get_by_role("button", name="Log out Lena").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_sign_up_errors_show_next_to_the_fields(page):
    page.goto("/signup")
    page.get_by_label("Organisation name").fill("Short Password Clinic")
    page.get_by_label("Your name").fill("Sam")
    page.get_by_label("Work email").fill("not-an-email")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create organisation").click()
    expect(page.locator("#email-error")).to_contain_text("valid email")
    expect(page.locator("#password-error")).to_contain_text("at least 12 characters")
