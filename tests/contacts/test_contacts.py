"""Contacts: list, search, pagination, add and edit, permissions and tenant isolation."""
from __future__ import annotations

import re
from html import unescape

from sqlalchemy import event, select

from app.contacts.models import Contact, RecipientRole
from app.extensions import db
from app.tenancy import tenant_context
from app.timeutil import utcnow
from tests.support.data import answer, login, make_contact
from tests.support.html import buttons, choice, label

NEW = {"name": "Dana Doe", "email": "dana@client.example", "phone": "+1 555 0100",
       "account": "Doe Dental", "external_id": "PAT-0042"}


def _contacts(app, tenant_id):
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(select(Contact).order_by(Contact.name)).scalars().all()
        result = [{"name": c.name, "email": c.email, "phone": c.phone, "account": (c.account.name if c.account else None),
                   "external_id": c.external_id, "roles": sorted(r.name for r in c.roles)} for c in rows]
        db.session.remove()
    return result


def _role_ids(app, tenant_id):
    with app.app_context(), tenant_context(tenant_id):
        ids = dict(db.session.execute(select(RecipientRole.name, RecipientRole.id)).all())
        db.session.remove()
    return ids


def _next_url(page: str) -> str:
    """The target of the page's "Next →" link."""
    return unescape(re.search(r'<a href="([^"]+)"[^>]*>Next →</a>', page).group(1))


def _names_in(page: str) -> list[str]:
    return re.findall(r'<a href="/t/[^/]+/contacts/\d+">([^<]+)</a>', page)


