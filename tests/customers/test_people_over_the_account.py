"""The people over an account reach the customer: "Save / At risk" from the ticket, every member's own profile,
the introduction email's account merge fields, the editable list of team functions and the demo's accounts."""
from __future__ import annotations

from email.utils import parseaddr

from sqlalchemy import select

from app import emailtemplates
from app.accounts.models import User
from app.customers.models import AccountFunction, AccountStatusChange, AccountTeamMember, CustomerAccount
from app.extensions import db
from app.tenancy import tenant_context
from tests.smtp_sink import body_html, body_text
from tests.support.workflow import set_sla
from tests.support.data import add_member, audit_entries, login, make_account, make_org, run_jobs
from tests.support.html import field_error, label, text
from tests.support.mail import outbox
from tests.support.tickets import HTMX, count_queries, open_ticket, ticket_state, ticket_url


def _seat(app, tenant_id: int, account_id: int, user_id: int, function: str) -> None:
    with app.app_context(), tenant_context(tenant_id):
        function_id = db.session.execute(select(AccountFunction.id).where(AccountFunction.name == function)).scalar_one()
        db.session.add(AccountTeamMember(account_id=account_id, user_id=user_id, function_id=function_id))
        db.session.commit()
        db.session.remove()


def _profile(app, user_id: int, **values) -> None:
    with app.app_context():
        user = db.session.get(User, user_id)
        for key, value in values.items():
            setattr(user, key, value)
        db.session.commit()
        db.session.remove()


def _account_with_leaders(app, org) -> int:
    """Lakeside Orthopedics, owned by the manager, with a manager, a director and a BPA on its team."""
    account_id = make_account(app, org["tenant_id"], "Lakeside Orthopedics", owner_id=org["manager"])
    director = add_member(app, org["tenant_id"], "manager", "Dee Director", "dee@acme.example")
    _profile(app, org["manager"], job_title="Billing manager", phone="+1 555 0111")
    _profile(app, director, job_title="Director of operations", phone="+1 555 0112")
    _seat(app, org["tenant_id"], account_id, org["manager"], "Manager")
    _seat(app, org["tenant_id"], account_id, director, "Director")
    _seat(app, org["tenant_id"], account_id, org["viewer"], "BPA")
    return account_id


# --- The introduction email -----------------------------------------------------------------------------

def test_the_intro_email_carries_the_accounts_manager_and_director_details_from_the_merge_fields(
        app, client, org, smtp_sink):
    _account_with_leaders(app, org)
    set_sla(app, org["tenant_id"], route_to_account_owner=False)  # round robin: the agent, not the owner
    login(client, app, org["agent"])
    saved = client.post(f"/t/{org['slug']}/profile/", data={
        "name": "Alex Agent", "job_title": "Business analyst", "phone": "+1 555 0109", "email_signature": ""})
    assert saved.status_code == 303
    open_ticket(app, org, "Dana Whitfield", 3, account="Lakeside Orthopedics")
    run_jobs(app)
    [intro] = [m for m in smtp_sink.wait_for(3) if m["X-Turnaround-Kind"] == "detractor_intro"]
    assert parseaddr(str(intro["To"]))[1] == "dana.whitfield@client.example"
    body = body_text(intro).replace("\r\n", "\n")
    assert ("these are the managers and directors over your account:\n"
            "Mia Manager, Billing manager, mia@acme.example, +1 555 0111\n"
            "Dee Director, Director of operations, dee@acme.example, +1 555 0112") in body
    assert "Val Viewer" not in body  # a BPA is neither a manager nor a director
    assert "Alex Agent\nBusiness analyst\n+1 555 0109\nAcme Billing" in body  # {agent.title} and {agent.phone}
    html = body_html(intro)
    assert "Mia Manager, Billing manager, mia@acme.example, +1 555 0111<br>Dee Director" in html
    [row] = outbox(app, org["tenant_id"], "detractor_intro")
    assert "Dee Director, Director of operations, dee@acme.example, +1 555 0112" in row.text_body


def test_the_intro_email_leaves_the_leaders_paragraph_out_when_the_account_has_none(app, org):
    make_account(app, org["tenant_id"], "Quiet Clinic")
    open_ticket(app, org, "Dana Whitfield", 3, account="Quiet Clinic")
    open_ticket(app, org, "Wen Li", 2)  # no account at all
    rows = outbox(app, org["tenant_id"], "detractor_intro")
    assert len(rows) == 2
    for row in rows:
        assert "managers and directors" not in row.text_body and "managers and directors" not in row.html_body
        assert "Could you reply with a convenient time" in row.text_body and "\n\n\n" not in row.text_body


def test_account_merge_values_are_read_in_one_query_for_any_number_of_accounts(app, org):
    first = _account_with_leaders(app, org)
    second = make_account(app, org["tenant_id"], "Harbor Pediatrics", owner_id=org["agent"])
    _seat(app, org["tenant_id"], second, org["admin"], "Director")
    with count_queries(app) as statements:
        with app.app_context(), tenant_context(org["tenant_id"]):
            values = emailtemplates.account_values([first, second, first])
            db.session.remove()
    assert len(statements) == 1
    assert values[first]["account.owner.name"] == "Mia Manager"
    assert values[first]["account.owner.title"] == "Billing manager"
    assert values[second]["account.managers"] == ""
    assert values[second]["account.directors"].startswith("Ada Admin, ")
    assert values[second]["account.owner.email"] == "alex@acme.example"


