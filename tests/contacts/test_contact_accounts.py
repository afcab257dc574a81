"""A contact belongs to an account: typed by name on the contact form (an existing one is used, a new name adds
one, empty for none), shown with a link on the list and the contact's page, and found by contact search."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.contacts.models import Contact
from app.customers.models import CustomerAccount
from app.extensions import db
from app.tenancy import tenant_context
from tests.support.data import login, make_account, make_contact
from tests.support.html import label, text
from tests.support.tickets import HTMX, open_ticket


def _contact_accounts(app, tenant_id) -> dict[str, str | None]:
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(select(Contact.name, CustomerAccount.name)
                                  .outerjoin(CustomerAccount, CustomerAccount.id == Contact.account_id)).all()
        db.session.remove()
    return dict(rows)


def _account_names(app, tenant_id) -> list[str]:
    with app.app_context(), tenant_context(tenant_id):
        names = db.session.execute(select(CustomerAccount.name).order_by(CustomerAccount.name)).scalars().all()
        db.session.remove()
    return names


def test_typing_an_account_name_uses_the_existing_account_or_adds_one(app, client, org, other_org):
    existing = make_account(app, org["tenant_id"], "Lakeside Orthopedics")
    make_account(app, other_org["tenant_id"], "Northgate Cardiology")
    login(client, app, org["agent"])
    form = client.get(f"/t/{org['slug']}/contacts/new").get_data(as_text=True)
    assert label(form, "account") == "Company"
    assert "a new name adds it" in text(form)
    for name, email, account in (("Dana Whitfield", "dana@x.example", "  lakeside orthopedics "),
                                 ("Priya Natarajan", "priya@x.example", "Northgate Cardiology"),
                                 ("Wen Li", "wen@x.example", "")):
        response = client.post(f"/t/{org['slug']}/contacts/new", data={"name": name, "email": email,
                                                                       "account": account})
        assert response.status_code == 303, response.get_data(as_text=True)
    assert _contact_accounts(app, org["tenant_id"]) == {
        "Dana Whitfield": "Lakeside Orthopedics", "Priya Natarajan": "Northgate Cardiology", "Wen Li": None}
    # Another organisation's account of the same name is not used: this organisation gets its own.
    assert _account_names(app, org["tenant_id"]) == ["Lakeside Orthopedics", "Northgate Cardiology"]
    assert _account_names(app, other_org["tenant_id"]) == ["Northgate Cardiology"]
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.execute(select(Contact.account_id).where(Contact.name == "Dana Whitfield")).scalar_one() == existing
        db.session.remove()


def test_editing_a_contact_moves_it_to_another_account_or_to_none(app, client, org):
    contact_id = make_contact(app, org["tenant_id"], "Dana Whitfield", account="Lakeside Orthopedics")
    login(client, app, org["agent"])
    form = client.get(f"/t/{org['slug']}/contacts/{contact_id}/edit").get_data(as_text=True)
    assert 'value="Lakeside Orthopedics"' in form
    base = {"name": "Dana Whitfield", "email": "dana.whitfield@client.example"}
    client.post(f"/t/{org['slug']}/contacts/{contact_id}/edit", data={**base, "account": "Harbor Pediatrics"})
    assert _contact_accounts(app, org["tenant_id"]) == {"Dana Whitfield": "Harbor Pediatrics"}
    client.post(f"/t/{org['slug']}/contacts/{contact_id}/edit", data={**base, "account": ""})
    assert _contact_accounts(app, org["tenant_id"]) == {"Dana Whitfield": None}
    assert _account_names(app, org["tenant_id"]) == ["Harbor Pediatrics", "Lakeside Orthopedics"]


def test_an_account_name_on_two_lines_is_refused_next_to_the_field(app, client, org):
    login(client, app, org["agent"])
    response = client.post(f"/t/{org['slug']}/contacts/new",
                           data={"name": "Dana", "email": "dana@x.example", "account": "Lake\nside"})
    assert response.status_code == 422
    assert "Keep this on one line" in text(response.get_data(as_text=True))
    assert _account_names(app, org["tenant_id"]) == []


def test_the_list_and_the_contact_page_link_to_the_account(app, client, org):
    account_id = make_account(app, org["tenant_id"], "Lakeside Orthopedics")
    contact_id = make_contact(app, org["tenant_id"], "Dana Whitfield", account="Lakeside Orthopedics")
    login(client, app, org["viewer"])
    link = f'<a href="/t/{org["slug"]}/accounts/{account_id}">Lakeside Orthopedics</a>'
    assert link in client.get(f"/t/{org['slug']}/contacts/").get_data(as_text=True)
    page = client.get(f"/t/{org['slug']}/contacts/{contact_id}").get_data(as_text=True)
    assert "<dt>Company</dt>" in page and link in page


def test_contact_search_finds_contacts_by_their_account_name(app, client, org, other_org):
    make_contact(app, org["tenant_id"], "Dana Whitfield", account="Lakeside Orthopedics")
    make_contact(app, org["tenant_id"], "Marcus Reyes", account="Lakeside Orthopedics")
    make_contact(app, org["tenant_id"], "Priya Natarajan", account="Northgate Cardiology")
    make_contact(app, org["tenant_id"], "Lakeisha Brown")  # found by her name
    make_contact(app, other_org["tenant_id"], "Olga Outsider", account="Lakeside Orthopedics")
    login(client, app, org["viewer"])
    page = client.get(f"/t/{org['slug']}/contacts/?q=LAKESIDE ORTH").get_data(as_text=True)
    names = re.findall(r'<a href="/t/[^/]+/contacts/\d+">([^<]+)</a>', page)
    assert names == ["Dana Whitfield", "Marcus Reyes"]
    assert "2 contacts matching" in text(page)
    fragment = client.get(f"/t/{org['slug']}/contacts/?q=lake", headers=HTMX).get_data(as_text=True)
    assert re.findall(r'<a href="/t/[^/]+/contacts/\d+">([^<]+)</a>', fragment) == [
        "Dana Whitfield", "Lakeisha Brown", "Marcus Reyes"]


def test_a_ticket_takes_the_account_its_contact_had_when_it_opened(app, org):
    ticket_id = open_ticket(app, org, "Dana Whitfield", 3, account="Lakeside Orthopedics")
    without = open_ticket(app, org, "Wen Li", 2)
    from app.tickets.models import Ticket

    with app.app_context(), tenant_context(org["tenant_id"]):
        tickets = dict(db.session.execute(select(Ticket.id, Ticket.account_id)).all())
        account_id = db.session.execute(select(CustomerAccount.id)).scalar_one()
        db.session.remove()
    assert tickets == {ticket_id: account_id, without: None}


def test_the_account_field_suggests_existing_accounts_as_the_name_is_typed(app, client, org, other_org):
    for name in ("Lakeside Orthopedics", "Lakewood Dental", "Northgate Cardiology"):
        make_account(app, org["tenant_id"], name)
    make_account(app, other_org["tenant_id"], "Lakeshore Rehab")
    login(client, app, org["agent"])
    form = client.get(f"/t/{org['slug']}/contacts/new").get_data(as_text=True)
    assert 'list="account-suggestions"' in form and '<datalist id="account-suggestions"></datalist>' in form
    assert f'hx-get="/t/{org["slug"]}/accounts/suggestions"' in form
    fragment = client.get(f"/t/{org['slug']}/accounts/suggestions?account=LAKE", headers=HTMX).get_data(as_text=True)
    assert re.findall(r'<option value="([^"]+)">', fragment) == ["Lakeside Orthopedics", "Lakewood Dental"]
    empty = client.get(f"/t/{org['slug']}/accounts/suggestions?account=", headers=HTMX).get_data(as_text=True)
    assert "<option" not in empty