def test_list_shows_contact_columns_and_only_this_tenants_contacts(client, app, org, other_org):
    make_contact(app, org["tenant_id"], "Casey Client", roles=("Signer", "NPS Recipient"),
                 phone="555-1234", account="Casey Corp", external_id="EXT-9")
    make_contact(app, other_org["tenant_id"], "Outsider Olga")
    login(client, app, org["viewer"])
    response = client.get(f"/t/{org['slug']}/contacts/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    for header in ("Name", "Email", "Phone", "Company", "Recipient roles", "External ID"):
        assert f'<th scope="col">{header}</th>' in page
    for value in ("Casey Client", "casey.client@client.example", "555-1234", "Casey Corp", "NPS Recipient, Signer", "EXT-9"):
        assert value in page
    assert "Outsider Olga" not in page
    assert "1 contact" in page


def test_search_by_name_or_email_ignores_case(client, app, org):
    make_contact(app, org["tenant_id"], "Alice Adams", "alice@wonder.example")
    make_contact(app, org["tenant_id"], "Bob Brown", "bob@builders.example")
    make_contact(app, org["tenant_id"], "Carol Clark", "carol@WONDER.example")
    login(client, app, org["agent"])
    by_name = client.get(f"/t/{org['slug']}/contacts/?q=BROWN").get_data(as_text=True)
    assert _names_in(by_name) == ["Bob Brown"]
    by_email = client.get(f"/t/{org['slug']}/contacts/?q=Wonder.Example").get_data(as_text=True)
    assert _names_in(by_email) == ["Alice Adams", "Carol Clark"]
    assert 'value="Wonder.Example"' in by_email
    nothing = client.get(f"/t/{org['slug']}/contacts/?q=zzz").get_data(as_text=True)
    assert _names_in(nothing) == [] and "No contacts match" in nothing


def test_search_treats_wildcards_literally(client, app, org):
    make_contact(app, org["tenant_id"], "Percy Plain", "percy@client.example")
    make_contact(app, org["tenant_id"], "Fifty Percent", "50%off@client.example")
    login(client, app, org["agent"])
    page = client.get(f"/t/{org['slug']}/contacts/", query_string={"q": "%"}).get_data(as_text=True)
    assert _names_in(page) == ["Fifty Percent"]
    page = client.get(f"/t/{org['slug']}/contacts/", query_string={"q": "_"}).get_data(as_text=True)
    assert _names_in(page) == []


def test_thirty_contacts_make_two_pages_of_25_and_5(client, app, org):
    for n in range(30):
        make_contact(app, org["tenant_id"], f"Person {n:02d}")
    login(client, app, org["viewer"])
    first = client.get(f"/t/{org['slug']}/contacts/").get_data(as_text=True)
    assert _names_in(first) == [f"Person {n:02d}" for n in range(25)]
    assert "30 contacts" in first
    second = client.get(_next_url(first)).get_data(as_text=True)
    assert _names_in(second) == [f"Person {n:02d}" for n in range(25, 30)]
    assert "Next →" not in second and "← First page" in second
    searched = client.get(f"/t/{org['slug']}/contacts/?q=person").get_data(as_text=True)
    assert "q=person" in _next_url(searched)
    # A cursor that is not one falls back to the first page rather than failing.
    assert _names_in(client.get(f"/t/{org['slug']}/contacts/?after=abc").get_data(as_text=True))[0] == "Person 00"


def test_counts_past_500_say_500_plus_and_searches_past_100_say_100_plus(client, app, org):
    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.add_all([Contact(name=f"Many {n:03d}", email=f"many{n}@client.example") for n in range(502)])
        db.session.commit()
        db.session.remove()
    login(client, app, org["viewer"])
    assert "500+ contacts" in client.get(f"/t/{org['slug']}/contacts/").get_data(as_text=True)
    assert "100+ contacts matching “many”" in client.get(f"/t/{org['slug']}/contacts/?q=many").get_data(as_text=True)


def test_list_loads_roles_without_a_query_per_row(client, app, org):
    for n in range(25):
        make_contact(app, org["tenant_id"], f"Row {n:02d}", roles=("Signer", "NPS Recipient"))
    login(client, app, org["viewer"])
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        page = client.get(f"/t/{org['slug']}/contacts/").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert page.count("NPS Recipient, Signer") == 25
    # Login, tenant, count, the page of contacts and one batch of roles: not one per contact.
    assert len(statements) <= 8, statements


def test_search_box_uses_htmx_and_htmx_request_gets_only_the_results(client, app, org):
    make_contact(app, org["tenant_id"], "Alice Adams")
    make_contact(app, org["tenant_id"], "Bob Brown")
    login(client, app, org["viewer"])
    page = client.get(f"/t/{org['slug']}/contacts/").get_data(as_text=True)
    assert 'hx-trigger="input changed delay:300ms, search"' in page and 'hx-push-url="true"' in page
    assert label(page, "contact-search") == "Search by name, email or company"
    assert "Search" in buttons(page)
    response = client.get(f"/t/{org['slug']}/contacts/?q=alice", headers={"HX-Request": "true"})
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert "<html" not in fragment and "<h1>" not in fragment and "<table" in fragment
    assert _names_in(fragment) == ["Alice Adams"]


def test_add_contact_form_ticks_no_role_until_an_admin_sets_a_default(client, app, org):
    roles = _role_ids(app, org["tenant_id"])
    login(client, app, org["agent"])
    page = client.get(f"/t/{org['slug']}/contacts/new").get_data(as_text=True)
    assert choice(page, "roles", str(roles["NPS Recipient"])) == ("NPS Recipient", False)
    assert choice(page, "roles", str(roles["Signer"])) == ("Signer", False)
    for label in ("Name", "Email address", "Phone", "Company", "External ID"):
        assert f">{label}</label>" in page
    assert "Add contact" in buttons(page)
    assert "style=" not in page and "<script>" not in page and "hx-on" not in page


def test_add_contact_with_roles(client, app, org):
    roles = _role_ids(app, org["tenant_id"])
    login(client, app, org["agent"])
    response = client.post(f"/t/{org['slug']}/contacts/new",
                           data={**NEW, "email": " Dana@Client.Example ", "roles": [roles["Signer"], roles["NPS Recipient"]]})
    assert response.status_code == 303
    assert re.search(rf"/t/{org['slug']}/contacts/\d+$", response.headers["Location"])
    assert _contacts(app, org["tenant_id"]) == [{**NEW, "roles": ["NPS Recipient", "Signer"]}]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Contact added." in page and "PAT-0042" in page and "Doe Dental" in page


def test_add_contact_without_optional_fields_or_roles(client, app, org):
    login(client, app, org["manager"])
    response = client.post(f"/t/{org['slug']}/contacts/new", data={"name": "Min Imal", "email": "min@client.example"})
    assert response.status_code == 303
    assert _contacts(app, org["tenant_id"]) == [{"name": "Min Imal", "email": "min@client.example", "phone": None,
                                                 "account": None, "external_id": None, "roles": []}]


def test_missing_name_and_invalid_email_are_refused_next_to_the_fields(client, app, org):
    login(client, app, org["agent"])
    response = client.post(f"/t/{org['slug']}/contacts/new", data={**NEW, "name": "  ", "email": "not-an-email"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="name-error"' in page and "Enter the contact&#39;s name." in page
    assert 'id="email-error"' in page and "valid email" in page
    assert 'value="Doe Dental"' in page  # what was typed is kept
    assert _contacts(app, org["tenant_id"]) == []


def test_role_of_another_tenant_is_refused(client, app, org, other_org):
    foreign_role = _role_ids(app, other_org["tenant_id"])["Signer"]
    login(client, app, org["agent"])
    response = client.post(f"/t/{org['slug']}/contacts/new", data={**NEW, "roles": [foreign_role]})
    assert response.status_code == 422
    assert 'id="roles-error"' in response.get_data(as_text=True)
    assert _contacts(app, org["tenant_id"]) == []


def test_duplicate_email_in_the_same_tenant_is_refused(client, app, org, other_org):
    make_contact(app, org["tenant_id"], "Dana Original", "dana@client.example")
    make_contact(app, other_org["tenant_id"], "Eli Elsewhere", "eli@client.example")
    login(client, app, org["agent"])
    response = client.post(f"/t/{org['slug']}/contacts/new", data={**NEW, "email": "DANA@client.example"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="email-error"' in page and "already uses this email address" in page
    assert [c["name"] for c in _contacts(app, org["tenant_id"])] == ["Dana Original"]
    # An address used only by another organisation is no obstacle.
    assert client.post(f"/t/{org['slug']}/contacts/new", data={**NEW, "email": "eli@client.example"}).status_code == 303
    assert [c["name"] for c in _contacts(app, org["tenant_id"])] == ["Dana Doe", "Dana Original"]


def test_edit_contact_changes_fields_and_roles(client, app, org):
    roles = _role_ids(app, org["tenant_id"])
    contact_id = make_contact(app, org["tenant_id"], "Old Name", "old@client.example", roles=("Signer",), phone="1")
    login(client, app, org["agent"])
    form = client.get(f"/t/{org['slug']}/contacts/{contact_id}/edit").get_data(as_text=True)
    assert 'value="Old Name"' in form and f'value="{roles["Signer"]}" checked' in form
    assert "Save contact" in buttons(form)
    response = client.post(f"/t/{org['slug']}/contacts/{contact_id}/edit",
                           data={**NEW, "phone": "", "roles": [roles["NPS Recipient"]]})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/contacts/{contact_id}")
    assert _contacts(app, org["tenant_id"]) == [{**NEW, "phone": None, "roles": ["NPS Recipient"]}]
    # Keeping its own email is not a duplicate.
    assert client.post(f"/t/{org['slug']}/contacts/{contact_id}/edit", data=NEW).status_code == 303


def test_edit_refuses_another_contacts_email_and_changes_nothing(client, app, org):
    make_contact(app, org["tenant_id"], "Taken Person", "taken@client.example")
    contact_id = make_contact(app, org["tenant_id"], "Edit Me", "editme@client.example")
    login(client, app, org["agent"])
    response = client.post(f"/t/{org['slug']}/contacts/{contact_id}/edit",
                           data={"name": "Renamed", "email": "taken@client.example"})
    assert response.status_code == 422 and "already uses this email address" in response.get_data(as_text=True)
    assert [c["name"] for c in _contacts(app, org["tenant_id"])] == ["Edit Me", "Taken Person"]


def test_retired_roles_are_not_offered_and_are_kept_on_edit(client, app, org):
    contact_id = make_contact(app, org["tenant_id"], "Rita Retired", roles=("Signer", "NPS Recipient"))
    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.execute(select(RecipientRole).where(RecipientRole.name == "Signer")).scalar_one().retired_at = utcnow()
        db.session.commit()
    roles = _role_ids(app, org["tenant_id"])
    login(client, app, org["agent"])
    assert "Signer</label>" not in client.get(f"/t/{org['slug']}/contacts/new").get_data(as_text=True)
    response = client.post(f"/t/{org['slug']}/contacts/{contact_id}/edit",
                           data={"name": "Rita Retired", "email": "rita@client.example", "roles": [roles["NPS Recipient"]]})
    assert response.status_code == 303
    assert _contacts(app, org["tenant_id"])[0]["roles"] == ["NPS Recipient", "Signer"]


def test_viewer_can_read_but_not_add_or_edit(client, app, org):
    contact_id = make_contact(app, org["tenant_id"], "Casey Client")
    login(client, app, org["viewer"])
    base = f"/t/{org['slug']}/contacts"
    listing = client.get(f"{base}/").get_data(as_text=True)
    assert "Casey Client" in listing and "Add contact" not in listing
    page = client.get(f"{base}/{contact_id}").get_data(as_text=True)
    assert "Casey Client" in page and "Edit contact" not in page and "Send survey" not in page
    assert client.get(f"{base}/new").status_code == 403
    assert client.post(f"{base}/new", data=NEW).status_code == 403
    assert client.get(f"{base}/{contact_id}/edit").status_code == 403
    assert client.post(f"{base}/{contact_id}/edit", data=NEW).status_code == 403
    assert [c["name"] for c in _contacts(app, org["tenant_id"])] == ["Casey Client"]


def test_another_tenants_contact_is_not_found(client, app, org, other_org):
    foreign_id = make_contact(app, other_org["tenant_id"], "Outsider Olga")
    login(client, app, org["admin"])
    base = f"/t/{org['slug']}/contacts/{foreign_id}"
    assert client.get(base).status_code == 404
    assert client.get(f"{base}/edit").status_code == 404
    response = client.post(f"{base}/edit", data={"name": "Hijacked", "email": "h@example.com"})
    assert response.status_code == 404 and "Olga" not in response.get_data(as_text=True)
    assert client.get(f"/t/{org['slug']}/contacts/abc").status_code == 404
    assert [c["name"] for c in _contacts(app, other_org["tenant_id"])] == ["Outsider Olga"]


def test_contact_page_shows_survey_history(client, app, org):
    contact_id = make_contact(app, org["tenant_id"], "Hattie History")
    answer(app, org["tenant_id"], contact_id, 3, "Too slow")
    answer(app, org["tenant_id"], contact_id, 9)
    login(client, app, org["agent"])
    page = client.get(f"/t/{org['slug']}/contacts/{contact_id}").get_data(as_text=True)
    assert "Survey history" in page
    assert 'class="score band-detractor">3</span> Detractor' in page and "Too slow" in page
    assert 'class="score band-promoter">9</span> Promoter' in page
    assert "Send survey to Hattie" in page and "Edit contact" in page


def test_add_contact_form_ticks_the_default_role_chosen_in_settings(client, app, org):
    roles = _role_ids(app, org["tenant_id"])
    login(client, app, org["admin"])
    response = client.post(f"/t/{org['slug']}/settings/roles/default",
                           data={"default-default_contact_role_id": roles["Signer"]})
    assert response.status_code == 303
    page = client.get(f"/t/{org['slug']}/contacts/new").get_data(as_text=True)
    assert f'<input type="checkbox" name="roles" value="{roles["Signer"]}" checked> Signer</label>' in page
    assert f'<input type="checkbox" name="roles" value="{roles["NPS Recipient"]}" > NPS Recipient</label>' in page