def test_the_template_editor_lists_the_account_and_agent_fields(app, client, org):
    login(client, app, org["admin"])
    for key in ("detractor_intro", "second_outreach", "closing_followup"):
        page = client.get(f"/t/{org['slug']}/settings/email-templates/{key}").get_data(as_text=True)
        for field in ("{account.name}", "{account.owner.name}", "{account.owner.title}", "{account.owner.email}",
                      "{account.owner.phone}", "{account.managers}", "{account.directors}", "{agent.title}",
                      "{agent.email}", "{agent.signature}"):
            assert field in text(page), (key, field)
        assert "whose function is Manager" in text(page)
    saved = client.post(f"/t/{org['slug']}/settings/email-templates/second_outreach", data={
        "subject": "About {account.name}", "body": "Hi {contact.first_name}\n\n{account.owner.name}\n{agent.signature}"})
    assert saved.status_code == 303
    refused = client.post(f"/t/{org['slug']}/settings/email-templates/second_outreach", data={
        "subject": "x", "body": "{account.owner.salary}"})
    assert refused.status_code == 422 and "{account.owner.salary}" in text(refused.get_data(as_text=True))


# --- Save / At risk from the ticket -------------------------------------------------------------------

def test_marking_the_account_at_risk_from_the_ticket_links_the_two(app, client, org):
    account_id = _account_with_leaders(app, org)
    ticket_id = open_ticket(app, org, "Dana Whitfield", 3, account="Lakeside Orthopedics")
    login(client, app, org["agent"])
    page = client.get(ticket_url(org, ticket_id)).get_data(as_text=True)
    panel = text(page[page.index('<article id="account-panel"'):])
    assert panel.startswith("Company Name Lakeside Orthopedics Status Active Owner Mia Manager")
    assert "Save / At risk" in panel and label(page, "at_risk-reason") == "Why is the account at risk?"

    refused = client.post(f"/t/{org['slug']}/accounts/from-ticket/{ticket_id}/at-risk",
                          data={"at_risk-reason": " "}, headers=HTMX)
    assert refused.status_code == 422
    assert refused.headers["HX-Retarget"] == "#account-panel"
    assert field_error(refused.get_data(as_text=True), "at_risk-reason") == "Say why the account is at risk."

    response = client.post(f"/t/{org['slug']}/accounts/from-ticket/{ticket_id}/at-risk",
                           data={"at_risk-reason": "Threatening to leave over denials"})
    assert response.status_code == 303
    page = client.get(ticket_url(org, ticket_id)).get_data(as_text=True)
    assert "Lakeside Orthopedics is marked at risk." in page
    panel = text(page[page.index('<article id="account-panel"'):])
    assert "Status At risk Threatening to leave over denials" in panel
    assert "Alex Agent marked Lakeside Orthopedics at risk (Save / At risk)." in text(page)
    with app.app_context(), tenant_context(org["tenant_id"]):
        change = db.session.execute(select(AccountStatusChange)).scalar_one()
        assert (change.account_id, change.ticket_id, change.status, change.from_status, change.changed_by_id) == (
            account_id, ticket_id, "at_risk", "active", org["agent"])
        db.session.remove()
    assert ticket_state(app, org["tenant_id"], ticket_id)["kinds"][0] == "account_status"
    history = text(client.get(f"/t/{org['slug']}/accounts/{account_id}").get_data(as_text=True))
    assert "Active → At risk Threatening to leave over denials Alex Agent D-0001" in history
    assert audit_entries(app, org["tenant_id"])[-1].summary == (
        "Marked account Lakeside Orthopedics at risk from ticket D-0001")


def test_a_viewer_sees_the_accounts_status_but_cannot_mark_it(app, client, org):
    make_account(app, org["tenant_id"], "Lakeside Orthopedics")
    ticket_id = open_ticket(app, org, "Dana Whitfield", 3, account="Lakeside Orthopedics")
    login(client, app, org["viewer"])
    page = client.get(ticket_url(org, ticket_id)).get_data(as_text=True)
    assert "Status Active" in text(page) and "Save / At risk" not in page
    response = client.post(f"/t/{org['slug']}/accounts/from-ticket/{ticket_id}/at-risk",
                           data={"at_risk-reason": "No"})
    assert response.status_code == 403


def test_a_ticket_whose_contact_has_no_account_offers_no_at_risk_form(app, client, org):
    ticket_id = open_ticket(app, org, "Wen Li", 2)
    login(client, app, org["agent"])
    page = client.get(ticket_url(org, ticket_id)).get_data(as_text=True)
    assert "Wen Li belongs to no company." in text(page) and "Save / At risk" not in page
    response = client.post(f"/t/{org['slug']}/accounts/from-ticket/{ticket_id}/at-risk",
                           data={"at_risk-reason": "Why not"})
    assert response.status_code == 404


