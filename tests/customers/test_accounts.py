"""Accounts (Companies for a billing company, Practices for a clinic): list and search, add and edit, status
history, the account team, the account page, permissions and tenant isolation."""
from __future__ import annotations

import re
from html import unescape

from sqlalchemy import select

from app.customers.models import AccountStatusChange, AccountTeamMember, CustomerAccount
from app.extensions import db
from app.tenancy import tenant_context
from tests.support.data import answer, audit_entries, login, make_account, make_contact
from tests.support.html import field_error, label, options, text
from tests.support.tickets import HTMX, count_queries, open_ticket


def _url(org, path: str = "") -> str:
    return f"/t/{org['slug']}/accounts{path}"


def _account(app, tenant_id: int, account_id: int) -> CustomerAccount:
    with app.app_context(), tenant_context(tenant_id):
        account = db.session.get(CustomerAccount, account_id)
        db.session.expunge_all()
        db.session.remove()
    return account


def _history(app, tenant_id: int, account_id: int) -> list[tuple]:
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(
            select(AccountStatusChange.from_status, AccountStatusChange.status, AccountStatusChange.reason,
                   AccountStatusChange.changed_by_id, AccountStatusChange.ticket_id)
            .where(AccountStatusChange.account_id == account_id).order_by(AccountStatusChange.id)).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def _function_id(app, tenant_id: int, name: str) -> int:
    from app.customers.models import AccountFunction

    with app.app_context(), tenant_context(tenant_id):
        function_id = db.session.execute(select(AccountFunction.id).where(AccountFunction.name == name)).scalar_one()
        db.session.remove()
    return function_id


def _names(page: str) -> list[str]:
    return re.findall(r'<a href="/t/[^/]+/accounts/\d+">([^<]+)</a>', page)


def test_accounts_are_called_companies_for_a_billing_company_and_practices_for_a_clinic(app, client, org, other_org):
    make_account(app, org["tenant_id"], "Lakeside Orthopedics")
    login(client, app, org["viewer"])
    page = client.get(_url(org, "/")).get_data(as_text=True)
    assert "<h1>Companies</h1>" in page
    assert re.search(r'<a href="/t/acme-billing/accounts/" aria-current="page">Companies</a>', page)
    assert "Lakeside Orthopedics" in page
    assert "Add company" not in page  # a viewer reads only
    clinic = app.test_client()
    login(clinic, app, other_org["admin"])
    page = clinic.get(_url(other_org, "/")).get_data(as_text=True)
    assert "<h1>Practices</h1>" in page and "Lakeside Orthopedics" not in page


def test_list_searches_by_part_of_the_name_and_filters_by_status(app, client, org):
    for name in ("Lakeside Orthopedics", "Northgate Cardiology", "Lakewood Dental"):
        make_account(app, org["tenant_id"], name)
    make_account(app, org["tenant_id"], "Lake Churned Clinic", status="churned")
    login(client, app, org["viewer"])
    assert _names(client.get(_url(org, "/?q=lake")).get_data(as_text=True)) == [
        "Lake Churned Clinic", "Lakeside Orthopedics", "Lakewood Dental"]
    assert _names(client.get(_url(org, "/?q=LAKE&status=churned")).get_data(as_text=True)) == ["Lake Churned Clinic"]
    fragment = client.get(_url(org, "/?q=north"), headers=HTMX).get_data(as_text=True)
    assert "<html" not in fragment and _names(fragment) == ["Northgate Cardiology"]
    assert "No companies match “zzz”" in text(client.get(_url(org, "/?q=zzz")).get_data(as_text=True))
    assert client.get(_url(org, "/?q=%25_%5C")).status_code == 200  # wildcards are taken literally


def test_list_pages_by_keyset_in_name_order(app, client, org):
    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.add_all([CustomerAccount(name=f"Account {i:02d}") for i in range(30)])
        db.session.commit()
        db.session.remove()
    login(client, app, org["viewer"])
    first = client.get(_url(org, "/")).get_data(as_text=True)
    assert _names(first) == [f"Account {i:02d}" for i in range(25)]
    next_url = unescape(re.search(r'<a href="([^"]+)"[^>]*>Next →</a>', first).group(1))
    assert "after=" in next_url and "page=" not in next_url
    second = client.get(next_url).get_data(as_text=True)
    assert _names(second) == [f"Account {i:02d}" for i in range(25, 30)]
    assert "Next →" not in second


