"""Every row of a file is accounted for: blank lines (every cell empty) are not rows, so the preview, the run
button, the progress and the final summary count the same rows, and the summary says how many blank lines
were ignored."""
from __future__ import annotations

import io
import re

from sqlalchemy import update

from app.extensions import db
from app.imports.models import ContactImport
from tests.imports.helpers import HEADER, post_mapping, run_worker, state, upload, uploaded_id
from tests.support.data import login
from tests.support.html import buttons, table_rows, text

# A good row, a bad email address, a blank line, and a repeat of the good row.
FOUR_ROWS = HEADER + (
    "Ann Able,ann@client.example,,,,,\n"
    "Bad Email,not-an-email,,,,,\n"
    ",,,,,,\n"
    "Ann Again,ANN@client.example,,,,,\n"
)


def _status(html: str) -> str:
    """The text of the page's status line (the preview's verdict, or the import's outcome)."""
    return text(re.search(r'<p role="status">(.*?)</p>', html, re.S).group(1))


def test_the_preview_the_button_and_the_summary_count_the_same_rows_and_name_the_blank_line(client, app, org):
    login(client, app, org["manager"])
    import_id = uploaded_id(upload(client, org, FOUR_ROWS))
    page = client.get(f"/t/{org['slug']}/imports/{import_id}").get_data(as_text=True)

    assert [row[0] for row in table_rows(page, "preview-table")] == ["2", "3", "5"]
    assert _status(page) == ("2 of the first 3 rows have problems; they will be rejected and listed in a file you "
                             "can download. 1 blank line among them will be ignored.")
    assert "Import 3 rows" in buttons(page)
    assert "Contacts and accounts · 3 rows ·" in text(page)

    started = post_mapping(client, org, import_id, "run")
    assert started.status_code == 303
    progress = client.get(started.headers["Location"]).get_data(as_text=True)
    assert "Importing 3 rows from contacts.csv." in text(progress)
    assert "Imported 0 of 3 rows" in text(progress)
    assert re.search(r'<progress[^>]*value="0" max="3"', progress)

    run_worker(app)
    result = state(app, org["tenant_id"], import_id)
    assert result["total_rows"] == 3
    assert result["created"] + result["updated"] + result["skipped"] + result["rejected"] == 3
    page = client.get(f"/t/{org['slug']}/imports/{import_id}").get_data(as_text=True)
    assert _status(page) == ("Import finished: 1 contact created, 0 updated, 0 skipped, 2 rows rejected; "
                             "1 blank line ignored.")
    assert "Download the 2 rejected rows with the reasons (CSV)" in text(page)
    listing = text(client.get(f"/t/{org['slug']}/imports/").get_data(as_text=True))
    assert "2 rows rejected; 1 blank line ignored." in listing


def test_blank_lines_at_the_end_of_the_file_are_counted_too(client, app, org):
    login(client, app, org["manager"])
    import_id = uploaded_id(upload(client, org, FOUR_ROWS + ",,,,,,\n\n"))
    page = client.get(f"/t/{org['slug']}/imports/{import_id}").get_data(as_text=True)
    assert "Import 3 rows" in buttons(page)
    assert post_mapping(client, org, import_id, "run").status_code == 303
    run_worker(app)
    page = client.get(f"/t/{org['slug']}/imports/{import_id}").get_data(as_text=True)
    assert _status(page) == ("Import finished: 1 contact created, 0 updated, 0 skipped, 2 rows rejected; "
                             "3 blank lines ignored.")


def test_an_import_that_stopped_counts_the_rows_it_worked_through(client, app, org):
    login(client, app, org["manager"])
    import_id = uploaded_id(upload(client, org, FOUR_ROWS))
    with app.app_context():
        # As a job that failed after a batch of the first two rows leaves it.
        db.session.execute(update(ContactImport).where(ContactImport.id == import_id)
                           .values(status="failed", position=2, created=1, rejected=1)
                           .execution_options(all_tenants=True))
        db.session.commit()
        db.session.remove()
    page = client.get(f"/t/{org['slug']}/imports/{import_id}").get_data(as_text=True)
    assert _status(page) == ("The import stopped after 2 of 3 rows: 1 contact created, 0 updated, 0 skipped, "
                             "1 row rejected.")


def test_a_file_of_only_blank_lines_is_refused(client, app, org):
    login(client, app, org["manager"])
    response = upload(client, org, HEADER + ",,,,,,\n\n")
    assert response.status_code == 422
    assert "This file names its columns but has no rows to import." in text(response.get_data(as_text=True))


def test_past_responses_count_the_same_rows_and_name_the_blank_line(client, app, org):
    login(client, app, org["manager"])
    content = ("Date,Email,Score\n"
               "2025-03-02,ann@client.example,9\n"
               "2025-03-03,not-an-email,7\n"
               ",,\n"
               "2025-03-02,ANN@client.example,9\n")
    response = client.post(f"/t/{org['slug']}/imports/", content_type="multipart/form-data",
                           data={"kind": "responses", "file": (io.BytesIO(content.encode()), "history.csv")})
    import_id = uploaded_id(response)
    page = client.get(f"/t/{org['slug']}/imports/{import_id}").get_data(as_text=True)
    assert _status(page) == ("2 of the first 3 rows have problems; they will be rejected and listed in a file you "
                             "can download. 1 blank line among them will be ignored.")
    assert "Import 3 rows" in buttons(page)

    started = client.post(f"/t/{org['slug']}/imports/{import_id}",
                          data={"action": "run", "answered_at": "0", "email": "1", "score": "2"})
    assert started.status_code == 303
    run_worker(app)
    page = client.get(f"/t/{org['slug']}/imports/{import_id}").get_data(as_text=True)
    assert _status(page) == ("Import finished: 1 response recorded, 2 rejected, 0 tickets opened; "
                             "1 blank line ignored.")
