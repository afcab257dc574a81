"""Uploading a file to import: what is accepted (UTF-8 with or without BOM, comma or semicolon), what is refused
and the message next to the field, and who may import."""
from __future__ import annotations

import pytest

from app.imports.reading import MAX_BYTES
from tests.imports.helpers import HEADER, make_import, upload, uploaded_id
from tests.support.data import login
from tests.support.html import field_error, selected, text


def _refusal(response) -> str:
    assert response.status_code == 422, response.status_code
    return field_error(response.get_data(as_text=True), "file")


def test_a_semicolon_file_with_a_bom_is_read_and_its_columns_guessed(client, app, org):
    login(client, app, org["admin"])
    content = "\ufeffE-mail;Full name;Telephone;Practice;Practice ID;Recipient roles;MRN\n" \
              "ann@client.example;Ann Able;555;Harbor;H-1;Signer;P1\n"
    response = upload(client, org, content.encode("utf-8"))
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Import 1 row" in text(page)
    assert selected(page, "email") == "E-mail"
    assert selected(page, "name") == "Full name"
    assert selected(page, "phone") == "Telephone"
    assert selected(page, "account") == "Practice"
    assert selected(page, "account_external_id") == "Practice ID"
    assert selected(page, "roles") == "Recipient roles"
    assert selected(page, "external_id") == "MRN"
    assert "Ann Able" in text(page)


def test_a_file_over_20_mb_is_refused_with_its_size(client, app, org):
    login(client, app, org["manager"])
    big = HEADER + "x" * (MAX_BYTES + 10)
    message = _refusal(upload(client, org, big))
    assert message == ("This file is 20.1 MB; the largest file that can be imported is 20 MB. "
                       "Split it into smaller files.")
    message = _refusal(upload(client, org, HEADER + "x" * (MAX_BYTES + 5 * 1024 * 1024)))
    assert message.startswith("This file is 25.1 MB;")


def test_a_request_far_over_the_limit_is_cut_off_and_the_upload_page_says_why(client, app, org):
    login(client, app, org["manager"])
    response = upload(client, org, b"x" * (MAX_BYTES + 13 * 1024 * 1024))
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "larger than 20 MB" in field_error(page, "file")


@pytest.mark.parametrize("content, filename, expected", [
    ("Name,Email\nAnn,ann@x.example\n".encode("utf-16"), "contacts.csv", "not UTF-8 text"),
    ("Name,Email\nAnné,ann@x.example\n".encode("latin-1"), "contacts.csv", "not UTF-8 text"),
    (b"PK\x03\x04\x14\x00\x00\x00", "contacts.xlsx", "spreadsheet workbook"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "photo.csv", "not a CSV text file"),
    (b"", "contacts.csv", "empty"),
    (b"Name,Email\n", "contacts.csv", "no rows to import"),
    (b",,\nAnn,ann@x.example,\n", "contacts.csv", "first row must name the columns"),
])
def test_files_that_are_not_csv_text_are_refused_with_what_to_do(client, app, org, content, filename, expected):
    login(client, app, org["manager"])
    assert expected in _refusal(upload(client, org, content, filename))


def test_no_file_is_refused_next_to_the_field(client, app, org):
    login(client, app, org["manager"])
    response = client.post(f"/t/{org['slug']}/imports/", data={}, content_type="multipart/form-data")
    assert "Choose a CSV file to upload." in _refusal(response)


def test_more_than_100000_rows_are_refused(client, app, org):
    login(client, app, org["manager"])
    content = "Name,Email\n" + "a,b\n" * 100_001
    assert "more than 100,000 rows" in _refusal(upload(client, org, content))


def test_exactly_100000_rows_are_accepted(client, app, org):
    login(client, app, org["manager"])
    content = "Name,Email\n" + "a,b\n" * 100_000
    assert upload(client, org, content).status_code == 303


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_agents_and_viewers_may_not_import(client, app, org, role):
    import_id = make_import(app, org["tenant_id"])
    login(client, app, org[role])
    base = f"/t/{org['slug']}/imports"
    assert client.get(f"{base}/").status_code == 403
    assert upload(client, org, HEADER + "Ann,ann@x.example,,,,,\n").status_code == 403
    assert client.get(f"{base}/{import_id}").status_code == 403
    assert client.post(f"{base}/{import_id}", data={"action": "run"}).status_code == 403
    assert client.get(f"{base}/{import_id}/rejected.csv").status_code == 403
    assert "Import contacts" not in text(client.get(f"/t/{org['slug']}/contacts/").get_data(as_text=True))


def test_another_organisations_import_is_not_found(client, app, org, other_org):
    import_id = make_import(app, org["tenant_id"])
    login(client, app, other_org["admin"])
    base = f"/t/{other_org['slug']}/imports/{import_id}"
    assert client.get(base).status_code == 404
    assert client.post(base, data={"action": "run"}).status_code == 404
    assert client.get(f"{base}/rejected.csv").status_code == 404


def test_admins_and_managers_find_the_import_from_the_contacts_page(client, app, org):
    login(client, app, org["manager"])
    page = client.get(f"/t/{org['slug']}/contacts/").get_data(as_text=True)
    assert "Import contacts" in text(page)
    assert client.get(f"/t/{org['slug']}/imports/").status_code == 200
    assert uploaded_id(upload(client, org, HEADER + "Ann,ann@x.example,,,,,\n")) > 0
