"""A password reset from the login page, on a 375 px phone: the emailed link sets a new password that meets the
rules, the old password stops working, and a session opened elsewhere before the reset is logged out."""
import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.screens import PHONE, WidthCheck, go_to, new_tab
from tests.smtp_sink import body_text
from tests.support.data import PASSWORD, make_org

pytestmark = pytest.mark.e2e

EMAIL = "ada@acme.example"
NEW_PASSWORD = "a-brand-new-passphrase"


def _log_in(page: Page, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_forgotten_password_is_reset_from_the_emailed_link(phone, browser, live_server, app, smtp_sink, worker_process):
    make_org(app, "Acme Billing", email=EMAIL)
    elsewhere = new_tab(browser, live_server, PHONE)
    _log_in(elsewhere, PASSWORD)
    expect(elsewhere.get_by_role("heading", name=re.compile("Tickets|Board", re.I)).first).to_be_visible()
    smtp_sink.clear()

    page = phone
    fits = WidthCheck(page)
    page.goto("/login")
    fits()
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    fits()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_role("button", name="Email me a reset link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    expect(page.get_by_text("The link works once, for one hour.")).to_be_visible()
    fits()

    [message] = smtp_sink.wait_for(1, timeout=20)
    assert message["To"].addresses[0].addr_spec == EMAIL
    page.goto(re.search(r"(http://127\.0\.0\.1:\d+/password/reset/[\w-]+)", body_text(message)).group(1))
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    fits()
    new_password = page.get_by_label("New password")
    new_password.fill("too-short")
    page.get_by_role("button", name="Set new password").click()
    expect(new_password).to_have_accessible_description(re.compile("at least 12 characters", re.I))
    fits()
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_text("Your password has been changed, and every other session has been logged out.")).to_be_visible()
    fits()

    elsewhere.reload()
    expect(elsewhere.get_by_role("heading", name="Log in")).to_be_visible()
    elsewhere.context.close()

    go_to(page, "Log out Ada", role="button")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    _log_in(page, PASSWORD)
    expect(page.get_by_text("That email and password do not match an account.")).to_be_visible()
    fits()
    _log_in(page, NEW_PASSWORD)
    expect(page.get_by_role("heading", name=re.compile("Tickets|Board", re.I)).first).to_be_visible()
    fits()

    fits.assert_all_fit()
