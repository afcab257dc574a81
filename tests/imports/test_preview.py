"""The mapping page: the preview of the first rows shows each row's problems, and the mapping itself is checked."""
from __future__ import annotations

import re

from tests.imports.helpers import HEADER, post_mapping, upload, uploaded_id
from tests.support.data import login
from tests.support.html import field_error, text

FILE = HEADER + (
    "Ann Able,ann@client.example,,Harbor,,Signer,P1\n"
    "Bad Email,not-an-email,,,,,\n"
    "Ann Again,ANN@client.example,,,,,\n"
    "Rolf Role,rolf@client.example,,,,Boss; Signer,\n"
    ",nameless@client.example,,,,,\n"
    "Pat Twin,pat@client.example,,,,,P1\n"
    "Long Phone,long@client.example," + "9" * 41 + ",,,,\n"
)


def _preview_rows(page: str) -> dict[int, str]:
    """The preview table's rows by row number: the text of the row."""
    table = re.search(r'<table [^>]*aria-labelledby="preview-heading"[^>]*>(.*?)</table>', page, re.S).group(1)
    rows = {}
    for body in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        row_text = text(body)
        number = re.match(r"\s*(\d+)", row_text)
        if number:
            rows[int(number.group(1))] = row_text
    return rows


def test_the_preview_shows_each_rows_problems(client, app, org):
    login(client, app, org["manager"])
    page = client.get(upload(client, org, FILE).headers["Location"]).get_data(as_text=True)
    rows = _preview_rows(page)
    assert rows[2].endswith("OK")
    assert "“not-an-email” is not a valid email address." in rows[3]
    assert "Duplicate in file: the same email address as row 2." in rows[4]
    assert "Unknown recipient role: “Boss”." in rows[5] and "Signer" in rows[5]
    assert "Name is missing." in rows[6]
    assert "Duplicate in file: the same external ID as row 2." in rows[7]
    assert "Phone is longer than 40 characters." in rows[8]
    assert "6 of the first 7 rows have problems" in text(page)


def test_previewing_with_another_mapping_reads_the_rows_again(client, app, org):
    login(client, app, org["manager"])
    import_id = uploaded_id(upload(client, org, FILE))
    response = post_mapping(client, org, import_id, "preview", roles="", external_id="")
    assert response.status_code == 303
    rows = _preview_rows(client.get(response.headers["Location"]).get_data(as_text=True))
    assert rows[5].endswith("OK") and rows[7].endswith("OK")

    fragment = client.post(
        f"/t/{org['slug']}/imports/{import_id}", headers={"HX-Request": "true"},
        data={"name": "0", "email": "1", "mode": "skip", "action": "preview"})
    assert fragment.status_code == 200
    assert "Preview of the first rows" in text(fragment.get_data(as_text=True))
    assert "<html" not in fragment.get_data(as_text=True)


def test_the_name_and_email_columns_must_be_chosen_and_each_column_used_once(client, app, org):
    login(client, app, org["manager"])
    import_id = uploaded_id(upload(client, org, FILE))
    response = post_mapping(client, org, import_id, "run", email="", phone="0")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_error(page, "email") == "Choose the column that holds the email address."
    assert field_error(page, "phone") == "This column already fills Name; choose another."
    assert "Which column is which" in text(page)


def test_a_column_that_is_not_in_the_file_is_refused(client, app, org):
    login(client, app, org["manager"])
    import_id = uploaded_id(upload(client, org, FILE))
    response = post_mapping(client, org, import_id, "run", phone="99")
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "phone") == "Choose one of the file's columns."
