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


EXISTING = HEADER + (
    "Ann Able,ann@client.example,555-0101,Harbor Clinic,H-1,NPS Recipient,P1\n"
    "New Person,new@client.example,,,,,\n"
)


def _seed_ann(client, app, org) -> None:
    import_file(client, app, org, HEADER + "Ann Original,ann@client.example,,,,Signer,P1\n")


def test_update_mode_updates_existing_contacts_and_adds_new_ones(client, app, org):
    login(client, app, org["manager"])
    _seed_ann(client, app, org)
    import_id = import_file(client, app, org, EXISTING, mode="update")
    result = state(app, org["tenant_id"], import_id)
    assert (result["created"], result["updated"], result["skipped"], result["rejected"]) == (1, 1, 0, 0)
    ann = contacts(app, org["tenant_id"])["ann@client.example"]
    assert (ann["name"], ann["phone"], ann["account"], ann["roles"]) == (
        "Ann Able", "555-0101", "Harbor Clinic", ["NPS Recipient"])


def test_skip_mode_leaves_existing_contacts_as_they_are(client, app, org):
    login(client, app, org["manager"])
    _seed_ann(client, app, org)
    import_id = import_file(client, app, org, EXISTING, mode="skip")
    result = state(app, org["tenant_id"], import_id)
    assert (result["created"], result["updated"], result["skipped"], result["rejected"]) == (1, 0, 1, 0)
    ann = contacts(app, org["tenant_id"])["ann@client.example"]
    assert (ann["name"], ann["account"], ann["roles"]) == ("Ann Original", None, ["Signer"])
    assert "Harbor Clinic" not in accounts(app, org["tenant_id"]), "no account made for a skipped row"


def test_create_mode_rejects_rows_matching_an_existing_contact(client, app, org):
    login(client, app, org["manager"])
    _seed_ann(client, app, org)
    import_id = import_file(client, app, org, EXISTING, mode="create")
    result = state(app, org["tenant_id"], import_id)
    assert (result["created"], result["updated"], result["skipped"], result["rejected"]) == (1, 0, 0, 1)
    assert contacts(app, org["tenant_id"])["ann@client.example"]["name"] == "Ann Original"
    download = client.get(f"/t/{org['slug']}/imports/{import_id}/rejected.csv").get_data(as_text=True)
    assert "already exists" in download


def test_an_existing_contact_is_matched_by_external_id_when_the_email_is_new(client, app, org):
    login(client, app, org["manager"])
    _seed_ann(client, app, org)
    import_id = import_file(client, app, org, HEADER + "Ann Able,ann.able@newmail.example,,,,,P1\n")
    assert state(app, org["tenant_id"], import_id)["updated"] == 1
    people = contacts(app, org["tenant_id"])
    assert set(people) == {"ann.able@newmail.example"}
    assert people["ann.able@newmail.example"]["roles"] == ["Signer"], "an empty roles cell leaves the roles"


def test_running_the_same_file_again_changes_nothing(client, app, org):
    login(client, app, org["manager"])
    first = import_file(client, app, org, FILE)
    before, accounts_before = contacts(app, org["tenant_id"]), accounts(app, org["tenant_id"])
    for mode in ("update", "skip"):
        again = import_file(client, app, org, FILE, mode=mode)
        result = state(app, org["tenant_id"], again)
        assert (result["created"], result["updated"], result["skipped"], result["rejected"],
                result["accounts_created"]) == (0, 0, 3, 2, 0)
        assert contacts(app, org["tenant_id"]) == before
        assert accounts(app, org["tenant_id"]) == accounts_before
    assert state(app, org["tenant_id"], first)["created"] == 3


def test_accounts_are_matched_by_external_id_then_name_else_created(client, app, org):
    from app.customers.models import CustomerAccount
    from app.extensions import db
    from app.tenancy import tenant_context

    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.add_all([CustomerAccount(name="Harbor Clinic LLC", external_id="H-1"),
                            CustomerAccount(name="Lakeside Practice")])
        db.session.commit()
        db.session.remove()
    login(client, app, org["admin"])
    import_id = import_file(client, app, org, HEADER + (
        "Ann,ann@c.example,,Harbor Clinic,H-1,,\n"          # by external id, though the name differs
        "Ben,ben@c.example,,Lakeside Practice,,,\n"         # by name
        "Cat,cat@c.example,,Northside Rehab,N-7,,\n"        # created with its external id
        "Dan,dan@c.example,,Northside Rehab,,,\n"           # the account the row before created
        "Eve,eve@c.example,,,H-1,,\n"                       # by external id alone
        "Fay,fay@c.example,,,Z-0,,\n"                       # no name to create it with
    ))
    result = state(app, org["tenant_id"], import_id)
    assert (result["created"], result["rejected"], result["accounts_created"]) == (5, 1, 1)
    people = contacts(app, org["tenant_id"])
    assert {email: p["account"] for email, p in people.items()} == {
        "ann@c.example": "Harbor Clinic LLC", "ben@c.example": "Lakeside Practice",
        "cat@c.example": "Northside Rehab", "dan@c.example": "Northside Rehab", "eve@c.example": "Harbor Clinic LLC"}
    assert accounts(app, org["tenant_id"]) == {"Harbor Clinic LLC": "H-1", "Lakeside Practice": None,
                                                "Northside Rehab": "N-7"}
    download = client.get(f"/t/{org['slug']}/imports/{import_id}/rejected.csv").get_data(as_text=True)
    assert "No account has the external ID “Z-0”" in download


