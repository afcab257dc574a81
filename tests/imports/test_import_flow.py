"""Importing contacts and accounts from a CSV file: the modes, a re-run that changes nothing, accounts matched
or created, recipient roles, and the rejected rows with their reasons."""
from __future__ import annotations

import csv
import io

from tests.imports.helpers import HEADER, accounts, contacts, import_file, state
from tests.support.data import login
from tests.support.html import text

FILE = HEADER + (
    "Ann Able,ann@client.example,555-0101,Harbor Clinic,H-1,NPS Recipient,P1\n"
    "Ben Bell,BEN@client.example,,Harbor Clinic,,Signer; NPS Recipient,P2\n"
    "Cat Cole,cat@client.example,,Lakeside Practice,L-9,,\n"
    "Bad Email,not-an-email,,,,,\n"
    "Dee Dunn,dee@client.example,,,,Boss,\n"
)


def test_an_import_creates_contacts_accounts_and_roles_and_rejects_bad_rows(client, app, org):
    login(client, app, org["manager"])
    import_id = import_file(client, app, org, FILE)
    assert state(app, org["tenant_id"], import_id) == {
        "status": "done", "position": 5, "total_rows": 5, "created": 3, "updated": 0, "skipped": 0, "rejected": 2,
        "accounts_created": 2}
    people = contacts(app, org["tenant_id"])
    assert set(people) == {"ann@client.example", "ben@client.example", "cat@client.example"}
    assert people["ann@client.example"]["account"] == "Harbor Clinic"
    assert people["ben@client.example"]["roles"] == ["NPS Recipient", "Signer"]
    assert people["ann@client.example"]["external_id"] == "P1"
    assert accounts(app, org["tenant_id"]) == {"Harbor Clinic": "H-1", "Lakeside Practice": "L-9"}

    page = text(client.get(f"/t/{org['slug']}/imports/{import_id}").get_data(as_text=True))
    assert "Import finished: 3 contacts created, 0 updated, 0 skipped, 2 rows rejected; 2 accounts created." in page
    download = client.get(f"/t/{org['slug']}/imports/{import_id}/rejected.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["Name", "Email", "Phone", "Company", "Company ID", "Roles", "Patient ID", "Row", "Reason"]
    assert rows[1] == ["Bad Email", "not-an-email", "", "", "", "", "", "5",
                       "“not-an-email” is not a valid email address."]
    assert rows[2][-2:] == ["6", "Unknown recipient role: “Boss”."]
