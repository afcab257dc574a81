"""Notification lists: admins add, change and delete them; tickets changing hands or closing email the lists."""
from __future__ import annotations

from sqlalchemy import event, select

from app.accounts.models import Membership
from app.extensions import db
from app.mail import OutboxMessage
from app.notifications import notify, recipients
from app.settings.models import NotificationList
from app.tenancy import tenant_context
from app.tickets.models import Ticket
from tests.support.data import add_member, answer, audit_entries, login, make_contact, managers_list_id, run_jobs
from tests.support.html import field_error
from tests.support.tickets import close, reassign

HTMX = {"HX-Request": "true"}


def _url(org, path: str = "") -> str:
    return f"/t/{org['slug']}/settings/notifications{path}"


def _lists(app, tenant_id: int) -> dict[str, dict]:
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(select(NotificationList)).scalars().all()
        lists = {nl.name: {"events": nl.events, "roles": nl.roles, "member_ids": nl.member_ids,
                           "addresses": nl.addresses} for nl in rows}
        db.session.remove()
    return lists


def _audit(app, tenant_id: int) -> list[tuple[str, str, dict]]:
    return [(e.area, e.summary, dict(e.changes)) for e in audit_entries(app, tenant_id)]


def _add_list(app, tenant_id: int, name: str, events, roles=(), member_ids=(), addresses=()) -> int:
    with app.app_context(), tenant_context(tenant_id):
        nl = NotificationList(name=name, events=list(events), roles=list(roles), member_ids=list(member_ids),
                              addresses=list(addresses))
        db.session.add(nl)
        db.session.commit()
        list_id = nl.id
        db.session.remove()
    return list_id


def _ticket(app, tenant_id: int, name: str = "Casey Client") -> int:
    response_id = answer(app, tenant_id, make_contact(app, tenant_id, name), 3, "The invoice was wrong")
    with app.app_context(), tenant_context(tenant_id):
        ticket_id = db.session.execute(select(Ticket.id).where(Ticket.response_id == response_id)).scalar_one()
        db.session.remove()
    return ticket_id


def _kinds_to(smtp_sink, address: str) -> list[str]:
    return sorted(m["X-Turnaround-Kind"] for m in smtp_sink.to(address))


# --- The page and its changes -----------------------------------------------------------------------

def test_a_new_organisation_starts_with_a_managers_list_for_every_event(app, client, org):
    assert _lists(app, org["tenant_id"]) == {"Managers": {
        "events": ["ticket_opened", "sla_at_risk", "sla_breached", "ticket_reassigned", "ticket_closed",
                   "weekly_digest"],
        "roles": ["manager", "admin"], "member_ids": [], "addresses": []}}
    login(client, app, org["admin"])
    page = client.get(_url(org)).get_data(as_text=True)
    assert "Managers" in page and "Everyone who is Manager or Admin" in page
    assert "Ticket opened, SLA at risk, SLA breached, Ticket reassigned, Ticket closed" in page


def test_admin_adds_a_list_by_plain_post_and_the_change_is_audited(app, client, org):
    login(client, app, org["admin"])
    response = client.post(_url(org, "/lists"), data={
        "name": "Billing leads", "events": ["ticket_closed", "sla_breached"], "roles": ["agent"],
        "member_ids": [str(org["viewer"])], "addresses": "fran@cs.example, Ops@Outside.example\nfran@CS.example",
    })
    assert response.status_code == 303 and response.headers["Location"].endswith(_url(org))
    assert _lists(app, org["tenant_id"])["Billing leads"] == {
        "events": ["sla_breached", "ticket_closed"], "roles": ["agent"], "member_ids": [org["viewer"]],
        "addresses": ["fran@cs.example", "Ops@Outside.example"]}
    area, summary, changes = _audit(app, org["tenant_id"])[-1]
    assert (area, summary) == ("notifications", "Added the notification list “Billing leads”")
    assert changes["members"] == [None, ["Val Viewer"]]
    assert changes["events"] == [None, ["SLA breached", "Ticket closed"]]
    assert "Added the list “Billing leads”." in client.get(response.headers["Location"]).get_data(as_text=True)


def test_admin_adds_a_list_through_htmx_and_gets_the_lists_fragment_back(app, client, org):
    login(client, app, org["admin"])
    response = client.post(_url(org, "/lists"), headers=HTMX, data={
        "name": "Customer success", "events": ["ticket_opened"], "addresses": "fran@cs.example"})
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert "<!doctype html>" not in fragment and '<div id="flashes" hx-swap-oob="true">' in fragment
    assert "Customer success" in fragment and "fran@cs.example" in fragment
    assert "Customer success" in _lists(app, org["tenant_id"])