def test_listed_roles_replace_the_active_roles_and_keep_retired_ones(client, app, org):
    from sqlalchemy import update

    from app.contacts.models import RecipientRole
    from app.extensions import db
    from app.tenancy import tenant_context

    login(client, app, org["admin"])
    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.add(RecipientRole(name="Champion"))
        db.session.commit()
        db.session.remove()
    import_file(client, app, org, HEADER + "Ann,ann@c.example,,,,Signer|Champion,\n")
    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.execute(update(RecipientRole).where(RecipientRole.name == "Champion")
                           .values(retired_at=db.func.now()))
        db.session.commit()
        db.session.remove()
    import_id = import_file(client, app, org, HEADER + "Ann,ann@c.example,,,,nps recipient,\n")
    assert state(app, org["tenant_id"], import_id)["updated"] == 1
    assert contacts(app, org["tenant_id"])["ann@c.example"]["roles"] == ["Champion", "NPS Recipient"]
    again = import_file(client, app, org, HEADER + "Ann,ann@c.example,,,,Champion,\n")
    assert state(app, org["tenant_id"], again)["rejected"] == 1, "a retired role cannot be given"


def test_an_import_is_audited_when_it_starts_and_when_it_ends(client, app, org):
    from tests.support.data import audit_entries

    login(client, app, org["manager"])
    import_file(client, app, org, FILE)
    entries = [e for e in audit_entries(app, org["tenant_id"]) if e.area == "contact_imports"]
    assert [e.summary for e in entries] == ["Started importing contacts from contacts.csv",
                                            "Imported contacts from contacts.csv"]
    assert all(e.actor_id == org["manager"] for e in entries)
    assert entries[0].changes["rows"] == [None, 5]
    assert entries[1].changes["created"] == [None, 3] and entries[1].changes["rejected"] == [None, 2]
    admin = app.test_client()
    login(admin, app, org["admin"])
    log = text(admin.get(f"/t/{org['slug']}/settings/audit_log").get_data(as_text=True))
    assert "Imported contacts from contacts.csv" in log and "Contact imports" in log


def test_contacts_and_accounts_of_another_organisation_are_never_matched(client, app, org, other_org):
    from app.customers.models import CustomerAccount
    from app.extensions import db
    from app.tenancy import tenant_context
    from tests.support.data import make_contact

    make_contact(app, other_org["tenant_id"], "Ann Elsewhere", "ann@client.example", external_id="P1")
    with app.app_context(), tenant_context(other_org["tenant_id"]):
        db.session.add(CustomerAccount(name="Harbor Clinic", external_id="H-1"))
        db.session.commit()
        db.session.remove()
    login(client, app, org["manager"])
    import_id = import_file(client, app, org, FILE)
    result = state(app, org["tenant_id"], import_id)
    assert (result["created"], result["updated"], result["accounts_created"]) == (3, 0, 2)
    assert contacts(app, other_org["tenant_id"])["ann@client.example"]["name"] == "Ann Elsewhere"
    assert accounts(app, other_org["tenant_id"]) == {"Harbor Clinic": "H-1"}


def test_starting_an_import_twice_starts_it_once(client, app, org):
    from app.jobs import get_queue
    from tests.imports.helpers import post_mapping, upload, uploaded_id
    from tests.support.data import audit_entries

    login(client, app, org["manager"])
    import_id = uploaded_id(upload(client, org, FILE))
    assert post_mapping(client, org, import_id, "run").status_code == 303
    again = client.post(f"/t/{org['slug']}/imports/{import_id}", headers={"HX-Request": "true"},
                        data={"name": "0", "email": "1", "mode": "update", "action": "run"})
    assert again.status_code == 200
    assert "Imported 0 of 5 rows" in text(again.get_data(as_text=True))
    with app.app_context():
        assert get_queue().count == 1
    started = [e for e in audit_entries(app, org["tenant_id"]) if e.summary.startswith("Started importing")]
    assert len(started) == 1
