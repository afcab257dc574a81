"""Closing a ticket twice in real Chromium: a double-click on "Close ticket", and the same form sent twice at
once without htmx, each leave one "closed" entry in the timeline."""
import re

import pytest
from playwright.sync_api import expect

from tests.support.data import PASSWORD, add_member, answer, make_contact, make_org, slug_of

pytestmark = pytest.mark.e2e


def _fill_close_form(page) -> None:
    page.get_by_text("Close this ticket…").click()
    page.get_by_label("Outcome", exact=True).select_option("not_resolved")
    page.get_by_label("Billing errors", exact=True).check()
    page.get_by_label("Closing note").fill("Agreed a credit on the next invoice.")


def test_closing_twice_closes_once(app, page):
    tenant_id, _ = make_org(app, "Pier Billing", email="owner@pier.example")
    add_member(app, tenant_id, "agent", "Alex Agent", "alex@pier.example")
    for name in ("Dana Whitfield", "Eli Marsh"):
        answer(app, tenant_id, make_contact(app, tenant_id, name), 2, "Nobody called back.")
    slug = slug_of(app, tenant_id)

    page.goto("/login")
    page.get_by_label("Email").fill("alex@pier.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(rf"/t/{slug}/"))

    # A double-click on the button, through htmx.
    page.goto(f"/t/{slug}/tickets/1")
    _fill_close_form(page)
    page.get_by_role("button", name="Close ticket").dblclick()
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("closed the ticket: Not resolved.")
    page.reload()
    expect(page.locator("#timeline li", has_text="closed the ticket")).to_have_count(1)

    # The same form posted twice at the same moment, as a browser without JavaScript might on a double
    # click: both answers take the person back to the ticket, which is closed once.
    page.goto(f"/t/{slug}/tickets/2")
    _fill_close_form(page)
    statuses = page.locator("#action-close form").evaluate("""async form => {
        const send = () => fetch(form.action, {method: "POST", body: new FormData(form)});
        const answers = await Promise.all([send(), send()]);
        return answers.map(answer => [answer.status, new URL(answer.url).pathname]);
    }""")
    assert statuses == [[200, f"/t/{slug}/tickets/2"]] * 2
    page.reload()
    expect(page.locator("#timeline li", has_text="closed the ticket")).to_have_count(1)
    expect(page.locator(".ticket-facts .status-pill")).to_have_text("Closed")