# --- My profile ---------------------------------------------------------------------------------------

def test_every_member_edits_their_own_profile_from_the_header_menu(app, client, org):
    login(client, app, org["viewer"])
    board = client.get(f"/t/{org['slug']}/").get_data(as_text=True)
    assert f'<a href="/t/{org["slug"]}/profile/" >My profile</a>' in board
    page = client.get(f"/t/{org['slug']}/profile/").get_data(as_text=True)
    assert [label(page, f) for f in ("name", "job_title", "phone", "email_signature")] == [
        "Name", "Job title", "Phone", "Email signature"]
    assert 'value="Val Viewer"' in page
    response = client.post(f"/t/{org['slug']}/profile/", data={
        "name": "Val Viewer", "job_title": "Director of customer success", "phone": "+1 555 0177",
        "email_signature": "Val\nCustomer Success"})
    assert response.status_code == 303
    assert "Profile saved." in client.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        user = db.session.get(User, org["viewer"])
        assert (user.job_title, user.phone, user.email_signature) == (
            "Director of customer success", "+1 555 0177", "Val\nCustomer Success")
        db.session.remove()
    refused = client.post(f"/t/{org['slug']}/profile/", data={"name": " ", "job_title": "A\nB"})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert field_error(page, "name") == "Enter your name."
    assert field_error(page, "job_title") == "Keep this on one line, without line breaks."


# --- The function list in Settings ---------------------------------------------------------------------

def test_admins_edit_the_account_team_functions_and_managers_only_read_them(app, client, org):
    url = f"/t/{org['slug']}/settings/account_functions"
    login(client, app, org["manager"])
    page = text(client.get(url).get_data(as_text=True))
    for name in ("Business analyst", "BPA", "Manager", "Director", "Account manager"):
        assert name in page
    assert "Only admins can change these settings." in page
    assert client.post(url, data={"new-name": "Operations consultant"}).status_code == 403
    agent = app.test_client()
    login(agent, app, org["agent"])
    assert agent.get(url).status_code == 403

    admin = app.test_client()
    login(admin, app, org["admin"])
    assert "Account-team functions" in text(admin.get(f"/t/{org['slug']}/settings/").get_data(as_text=True))
    assert admin.post(url, data={"new-name": "Operations consultant"}).status_code == 303
    taken = admin.post(url, data={"new-name": "manager"})
    assert taken.status_code == 422
    assert field_error(taken.get_data(as_text=True), "new-name") == "There is already a function with this name."
    with app.app_context(), tenant_context(org["tenant_id"]):
        functions = {f.name: f.id for f in db.session.execute(select(AccountFunction)).scalars()}
        db.session.remove()
    bpa = functions["BPA"]
    assert admin.post(f"{url}/{bpa}/rename", data={f"function-{bpa}-name": "Business process analyst"}).status_code == 303
    assert admin.post(f"{url}/{functions['Account manager']}/retire").status_code == 303
    account_id = make_account(app, org["tenant_id"], "Lakeside Orthopedics")
    account_page = admin.get(f"/t/{org['slug']}/accounts/{account_id}").get_data(as_text=True)
    from tests.support.html import options

    assert options(account_page, "function_id") == ["No function", "Business analyst", "Business process analyst",
                                                    "Manager", "Director", "Operations consultant"]
    assert [e.summary for e in audit_entries(app, org["tenant_id"])][-3:] == [
        "Added account-team function Operations consultant",
        "Renamed account-team function BPA to Business process analyst",
        "Retired account-team function Account manager"]


def test_a_new_organisation_starts_with_the_default_functions(app):
    tenant_id, _ = make_org(app, "Fresh Start PT", kind="clinic", email="owner@fresh.example")
    with app.app_context(), tenant_context(tenant_id):
        names = db.session.execute(select(AccountFunction.name).order_by(AccountFunction.position)).scalars().all()
        db.session.remove()
    assert names == ["Business analyst", "BPA", "Manager", "Director", "Account manager"]


def test_the_demo_has_accounts_with_owners_and_account_teams(app):
    from app.cli import DEMO_SLUG, seed_demo
    from app.accounts.models import Tenant

    with app.app_context():
        assert seed_demo() is True
        tenant_id = db.session.execute(select(Tenant.id).where(Tenant.slug == DEMO_SLUG)).scalar_one()
        db.session.remove()
    with app.app_context(), tenant_context(tenant_id):
        accounts = db.session.execute(select(CustomerAccount)).scalars().all()
        assert len(accounts) == 6 and all(a.owner_id for a in accounts)
        lakeside = next(a for a in accounts if a.name == "Lakeside Orthopedics")
        values = emailtemplates.account_values([lakeside.id])[lakeside.id]
        db.session.remove()
    assert values["account.managers"].startswith("Pat Morgan, Billing manager")
    assert values["account.directors"].startswith("Alex Chen, Director of operations")