def test_a_list_needs_an_event_and_someone_to_send_to(app, client, org):
    login(client, app, org["admin"])
    response = client.post(_url(org, "/lists"), headers=HTMX, data={"name": "Empty", "addresses": ""})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_error(page, "events").startswith("Choose at least one event this list hears about.")
    response = client.post(_url(org, "/lists"), headers=HTMX, data={"name": "Empty", "events": ["ticket_opened"]})
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "roles").startswith(
        "Choose at least one role, member or outside address")
    assert set(_lists(app, org["tenant_id"])) == {"Managers"}
    assert _audit(app, org["tenant_id"]) == []


def test_a_bad_outside_address_is_named_next_to_the_field_and_nothing_is_saved(app, client, org):
    login(client, app, org["admin"])
    response = client.post(_url(org, "/lists"), data={
        "name": "Outside", "events": ["ticket_opened"], "addresses": "good@example.com\nnot-an-address"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "<!doctype html>" in page
    assert field_error(page, "addresses").startswith("Not a valid email address: “not-an-address”.")
    assert "Outside" not in _lists(app, org["tenant_id"])


def test_list_names_are_unique_within_an_organisation_but_not_across_them(app, client, org, other_org):
    login(client, app, org["admin"])
    response = client.post(_url(org, "/lists"), data={"name": "managers", "events": ["ticket_opened"],
                                                      "roles": ["agent"]})
    assert response.status_code == 422
    assert "There is already a list called “managers”" in response.get_data(as_text=True)
    assert set(_lists(app, org["tenant_id"])) == {"Managers"}
    # Organisation B has its own "Managers" list, which A's did not stop.
    assert set(_lists(app, other_org["tenant_id"])) == {"Managers"}


def test_admin_edits_a_list_and_the_audit_shows_each_change_before_and_after(app, client, org):
    list_id = managers_list_id(app, org["tenant_id"])
    login(client, app, org["admin"])
    form = client.get(_url(org, f"/lists/{list_id}")).get_data(as_text=True)
    assert 'value="Managers"' in form and 'checked id="roles-1"' in form
    response = client.post(_url(org, f"/lists/{list_id}"), headers=HTMX, data={
        "name": "Leads", "events": ["ticket_opened", "ticket_closed"], "roles": ["manager"],
        "member_ids": [str(org["agent"])], "addresses": ""})
    assert response.status_code == 200
    assert "Saved the list “Leads”." in response.get_data(as_text=True)
    assert _lists(app, org["tenant_id"]) == {"Leads": {"events": ["ticket_opened", "ticket_closed"],
                                                       "roles": ["manager"], "member_ids": [org["agent"]],
                                                       "addresses": []}}
    area, summary, changes = _audit(app, org["tenant_id"])[-1]
    assert summary == "Changed the notification list “Leads”"
    assert changes == {
        "name": ["Managers", "Leads"],
        "events": [["Ticket opened", "SLA at risk", "SLA breached", "Ticket reassigned", "Ticket closed",
                    "Weekly digest"],
                   ["Ticket opened", "Ticket closed"]],
        "roles": [["Admin", "Manager"], ["Manager"]],
        "members": [[], ["Alex Agent"]],
    }


def test_editing_a_list_with_no_changes_writes_no_audit_entry(app, client, org):
    list_id = managers_list_id(app, org["tenant_id"])
    login(client, app, org["admin"])
    response = client.post(_url(org, f"/lists/{list_id}"), data={
        "name": "Managers", "events": ["ticket_opened", "sla_at_risk", "sla_breached", "ticket_reassigned",
                                       "ticket_closed", "weekly_digest"], "roles": ["manager", "admin"]})
    assert response.status_code == 303
    assert _audit(app, org["tenant_id"]) == []


def test_admin_deletes_a_list_and_the_page_warns_that_nobody_hears_about_those_events(app, client, org):
    list_id = managers_list_id(app, org["tenant_id"])
    login(client, app, org["admin"])
    response = client.post(_url(org, f"/lists/{list_id}/delete"), headers=HTMX)
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert "Deleted the list “Managers”." in fragment
    assert ("No list hears about: Ticket opened, SLA at risk, SLA breached, Ticket reassigned, Ticket closed, "
            "Weekly digest."
            in fragment)
    assert _lists(app, org["tenant_id"]) == {}
    assert _audit(app, org["tenant_id"])[-1][1] == "Deleted the notification list “Managers”"


def test_a_list_is_deleted_by_plain_post_too(app, client, org):
    list_id = _add_list(app, org["tenant_id"], "Temporary", ["ticket_closed"], addresses=["temp@cs.example"])
    login(client, app, org["admin"])
    response = client.post(_url(org, f"/lists/{list_id}/delete"))
    assert response.status_code == 303 and response.headers["Location"].endswith(_url(org))
    assert set(_lists(app, org["tenant_id"])) == {"Managers"}


def test_lists_are_paginated_and_deleting_the_last_one_on_a_page_shows_the_page_before(app, client, org):
    for i in range(20):
        _add_list(app, org["tenant_id"], f"List {i:02d}", ["ticket_closed"], addresses=[f"p{i}@cs.example"])
    login(client, app, org["admin"])
    first = client.get(_url(org)).get_data(as_text=True)
    assert "Page 1 of 2 (21 in all)" in first and ">Managers</a>" not in first and ">List 00</a>" in first
    second = client.get(_url(org, "?page=2"), headers=HTMX).get_data(as_text=True)
    assert ">Managers</a>" in second and ">List 00</a>" not in second
    list_id = managers_list_id(app, org["tenant_id"])
    response = client.post(_url(org, f"/lists/{list_id}/delete?page=2"), headers=HTMX)
    fragment = response.get_data(as_text=True)
    assert ">List 19</a>" in fragment and "No notification lists yet" not in fragment


def test_managers_may_look_but_every_change_is_403_and_agents_cannot_even_look(app, client, org):
    list_id = managers_list_id(app, org["tenant_id"])
    login(client, app, org["manager"])
    page = client.get(_url(org)).get_data(as_text=True)
    assert "Managers" in page and "Add list" not in page and "Delete list" not in page
    assert "PHI-safe alerts are <strong>off</strong>" in page
    assert client.get(_url(org, f"/lists/{list_id}")).status_code == 200
    for path, data in [("/lists", {"name": "X", "events": ["ticket_opened"], "roles": ["agent"]}),
                       (f"/lists/{list_id}", {"name": "X", "events": ["ticket_opened"], "roles": ["agent"]}),
                       (f"/lists/{list_id}/delete", {}), ("/phi-safe", {"phi_safe_alerts": "y"})]:
        assert client.post(_url(org, path), data=data).status_code == 403, path
    for role in ("agent", "viewer"):
        other = app.test_client()
        login(other, app, org[role])
        assert other.get(_url(org)).status_code == 403
        assert other.post(_url(org, f"/lists/{list_id}/delete")).status_code == 403
    assert set(_lists(app, org["tenant_id"])) == {"Managers"}
    assert _audit(app, org["tenant_id"]) == []


def test_another_organisations_admin_gets_404_for_a_list_and_changes_nothing(app, client, org, other_org):
    list_id = managers_list_id(app, org["tenant_id"])
    login(client, app, other_org["admin"])
    for slug in (other_org["slug"], org["slug"]):
        base = f"/t/{slug}/settings/notifications/lists/{list_id}"
        assert client.get(base).status_code == 404
        hijack = {"name": "Hijack", "events": ["ticket_opened"], "roles": ["agent"]}
        assert client.post(base, data=hijack).status_code == 404
        assert client.post(f"{base}/delete").status_code == 404
    assert set(_lists(app, org["tenant_id"])) == {"Managers"}


# --- Who is told --------------------------------------------------------------------------------------

def test_recipients_resolves_roles_members_and_addresses_each_address_once(app, org):
    inactive = add_member(app, org["tenant_id"], "agent", "Ina Inactive", "ina@acme.example")
    _add_list(app, org["tenant_id"], "Closers", ["ticket_closed"], roles=["agent"],
              member_ids=[org["manager"], org["viewer"]], addresses=["MIA@acme.example", "fran@cs.example"])
    _add_list(app, org["tenant_id"], "Openers only", ["ticket_opened"], addresses=["opener@cs.example"])
    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.execute(select(Membership).where(Membership.user_id == inactive)).scalar_one().is_active = False
        db.session.commit()
        addresses = sorted(address.lower() for address, _ in recipients("ticket_closed"))
    # Managers (manager + admin) and Closers (agents, Mia and Val by name, two outside addresses):
    # Mia is on both lists and named twice, and still appears once; the deactivated agent not at all.
    assert addresses == sorted(["admin@acme-billing.example", "mia@acme.example", "alex@acme.example",
                                "val@acme.example", "fran@cs.example"])


def test_recipients_needs_two_queries_whatever_the_number_of_lists(app, org):
    for i in range(15):
        _add_list(app, org["tenant_id"], f"List {i}", ["ticket_closed"], roles=["agent"],
                  member_ids=[org["viewer"]], addresses=[f"person{i}@cs.example"])
    statements = []
    with app.app_context(), tenant_context(org["tenant_id"]):
        engine = db.engine

        def count(conn, cursor, statement, *args):
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            found = recipients("ticket_closed")
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert len(found) == 4 + 15
    assert len(statements) == 2


def test_reassigning_a_ticket_emails_the_subscribed_lists_once_per_person(app, org, smtp_sink):
    _add_list(app, org["tenant_id"], "Escalations", ["ticket_reassigned"], member_ids=[org["manager"]],
              addresses=["fran@cs.example"])
    _add_list(app, org["tenant_id"], "Openers only", ["ticket_opened"], addresses=["opener@cs.example"])
    ticket_id = _ticket(app, org["tenant_id"])
    run_jobs(app)
    smtp_sink.clear()
    reassign(app, org["tenant_id"], ticket_id, org["manager"], org["admin"])
    run_jobs(app)
    # Mia is on Managers (by role) and Escalations (by name): one email.
    assert _kinds_to(smtp_sink, "mia@acme.example") == ["ticket_reassigned"]
    assert _kinds_to(smtp_sink, "admin@acme-billing.example") == ["ticket_reassigned"]
    assert _kinds_to(smtp_sink, "fran@cs.example") == ["ticket_reassigned"]
    assert smtp_sink.to("opener@cs.example") == [] and smtp_sink.to("alex@acme.example") == []
    message = smtp_sink.to("fran@cs.example")[0]
    assert message["Subject"] == "Ticket D-0001 reassigned to Ada Admin"


def test_the_same_reassignment_is_never_emailed_twice(app, org, smtp_sink):
    ticket_id = _ticket(app, org["tenant_id"])
    reassign(app, org["tenant_id"], ticket_id, org["manager"], org["admin"])
    with app.app_context(), tenant_context(org["tenant_id"]):
        ticket = db.session.get(Ticket, ticket_id)
        activity = next(a for a in ticket.activities if a.kind == "reassigned")
        again = notify("ticket_reassigned", ticket=ticket, activity=activity)
        db.session.commit()
        keys = db.session.execute(select(OutboxMessage.dedupe_key).where(
            OutboxMessage.kind == "ticket_reassigned")).scalars().all()
        activity_id = activity.id
    assert again == 0
    assert sorted(keys) == sorted(f"ticket:{ticket_id}:reassigned:{activity_id}:{address}"
                                  for address in ("admin@acme-billing.example", "mia@acme.example"))


def test_closing_a_ticket_emails_only_lists_that_hear_about_closing(app, org, smtp_sink):
    list_id = managers_list_id(app, org["tenant_id"])
    with app.app_context(), tenant_context(org["tenant_id"]):
        db.session.get(NotificationList, list_id).events = ["ticket_opened"]
        db.session.commit()
    _add_list(app, org["tenant_id"], "Closers", ["ticket_closed"], addresses=["closer@cs.example"])
    ticket_id = _ticket(app, org["tenant_id"])
    close(app, org["tenant_id"], ticket_id, org["agent"])
    run_jobs(app)
    assert _kinds_to(smtp_sink, "closer@cs.example") == ["ticket_closed"]
    assert _kinds_to(smtp_sink, "mia@acme.example") == ["detractor_alert"]
    closed = smtp_sink.to("closer@cs.example")[0]
    assert closed["Subject"] == "Ticket D-0001 closed: Not resolved"


def test_one_organisations_lists_never_hear_about_another_organisations_tickets(app, org, other_org, smtp_sink):
    _add_list(app, org["tenant_id"], "Everything", ["ticket_opened", "ticket_reassigned", "ticket_closed"],
              addresses=["a-watch@cs.example"])
    ticket_id = _ticket(app, other_org["tenant_id"], "Bea Patient")
    reassign(app, other_org["tenant_id"], ticket_id, other_org["admin"], other_org["admin"])
    close(app, other_org["tenant_id"], ticket_id, other_org["admin"])
    run_jobs(app)
    assert smtp_sink.to("a-watch@cs.example") == []
    assert _kinds_to(smtp_sink, "boss@bayside.example") == ["detractor_alert", "ticket_closed", "ticket_reassigned"]


def test_a_second_reassignment_of_the_same_ticket_is_emailed_too(app, org, smtp_sink):
    ticket_id = _ticket(app, org["tenant_id"])
    run_jobs(app)
    smtp_sink.clear()
    reassign(app, org["tenant_id"], ticket_id, org["manager"], org["admin"])
    reassign(app, org["tenant_id"], ticket_id, org["admin"], org["manager"])
    run_jobs(app)
    subjects = sorted(m["Subject"] for m in smtp_sink.to("admin@acme-billing.example")
                      if m["X-Turnaround-Kind"] == "ticket_reassigned")
    assert len(subjects) == 2, subjects
