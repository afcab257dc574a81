"""The feedback inbox in real Chromium: a manager narrows the list to passives, marks one reviewed (the row
updates in place), and downloads the responses CSV of the filtered list."""
import csv
import io
import re

import pytest
from playwright.sync_api import expect

from tests.support.data import PASSWORD, add_member, answer, make_contact, make_org, slug_of

pytestmark = pytest.mark.e2e


def test_manager_marks_a_response_reviewed_and_downloads_the_responses_csv(app, page):
    tenant_id, _ = make_org(app, "Harbor Billing", email="owner@harbor.example")
    add_member(app, tenant_id, "manager", "Mia Manager", "mia@harbor.example")
    answer(app, tenant_id, make_contact(app, tenant_id, "Pat Passive"), 7, "Fine, but the portal is slow.")
    answer(app, tenant_id, make_contact(app, tenant_id, "Pia Promoter"), 10, "Brilliant team.")
    slug = slug_of(app, tenant_id)

    page.goto("/login")
    page.get_by_label("Email").fill("mia@harbor.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(rf"/t/{slug}/"))

    page.get_by_role("link", name="Feedback").click()
    expect(page.get_by_role("heading", name="Feedback")).to_be_visible()
    page.get_by_label("Band").select_option(label="Passive")
    expect(page).to_have_url(re.compile(r"band=passive"))
    responses = page.get_by_role("list", name="Responses")
    expect(responses.get_by_role("listitem")).to_have_count(1)
    expect(responses).to_contain_text("Fine, but the portal is slow.")
    expect(responses).not_to_contain_text("Brilliant team.")

    url_before = page.url
    responses.get_by_role("button", name="Mark as reviewed").click()
    expect(responses).to_contain_text("Reviewed by Mia Manager")
    expect(responses.get_by_role("button", name="Mark as not reviewed")).to_be_visible()
    assert page.url == url_before  # updated in place

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download responses (CSV)").click()
    download = download_info.value
    assert download.suggested_filename == "responses.csv"
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    assert [(row["Contact"], row["Score"], row["Comment"]) for row in rows] == [
        ("Pat Passive", "7", "Fine, but the portal is slow.")]
    assert rows[0]["Reviewed at"]

    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"/t/{slug}/feedback/")
    expect(page.get_by_role("list", name="Responses")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
