"""Sign-up and login in a real browser."""
import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_visitor_signs_up_and_lands_on_the_empty_board(page):
    page.goto("/")
    page.get_by_role("button", name="Sign up your organisation").click()
    page.get_by_label("Organisation name").fill("Lakeview Physical Therapy")
    page.get_by_label("Kind of organisation").select_option("clinic")
    page.get_by_label("Timezone").select_option("America/Denver")
    page.get_by_label("Your name").fill("Lena Lake")
    page.get_by_label("Work email").fill("lena@lakeview.example")
    page.get_by_label("Password").fill("lakeview-secret-1")
    page.get_by_role("button", name="Create organisation").click()
    expect(page).to_have_url(re.compile(r"/t/lakeview-physical-therapy/$"))
    expect(page.get_by_text("Lakeview Physical Therapy is ready")).to_be_visible()
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
    expect(page.locator("#password-error")).to_contain_text("at least 8 characters")