def test_agent_adds_an_account_with_an_owner_and_the_audit_log_records_it(app, client, org):
    login(client, app, org["agent"])
    form = client.get(_url(org, "/new")).get_data(as_text=True)
    assert label(form, "name") == "Name" and label(form, "owner_id") == "Account owner"
    assert "Val Viewer" in options(form, "owner_id") and options(form, "owner_id")[0] == "Nobody"
    response = client.post(_url(org, "/new"), data={"name": "Lakeside Orthopedics", "external_id": "HS-1042",
                                                     "owner_id": org["manager"], "notes": "Signed in 2021"})
    assert response.status_code == 303
    account_id = int(response.headers["Location"].rsplit("/", 1)[1])
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Company added." in page
    for fact in ("Lakeside Orthopedics", "HS-1042", "Mia Manager", "Signed in 2021", "Active"):
        assert fact in text(page)
    account = _account(app, org["tenant_id"], account_id)
    assert (account.name, account.external_id, account.owner_id, account.status) == (
        "Lakeside Orthopedics", "HS-1042", org["manager"], "active")
    entry = audit_entries(app, org["tenant_id"])[-1]
    assert entry.area == "accounts" and entry.summary == "Added account Lakeside Orthopedics"
    assert entry.changes["owner"] == [None, "Mia Manager"]


def test_editing_an_account_changes_it_and_audits_before_and_after(app, client, org):
    account_id = make_account(app, org["tenant_id"], "Lakeside Ortho")
    login(client, app, org["manager"])
    form = client.get(_url(org, f"/{account_id}/edit")).get_data(as_text=True)
    assert 'value="Lakeside Ortho"' in form
    response = client.post(_url(org, f"/{account_id}/edit"), data={"name": "Lakeside Orthopedics",
                                                                   "owner_id": org["agent"], "notes": ""})
    assert response.status_code == 303
    account = _account(app, org["tenant_id"], account_id)
    assert (account.name, account.owner_id) == ("Lakeside Orthopedics", org["agent"])
    entry = audit_entries(app, org["tenant_id"])[-1]
    assert entry.changes == {"name": ["Lakeside Ortho", "Lakeside Orthopedics"], "owner": [None, "Alex Agent"]}


def test_a_taken_name_a_blank_name_and_a_foreign_owner_are_refused_next_to_their_fields(app, client, org, other_org):
    make_account(app, org["tenant_id"], "Lakeside Orthopedics")
    login(client, app, org["agent"])
    response = client.post(_url(org, "/new"), data={"name": "lakeside orthopedics", "owner_id": 0})
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "name") == "Another account already has this name."
    response = client.post(_url(org, "/new"), data={"name": "  ", "owner_id": 0})
    assert field_error(response.get_data(as_text=True), "name") == "Enter the account's name."
    response = client.post(_url(org, "/new"), data={"name": "Harbor Pediatrics", "owner_id": other_org["admin"]})
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "owner_id") == "Choose an active member of your organisation."
    response = client.post(_url(org, "/new"), data={"name": "Harbor Pediatrics", "owner_id": "99999999999999"})
    assert response.status_code == 422
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.execute(select(CustomerAccount.name)).scalars().all() == ["Lakeside Orthopedics"]
        db.session.remove()


