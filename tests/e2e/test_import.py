"""In Chromium, a manager imports a contacts CSV with three bad rows: the preview shows each row's problem,
the import runs in the worker with a progress bar that fills and stops, and the rejected rows download as a
CSV with the reason for each."""
import csv
import io
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.screens import sign_in

from tests.support.data import PASSWORD, add_member, make_org, slug_of

pytestmark = pytest.mark.e2e

ROWS = 3000


def _file(tmp_path):
    lines = ["Name,Email,Company,Roles"]
    lines.append("Bad Email,not-an-email,Harbor Clinic,Signer")
    lines.append("Rolf Role,rolf@client.example,Harbor Clinic,Boss")
    lines.append("Ann Able,ann@client.example,Harbor Clinic,NPS Recipient")
    lines.append("Ann Twin,ANN@client.example,Harbor Clinic,")
    lines += [f"Person {n},person{n}@client.example,Practice {n % 40},NPS Recipient" for n in range(ROWS - 4)]
    path = tmp_path / "clients.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    return path


def test_manager_imports_a_csv_sees_the_problems_and_downloads_the_rejected_rows(
        app, page, live_server, worker_process, tmp_path):
    tenant_id, _ = make_org(app, "Harbor Billing", email="owner@harbor.example")
    add_member(app, tenant_id, "manager", "Mia Manager", "mia@harbor.example")
    slug = slug_of(app, tenant_id)

    sign_in(page, "mia@harbor.example", PASSWORD, slug)

    page.get_by_role("link", name="Contacts", exact=True).click()
    page.get_by_role("button", name="Import contacts").click()
    page.get_by_label("CSV file").set_input_files(_file(tmp_path))
    page.get_by_role("button", name="Upload file").click()

    expect(page.get_by_role("heading", name="Import clients.csv")).to_be_visible()
    expect(page.get_by_label("Account name")).to_have_value("2")
    preview = page.get_by_role("table", name="Preview of the first rows")
    expect(preview.get_by_role("row").filter(has_text="not-an-email")).to_contain_text(
        "“not-an-email” is not a valid email address.")
    expect(preview.get_by_role("row").filter(has_text="Rolf Role")).to_contain_text(
        "Unknown recipient role: “Boss”.")
    expect(preview.get_by_role("row").filter(has_text="Ann Twin")).to_contain_text(
        "Duplicate in file: the same email address as row 4.")
    expect(page.get_by_text("3 of the first 10 rows have problems")).to_be_visible()

    page.get_by_role("button", name=f"Import {ROWS:,} rows").click()
    bar = page.get_by_role("progressbar")
    expect(bar).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(
        f"Import finished: {ROWS - 3:,} contacts created, 0 updated, 0 skipped, 3 rows rejected; "
        "41 accounts created.", timeout=30_000)
    expect(bar).to_have_count(0)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the 3 rejected rows with the reasons (CSV)").click()
    download = download_info.value
    rows = list(csv.reader(io.StringIO(download.path().read_text(encoding="utf-8-sig"))))
    assert rows == [
        ["Name", "Email", "Company", "Roles", "Row", "Reason"],
        ["Bad Email", "not-an-email", "Harbor Clinic", "Signer", "2", "“not-an-email” is not a valid email address."],
        ["Rolf Role", "rolf@client.example", "Harbor Clinic", "Boss", "3", "Unknown recipient role: “Boss”."],
        ["Ann Twin", "ANN@client.example", "Harbor Clinic", "", "5",
         "Duplicate in file: the same email address as row 4."],
    ]

    page.get_by_role("link", name="Go to Contacts").click()
    expect(page.get_by_text(f"{500}+ contacts")).to_be_visible()


def test_the_import_pages_fit_a_phone(app, browser, live_server, tmp_path):
    tenant_id, _ = make_org(app, "Harbor Billing", email="owner@harbor.example")
    slug = slug_of(app, tenant_id)
    context = browser.new_context(base_url=live_server, viewport={"width": 375, "height": 740})
    context.set_default_timeout(10_000)
    phone = context.new_page()
    try:
        phone.goto("/login")
        phone.get_by_label("Email").fill("owner@harbor.example")
        phone.get_by_label("Password").fill(PASSWORD)
        phone.get_by_role("button", name="Log in").click()
        expect(phone).to_have_url(re.compile(rf"/t/{slug}/"))
        phone.goto(f"/t/{slug}/imports/")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375
        path = tmp_path / ("clients-" + "x" * 80 + ".csv")
        path.write_text("Name,Email,Company,Notes\n"
                        f"Ann Able,ann.{'y' * 70}@client.example,{'Harbor' * 20},{'z' * 200}\n", encoding="utf-8")
        phone.get_by_label("CSV file").set_input_files(path)
        phone.get_by_role("button", name="Upload file").click()
        expect(phone.get_by_role("button", name="Import 1 row", exact=True)).to_be_visible()
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        context.close()
