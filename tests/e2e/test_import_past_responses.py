"""In Chromium, a manager imports a CSV of past responses with one bad row: the preview names the problem and
says how each date was read, the import runs in the worker with a progress bar that fills and stops, and the
summary counts the responses recorded, rejected and the tickets opened."""

import pytest
from playwright.sync_api import expect

from tests.e2e.screens import sign_in

from tests.support.data import PASSWORD, add_member, make_org, slug_of

pytestmark = pytest.mark.e2e

ROWS = 1200


def _file(tmp_path):
    lines = ["Answered date,Email,Name,Score,Comment"]
    lines.append("2025-02-03,ann@client.example,Ann Able,9,Always helpful")
    lines.append("2025-02-04,ben@client.example,Ben Bell,eleven,")
    lines.append("14/02/2025,cat@client.example,Cat Cole,3,Invoices were late")
    lines += [f"2025-03-{1 + n % 28:02d},person{n}@client.example,Person {n},{n % 11},"
              for n in range(ROWS - 3)]
    path = tmp_path / "history.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    return path


def test_manager_imports_past_responses_sees_the_bad_row_and_the_summary(
        app, page, live_server, worker_process, tmp_path):
    tenant_id, _ = make_org(app, "Harbor Billing", email="owner@harbor.example")
    add_member(app, tenant_id, "manager", "Mia Manager", "mia@harbor.example")
    slug = slug_of(app, tenant_id)

    sign_in(page, "mia@harbor.example", PASSWORD, slug)

    page.goto(f"/t/{slug}/imports/")
    page.get_by_label("Past responses").check()
    page.get_by_label("CSV file").set_input_files(_file(tmp_path))
    page.get_by_role("button", name="Upload file").click()

    expect(page.get_by_role("heading", name="Import history.csv")).to_be_visible()
    expect(page.get_by_label("Answered date")).to_have_value("0")
    expect(page.get_by_label("Score (0–10)")).to_have_value("3")
    expect(page.get_by_label("Open tickets for detractors answered in the last N days")).not_to_be_checked()
    preview = page.get_by_role("table", name="Preview of the first rows")
    expect(preview.get_by_role("row").filter(has_text="ben@client.example")).to_contain_text(
        "Score “eleven” is not a whole number from 0 to 10.")
    expect(preview.get_by_role("row").filter(has_text="cat@client.example")).to_contain_text(
        "2025-02-14 (DD/MM/YYYY)")
    expect(page.get_by_text("1 of the first 10 rows has problems")).to_be_visible()

    page.get_by_role("button", name=f"Import {ROWS:,} rows").click()
    bar = page.get_by_role("progressbar")
    expect(bar).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(
        f"Import finished: {ROWS - 1:,} responses recorded, 1 rejected, 0 tickets opened.", timeout=60_000)
    expect(bar).to_have_count(0)
    expect(page.get_by_role("link", name="Download the 1 rejected row with the reasons (CSV)")).to_be_visible()
    expect(page.get_by_role("link", name="Go to Reports")).to_be_visible()