def test_status_changes_need_a_reason_and_are_kept_as_history_and_in_the_audit_log(app, client, org):
    account_id = make_account(app, org["tenant_id"], "Lakeside Orthopedics")
    login(client, app, org["agent"])
    page = client.get(_url(org, f"/{account_id}")).get_data(as_text=True)
    assert options(page, "status") == ["Active", "At risk", "Churned"]
    refused = client.post(_url(org, f"/{account_id}/status"), data={"status": "at_risk", "reason": ""})
    assert refused.status_code == 422
    assert field_error(refused.get_data(as_text=True), "reason") == "Say why the account's status changes."
    assert client.post(_url(org, f"/{account_id}/status"), data={"status": "nonsense", "reason": "x"}).status_code == 422
    assert _history(app, org["tenant_id"], account_id) == []

    client.post(_url(org, f"/{account_id}/status"), data={"status": "at_risk", "reason": "Denials piling up"})
    response = client.post(_url(org, f"/{account_id}/status"), data={"status": "active", "reason": "Back on track"})
    assert response.status_code == 303
    assert _history(app, org["tenant_id"], account_id) == [
        ("active", "at_risk", "Denials piling up", org["agent"], None),
        ("at_risk", "active", "Back on track", org["agent"], None)]
    page = text(client.get(_url(org, f"/{account_id}")).get_data(as_text=True))
    assert "Active → At risk Denials piling up Alex Agent" in page
    assert "At risk → Active Back on track Alex Agent" in page
    assert page.index("Back on track") < page.index("Denials piling up")  # newest first
    summaries = [e.summary for e in audit_entries(app, org["tenant_id"])]
    assert "Marked account Lakeside Orthopedics at risk" in summaries
    assert "Marked account Lakeside Orthopedics active" in summaries


def test_the_account_team_holds_members_in_their_functions(app, client, org):
    account_id = make_account(app, org["tenant_id"], "Lakeside Orthopedics")
    login(client, app, org["agent"])
    page = client.get(_url(org, f"/{account_id}")).get_data(as_text=True)
    assert options(page, "function_id") == ["No function", "Business analyst", "BPA", "Manager", "Director",
                                            "Account manager"]
    manager = _function_id(app, org["tenant_id"], "Manager")
    response = client.post(_url(org, f"/{account_id}/team"), data={"user_id": org["manager"], "function_id": manager})
    assert response.status_code == 303
    again = client.post(_url(org, f"/{account_id}/team"), data={"user_id": org["manager"], "function_id": manager})
    assert again.status_code == 422
    assert field_error(again.get_data(as_text=True), "user_id") == (
        "Mia Manager is already on this account's team in that function.")
    assert client.post(_url(org, f"/{account_id}/team"), data={"user_id": 0}).status_code == 422
    page = text(client.get(_url(org, f"/{account_id}")).get_data(as_text=True))
    assert "Mia Manager — Manager" in page

    with app.app_context(), tenant_context(org["tenant_id"]):
        member_id = db.session.execute(select(AccountTeamMember.id)).scalar_one()
        db.session.remove()
    confirm = client.get(_url(org, f"/{account_id}/team/{member_id}/remove")).get_data(as_text=True)
    assert "Remove Mia Manager (Manager) from the team of Lakeside Orthopedics?" in text(confirm)
    assert client.post(_url(org, f"/{account_id}/team/{member_id}/remove")).status_code == 303
    assert "Nobody is on this company's team yet." in text(client.get(_url(org, f"/{account_id}")).get_data(as_text=True))
    assert [e.summary for e in audit_entries(app, org["tenant_id"])][-2:] == [
        "Added Mia Manager to the team of account Lakeside Orthopedics (Manager)",
        "Removed Mia Manager from the team of account Lakeside Orthopedics (Manager)"]


def test_viewers_read_accounts_but_cannot_change_them(app, client, org):
    account_id = make_account(app, org["tenant_id"], "Lakeside Orthopedics")
    login(client, app, org["viewer"])
    page = client.get(_url(org, f"/{account_id}")).get_data(as_text=True)
    assert "Lakeside Orthopedics" in page and "Change status" not in page and "Edit company" not in page
    assert client.get(_url(org, "/new")).status_code == 403
    assert client.post(_url(org, "/new"), data={"name": "X"}).status_code == 403
    assert client.get(_url(org, f"/{account_id}/edit")).status_code == 403
    assert client.post(_url(org, f"/{account_id}/status"), data={"status": "churned", "reason": "x"}).status_code == 403
    assert client.post(_url(org, f"/{account_id}/team"), data={"user_id": org["viewer"]}).status_code == 403
    assert _history(app, org["tenant_id"], account_id) == []


