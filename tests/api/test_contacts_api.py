"""Contacts through the API: list with filters and pages, add, read, change, delete and upsert by email."""
from __future__ import annotations

from tests.support.data import make_contact
from tests.support.tickets import open_ticket


def test_a_contact_is_added_read_changed_and_listed(api):
    created = api.post("/contacts", json={"name": "Casey Client", "email": "Casey@Client.example",
                                          "phone": "555-0100", "roles": ["NPS Recipient"]})
    assert created.status_code == 201, created.get_json()
    contact = created.get_json()
    assert contact["email"] == "casey@client.example" and contact["roles"] == ["NPS Recipient"]
    assert contact["created_at"].endswith("Z")

    read = api.get(f"/contacts/{contact['id']}")
    assert read.get_json()["name"] == "Casey Client" and read.headers["Cache-Control"] == "no-store"
    changed = api.patch(f"/contacts/{contact['id']}", json={"phone": "555-0199"}).get_json()
    assert changed["phone"] == "555-0199" and changed["name"] == "Casey Client", "fields not given keep their values"
    assert changed["roles"] == ["NPS Recipient"]

    listed = api.get("/contacts?email=CASEY@client.example").get_json()
    assert [c["id"] for c in listed["data"]] == [contact["id"]] and listed["next_cursor"] is None


def test_contacts_filter_by_external_id_role_account_and_update_time(api):
    account = api.post("/accounts", json={"name": "Northside Practice"}).get_json()
    first = api.post("/contacts", json={"name": "Ann", "email": "ann@x.example", "external_id": "P-1",
                                        "account_id": account["id"], "roles": ["Signer"]}).get_json()
    second = api.post("/contacts", json={"name": "Bob", "email": "bob@x.example"}).get_json()
    ids = lambda query: [c["id"] for c in api.get("/contacts" + query).get_json()["data"]]  # noqa: E731
    assert ids("?external_id=P-1") == [first["id"]]
    assert ids("?role=Signer") == [first["id"]]
    assert ids(f"?account_id={account['id']}") == [first["id"]]
    assert ids(f"?updated_since={second['updated_at']}") == [second["id"]]
    assert ids("?updated_since=2000-01-01T00:00:00Z") == [first["id"], second["id"]]


def test_contacts_page_by_cursor(app, api, org):
    for number in range(5):
        make_contact(app, org["tenant_id"], f"Person {number}")
    seen, cursor, pages = [], None, 0
    while True:
        body = api.get("/contacts?limit=2" + (f"&cursor={cursor}" if cursor else "")).get_json()
        seen += [c["name"] for c in body["data"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and seen == [f"Person {n}" for n in range(5)]
    bad = api.get("/contacts?cursor=not-a-cursor")
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "cursor"
    assert api.get("/contacts?limit=500").status_code == 422


def test_a_taken_email_is_a_conflict_and_bad_input_is_explained(api):
    api.post("/contacts", json={"name": "Ann", "email": "ann@x.example"})
    taken = api.post("/contacts", json={"name": "Another Ann", "email": "ANN@x.example"})
    assert taken.status_code == 409
    assert taken.get_json()["error"] == {"code": "duplicate_email", "field": "email",
                                         "message": "Another contact in this organisation already uses this email address."}
    missing = api.post("/contacts", json={"email": "z@x.example"})
    assert missing.status_code == 422 and missing.get_json()["error"]["field"] == "name"
    assert api.post("/contacts", json={"name": "Z", "email": "not-an-email"}).get_json()["error"]["field"] == "email"
    assert api.post("/contacts", json={"name": "Z", "email": "z@x.example", "roles": ["Nope"]}).status_code == 422
    assert api.post("/contacts", json={"name": "Z", "email": "z@x.example", "account_id": 999}).status_code == 422
    assert api.post("/contacts", json={"name": "Z", "email": "z@x.example", "colour": "red"}).status_code == 422
    malformed = api.post("/contacts", data="{not json", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400 and malformed.get_json()["error"]["code"] == "invalid_json"
    assert api.post("/contacts", json={"name": "Nul\x00", "email": "n@x.example"}).status_code == 422
    assert api.get("/contacts/99999").status_code == 404


def test_upsert_by_email_creates_then_changes(api):
    created = api.put("/contacts/by-email/Dana@x.example", json={"name": "Dana", "external_id": "E-9"})
    assert created.status_code == 201 and created.get_json()["email"] == "dana@x.example"
    changed = api.put("/contacts/by-email/dana@x.example", json={"name": "Dana Doe"})
    assert changed.status_code == 200
    assert changed.get_json()["id"] == created.get_json()["id"] and changed.get_json()["name"] == "Dana Doe"
    assert changed.get_json()["external_id"] == "E-9"


def test_a_contact_is_deleted_unless_a_ticket_of_theirs_is_open(app, api, org):
    contact = api.post("/contacts", json={"name": "Gone", "email": "gone@x.example"}).get_json()
    assert api.delete(f"/contacts/{contact['id']}").status_code == 204
    assert api.get(f"/contacts/{contact['id']}").status_code == 404
    ticket_id = open_ticket(app, org, "Still Open")
    ticket = api.get(f"/tickets/{ticket_id}").get_json()
    refused = api.delete(f"/contacts/{ticket['contact_id']}")
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "open_ticket"
