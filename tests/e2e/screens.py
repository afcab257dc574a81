"""Helpers for browser tests that walk through the product on a given screen size."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1280, "height": 800}


def page_width(page: Page) -> int:
    """How wide the page is laid out, in CSS pixels (wider than the viewport means sideways scrolling)."""
    return page.evaluate("document.documentElement.scrollWidth")


def assert_fits(page: Page) -> None:
    """The page is no wider than its viewport."""
    width = page_width(page)
    assert width <= page.viewport_size["width"], f"{page.url} is {width} px wide"


class WidthCheck:
    """Records every page state wider than the viewport, to report them all at the end of a flow."""

    def __init__(self, page: Page):
        self.page = page
        self.width = page.viewport_size["width"]
        self.too_wide: list[str] = []
        self.checked = 0

    def __call__(self) -> None:
        self.page.wait_for_load_state()
        width = page_width(self.page)
        self.checked += 1
        if width > self.width:
            self.too_wide.append(f"{self.page.url} is {width} px wide")

    def assert_all_fit(self) -> None:
        assert self.checked and not self.too_wide, self.too_wide


def go_to(page: Page, name: str, role: str = "link") -> None:
    """Use a link (or button) of the site's menu, opening the menu first where a small screen folds it."""
    item = page.get_by_role("banner").get_by_role(role, name=name, exact=True)
    if not item.is_visible():
        page.get_by_text("Menu", exact=True).click()
    item.click()


def new_tab(browser, base_url: str, viewport: dict) -> Page:
    """A tab in a fresh browser context (its own cookies) of the given screen size; close it with
    ``tab.context.close()``."""
    context = browser.new_context(base_url=base_url, viewport=viewport)
    context.set_default_timeout(10_000)
    return context.new_page()


def sign_in(page: Page, email: str, password: str, slug: str = r"[\w-]+") -> None:
    """Log in through the login page and wait for the home of the organisation ``slug``."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(rf"/t/{slug}/"))