def test_another_organisations_account_is_a_404(app, client, org, other_org):
    theirs = make_account(app, other_org["tenant_id"], "Bayside Rehab")
    with app.app_context(), tenant_context(other_org["tenant_id"]):
        seat = AccountTeamMember(account_id=theirs, user_id=other_org["agent"])
        db.session.add(seat)
        db.session.commit()
        seat_id = seat.id
        db.session.remove()
    ours = make_account(app, org["tenant_id"], "Lakeside Orthopedics")
    login(client, app, org["admin"])
    for path in (f"/{theirs}", f"/{theirs}/edit", f"/{theirs}/responses", f"/{theirs}/team/{seat_id}/remove",
                 f"/{ours}/team/{seat_id}/remove"):
        assert client.get(_url(org, path)).status_code == 404, path
    for path, data in ((f"/{theirs}/edit", {"name": "Mine now"}), (f"/{theirs}/status", {"status": "churned", "reason": "x"}),
                       (f"/{theirs}/team", {"user_id": org["agent"]}), (f"/{theirs}/team/{seat_id}/remove", {}),
                       (f"/{ours}/team/{seat_id}/remove", {})):
        assert client.post(_url(org, path), data=data).status_code == 404, path
    assert _account(app, other_org["tenant_id"], theirs).name == "Bayside Rehab"
    assert "Bayside Rehab" not in client.get(_url(org, "/?q=bayside")).get_data(as_text=True)


def test_the_account_page_shows_contacts_answers_nps_by_month_tickets_and_history(app, client, org):
    ticket_id = open_ticket(app, org, "Dana Whitfield", 3, "Claims sat for weeks", account="Lakeside Orthopedics")
    marcus = make_contact(app, org["tenant_id"], "Marcus Reyes", account="Lakeside Orthopedics")
    answer(app, org["tenant_id"], marcus, 10, "Great team")
    make_contact(app, org["tenant_id"], "Olga Elsewhere", account="Northgate Cardiology")
    with app.app_context(), tenant_context(org["tenant_id"]):
        account_id = db.session.execute(select(CustomerAccount.id).where(
            CustomerAccount.name == "Lakeside Orthopedics")).scalar_one()
        db.session.remove()
    login(client, app, org["viewer"])
    page = client.get(_url(org, f"/{account_id}")).get_data(as_text=True)
    shown = text(page)
    assert "Dana Whitfield" in shown and "Marcus Reyes" in shown and "Olga Elsewhere" not in shown
    assert "Claims sat for weeks" in shown and "Great team" in shown
    # NPS by month: one promoter and one detractor of two answers is 0, with a bar that needs no script.
    month = re.search(r'<table class="compact nps-months">.*?</table>', page, re.S).group(0)
    assert re.search(r"<td>2</td>\s*<td>1</td>\s*<td>1</td>", month)
    assert '<meter min="0" max="200"' in month and 'value="100"' in month and 'aria-label="NPS 0 in ' in month
    assert f'href="/t/acme-billing/tickets/{ticket_id}">D-0001</a>' in page
    assert "No closed tickets." in shown


def test_the_answers_list_pages_by_keyset_and_the_page_query_count_stays_fixed(app, client, org):
    account_id = make_account(app, org["tenant_id"], "Lakeside Orthopedics")
    contact_id = make_contact(app, org["tenant_id"], "Dana Whitfield", account="Lakeside Orthopedics")
    login(client, app, org["viewer"])
    client.get(_url(org, f"/{account_id}"))
    with count_queries(app) as few:
        client.get(_url(org, f"/{account_id}"))
    for i in range(25):
        answer(app, org["tenant_id"], contact_id, 8, f"Answer {i:02d}")
    for i in range(3):
        open_ticket(app, org, f"Person {i}", 2, account="Lakeside Orthopedics")
    with count_queries(app) as many:
        page = client.get(_url(org, f"/{account_id}")).get_data(as_text=True)
    assert len(many) == len(few)
    assert "Answer 24" in page and "Answer 05" not in page  # newest first, 20 a page
    next_url = unescape(re.search(r'<a href="([^"]+)"[^>]*>Next →</a>', page).group(1))
    assert f"/accounts/{account_id}/responses?after=" in next_url
    fragment = client.get(next_url, headers=HTMX).get_data(as_text=True)
    assert "<html" not in fragment and "Answer 04" in fragment and "Answer 24" not in fragment
