"""Running the team: roles, deactivation and handing over tickets, invitations, the last-admin rule, the audit log."""
import itertools
import re

import pytest
from sqlalchemy import event, select

from app.accounts import services
from app.accounts.models import Membership, TeamInvitation, Tenant, User
from app.extensions import db
from app.rules import RuleError
from app.settings.models import AuditEntry
from app.tenancy import tenant_context
from app.tickets.models import Activity, Ticket
from tests.smtp_sink import body_text
from tests.support.data import PASSWORD, add_member, answer, audit_entries, login, make_contact, run_jobs, user_email
from tests.support.html import options, selected


def _membership_id(app, org, user_id: int) -> int:
    with app.app_context(), tenant_context(org["tenant_id"]):
        return db.session.execute(select(Membership.id).where(Membership.user_id == user_id)).scalar_one()


def _membership(app, org, user_id: int) -> dict:
    with app.app_context(), tenant_context(org["tenant_id"]):
        m = db.session.execute(select(Membership).where(Membership.user_id == user_id)).scalar_one()
        return {"role": m.role, "is_active": m.is_active}


def _audit(app, org) -> list[tuple[str, dict]]:
    return [(row.summary, row.changes) for row in audit_entries(app, org["tenant_id"]) if row.area == "team"]


def _url(org, path: str) -> str:
    return f"/t/{org['slug']}/team{path}"


_contact_numbers = itertools.count(1)


def _open_tickets_for_agent(app, org, count: int) -> list[int]:
    """Detractor tickets, each shared out to the organisation's only agent (Alex Agent); returns every ticket id."""
    for _ in range(count):
        n = next(_contact_numbers)
        answer(app, org["tenant_id"], make_contact(app, org["tenant_id"], f"Client Number{n}"), 2, "slow")
    with app.app_context(), tenant_context(org["tenant_id"]):
        ids = db.session.execute(select(Ticket.id).order_by(Ticket.id)).scalars().all()
        assert db.session.execute(select(Ticket.assignee_id).distinct()).scalars().all() == [org["agent"]]
        return list(ids)


def _assignees(app, org) -> dict[str, int | None]:
    with app.app_context(), tenant_context(org["tenant_id"]):
        return {t.reference: t.assignee_id for t in db.session.execute(select(Ticket)).scalars()}


def _change_role(client, org, membership_id: int, role: str, **kwargs):
    return client.post(_url(org, f"/members/{membership_id}/role"), data={f"member-{membership_id}-role": role}, **kwargs)


def _link_from_sink(smtp_sink, email, index=-1):
    message = smtp_sink.to(email)[index]
    return re.search(r"http://localhost(/invitations/\S+)", body_text(message)).group(1)


# --- Roles -----------------------------------------------------------------------------------------

def test_admin_changes_a_members_role_and_the_audit_log_records_it(app, client, org):
    login(client, app, org["admin"])
    alex = _membership_id(app, org, org["agent"])
    response = _change_role(client, org, alex, "manager")
    assert response.status_code == 303 and response.headers["Location"].endswith("/team/")
    assert _membership(app, org, org["agent"])["role"] == "manager"
    assert _audit(app, org) == [("Changed Alex Agent’s role from Agent to Manager", {"role": ["agent", "manager"]})]
    assert "Role changed to Manager." in client.get(_url(org, "/")).get_data(as_text=True)


def test_htmx_role_change_returns_the_team_fragment_with_the_new_role(app, client, org):
    login(client, app, org["admin"])
    val = _membership_id(app, org, org["viewer"])
    response = _change_role(client, org, val, "agent", headers={"HX-Request": "true"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in page
    assert selected(page, f"member-{val}-role") == "Agent"
    assert 'hx-swap-oob="true"' in page and "Role changed to Agent." in page
    assert _membership(app, org, org["viewer"])["role"] == "agent"


def test_an_unknown_role_is_refused_next_to_the_field_and_nothing_changes(app, client, org):
    login(client, app, org["admin"])
    alex = _membership_id(app, org, org["agent"])
    response = _change_role(client, org, alex, "owner")
    assert response.status_code == 422
    assert f'id="member-{alex}-role-error"' in response.get_data(as_text=True)
    assert _membership(app, org, org["agent"])["role"] == "agent"
    assert _audit(app, org) == []


def test_the_last_admin_cannot_demote_themselves(app, client, org):
    login(client, app, org["admin"])
    ada = _membership_id(app, org, org["admin"])
    response = _change_role(client, org, ada, "manager", headers={"HX-Request": "true"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="member-{ada}-role-error"' in page and "Ada Admin is the last active admin" in page
    assert _membership(app, org, org["admin"])["role"] == "admin"
    assert _audit(app, org) == []


def test_an_admin_may_step_down_while_another_admin_remains(app, client, org):
    add_member(app, org["tenant_id"], "admin", "Abe Admin", "abe@acme.example")
    login(client, app, org["admin"])
    response = _change_role(client, org, _membership_id(app, org, org["admin"]), "manager")
    assert response.status_code == 303
    assert _membership(app, org, org["admin"])["role"] == "manager"
    assert client.post(_url(org, "/invitations"), data={"email": "x@example.com", "role": "agent"}).status_code == 403


def test_the_last_admin_cannot_be_deactivated(app, client, org):
    login(client, app, org["admin"])
    ada = _membership_id(app, org, org["admin"])
    response = client.post(_url(org, f"/members/{ada}/deactivate"))
    assert response.status_code == 422
    assert "Ada Admin is the last active admin, so they can’t be deactivated" in response.get_data(as_text=True)
    with app.app_context(), tenant_context(org["tenant_id"]):
        # The rule holds whoever asks (say, a script acting for the manager), not only for the admin herself.
        membership = db.session.get(Membership, ada)
        with pytest.raises(RuleError, match="last active admin"):
            services.deactivate_member(membership, db.session.get(User, org["manager"]))
        db.session.rollback()
    assert _membership(app, org, org["admin"]) == {"role": "admin", "is_active": True}
    assert _audit(app, org) == []


def test_an_admin_cannot_deactivate_themselves_even_with_another_admin(app, client, org):
    add_member(app, org["tenant_id"], "admin", "Abe Admin", "abe@acme.example")
    login(client, app, org["admin"])
    ada = _membership_id(app, org, org["admin"])
    response = client.post(_url(org, f"/members/{ada}/deactivate"))
    assert response.status_code == 422 and "deactivate yourself" in response.get_data(as_text=True)
    assert _membership(app, org, org["admin"])["is_active"] is True


# --- Deactivation and handover ---------------------------------------------------------------------

def test_deactivating_a_member_ends_their_sessions_and_closes_the_organisation_to_them(app, client, org):
    alex = app.test_client()
    login(alex, app, org["agent"])
    assert alex.get(f"/t/{org['slug']}/").status_code == 200
    login(client, app, org["admin"])
    response = client.post(_url(org, f"/members/{_membership_id(app, org, org['agent'])}/deactivate"))
    assert response.status_code == 303 and response.headers["Location"].endswith("/team/")

    after = alex.get(f"/t/{org['slug']}/")
    assert after.status_code == 302 and "/login" in after.headers["Location"], "the old session is over"
    again = alex.post("/login", data={"email": user_email(app, org["agent"]), "password": PASSWORD})
    assert again.status_code == 422, "with no active organisation left, they cannot log back in"
    assert _membership(app, org, org["agent"])["is_active"] is False
    assert _audit(app, org) == [("Deactivated Alex Agent", {"active": [True, False]})]
    assert client.get(_url(org, "/")).status_code == 200, "the admin's own session is untouched"


def test_deactivating_a_member_with_open_tickets_lists_them_for_handover(app, client, org):
    ids = _open_tickets_for_agent(app, org, 3)
    with app.app_context(), tenant_context(org["tenant_id"]):
        closed = db.session.get(Ticket, ids[2])
        closed.status = "closed"
        db.session.commit()
    alex = _membership_id(app, org, org["agent"])
    login(client, app, org["admin"])
    response = client.post(_url(org, f"/members/{alex}/deactivate"))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/team/members/{alex}/tickets")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Member deactivated and logged out. They still have 2 open tickets" in page
    assert "D-0001" in page and "D-0002" in page and "D-0003" not in page, "closed tickets stay where they are"
    assert "Reassign all 2 open tickets" in page
    assert 'id="ticket-1-assignee_id"' in page, "each ticket can also go to someone on its own"
    assert "Mia Manager" in options(page, "assignee_id")
    assert "Val Viewer" not in page, "viewers cannot work tickets, so they are not offered"


def test_htmx_deactivation_shows_the_handover_list_in_place(app, client, org):
    _open_tickets_for_agent(app, org, 1)
    alex = _membership_id(app, org, org["agent"])
    login(client, app, org["admin"])
    response = client.post(_url(org, f"/members/{alex}/deactivate"), headers={"HX-Request": "true"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in page
    assert response.headers["HX-Push-Url"].endswith(f"/team/members/{alex}/tickets")
    assert "Hand over Alex Agent’s tickets" in page and "D-0001" in page


def test_handover_list_takes_the_same_number_of_queries_for_two_or_six_tickets(app, client, org):
    alex = _membership_id(app, org, org["agent"])
    login(client, app, org["admin"])

    def queries_for_page() -> int:
        statements = []
        with app.app_context():
            listener = lambda *args: statements.append(args[2])  # noqa: E731
            event.listen(db.engine, "before_cursor_execute", listener)
            try:
                assert client.get(_url(org, f"/members/{alex}/tickets")).status_code == 200
            finally:
                event.remove(db.engine, "before_cursor_execute", listener)
        return len(statements)

    _open_tickets_for_agent(app, org, 2)
    two = queries_for_page()
    _open_tickets_for_agent(app, org, 4)
    assert "D-0006" in client.get(_url(org, f"/members/{alex}/tickets")).get_data(as_text=True)
    assert queries_for_page() == two


def test_admin_hands_over_all_open_tickets_and_each_timeline_records_it(app, client, org):
    _open_tickets_for_agent(app, org, 3)
    alex = _membership_id(app, org, org["agent"])
    login(client, app, org["admin"])
    client.post(_url(org, f"/members/{alex}/deactivate"))
    response = client.post(_url(org, f"/members/{alex}/tickets"), data={"assignee_id": org["manager"]})
    assert response.status_code == 303
    assert set(_assignees(app, org).values()) == {org["manager"]}
    with app.app_context(), tenant_context(org["tenant_id"]):
        moves = db.session.execute(select(Activity).where(Activity.kind == "reassigned")).scalars().all()
        assert len(moves) == 3
        assert {(a.actor_id, a.details["previous"], a.details["assignee"]) for a in moves} == {
            (org["admin"], "Alex Agent", "Mia Manager")}
    summary, changes = _audit(app, org)[-1]
    assert summary == "Handed over 3 open tickets from Alex Agent to Mia Manager"
    assert changes["assignee"] == ["Alex Agent", "Mia Manager"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "3 tickets handed over." in page and "Alex Agent has no open tickets." in page


def test_admin_hands_over_a_single_ticket_and_the_rest_stay_listed(app, client, org):
    ids = _open_tickets_for_agent(app, org, 2)
    alex = _membership_id(app, org, org["agent"])
    login(client, app, org["admin"])
    client.post(_url(org, f"/members/{alex}/deactivate"))
    response = client.post(_url(org, f"/members/{alex}/tickets/{ids[0]}"),
                           data={f"ticket-{ids[0]}-assignee_id": org["admin"]}, headers={"HX-Request": "true"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "D-0001 reassigned." in page
    assert _assignees(app, org) == {"D-0001": org["admin"], "D-0002": org["agent"]}
    assert 'id="handover-ticket-' + str(ids[0]) + '"' not in page and "D-0002" in page


def test_tickets_cannot_be_handed_to_a_viewer_or_a_deactivated_member(app, client, org):
    _open_tickets_for_agent(app, org, 1)
    alex = _membership_id(app, org, org["agent"])
    login(client, app, org["admin"])
    client.post(_url(org, f"/members/{alex}/deactivate"))
    for assignee in (org["viewer"], org["agent"], ""):
        response = client.post(_url(org, f"/members/{alex}/tickets"), data={"assignee_id": assignee})
        assert response.status_code == 422
        assert 'id="assignee_id-error"' in response.get_data(as_text=True)
    assert _assignees(app, org) == {"D-0001": org["agent"]}


def test_demoting_a_member_to_viewer_with_open_tickets_goes_to_handover(app, client, org):
    _open_tickets_for_agent(app, org, 1)
    alex = _membership_id(app, org, org["agent"])
    login(client, app, org["admin"])
    response = _change_role(client, org, alex, "viewer")
    assert response.headers["Location"].endswith(f"/team/members/{alex}/tickets")


def test_reactivated_member_can_log_in_and_open_the_organisation_again(app, client, org):
    alex = _membership_id(app, org, org["agent"])
    login(client, app, org["admin"])
    client.post(_url(org, f"/members/{alex}/deactivate"))
    assert "Reactivate Alex Agent" in client.get(_url(org, "/")).get_data(as_text=True)
    assert client.post(_url(org, f"/members/{alex}/reactivate")).status_code == 303
    assert _membership(app, org, org["agent"]) == {"role": "agent", "is_active": True}
    returning = app.test_client()
    login(returning, app, org["agent"])
    assert returning.get(f"/t/{org['slug']}/").status_code == 200
    assert _audit(app, org)[-1] == ("Reactivated Alex Agent as Agent", {"active": [False, True]})


# --- Invitations -----------------------------------------------------------------------------------

def test_resending_an_invitation_retires_the_old_link_and_the_new_one_works(app, client, org, smtp_sink):
    login(client, app, org["admin"])
    client.post(_url(org, "/invitations"), data={"email": "newbie@example.com", "role": "manager"})
    run_jobs(app)
    old_path = _link_from_sink(smtp_sink, "newbie@example.com")
    with app.app_context(), tenant_context(org["tenant_id"]):
        first_id = db.session.execute(select(TeamInvitation.id)).scalar_one()

    response = client.post(_url(org, f"/invitations/{first_id}/resend"))
    assert response.status_code == 303
    run_jobs(app)
    assert len(smtp_sink.to("newbie@example.com")) == 2
    new_path = _link_from_sink(smtp_sink, "newbie@example.com")
    assert new_path != old_path

    newcomer = app.test_client()
    assert newcomer.get(old_path).status_code == 404, "the first link no longer works"
    assert newcomer.get(new_path).status_code == 200
    assert newcomer.post(new_path, data={"name": "Nina Newbie", "password": "nina-strong-password"}).status_code == 303
    assert newcomer.get(f"/t/{org['slug']}/").status_code == 200
    with app.app_context(), tenant_context(org["tenant_id"]):
        nina = db.session.execute(select(User).where(User.email == "newbie@example.com")).scalar_one()
        assert db.session.execute(select(Membership.role).where(Membership.user_id == nina.id)).scalar_one() == "manager"


def test_a_used_invitation_cannot_be_resent(app, client, org):
    login(client, app, org["admin"])
    client.post(_url(org, "/invitations"), data={"email": "newbie@example.com", "role": "agent"})
    with app.app_context(), tenant_context(org["tenant_id"]):
        invitation_id = db.session.execute(select(TeamInvitation.id)).scalar_one()
    client.post(_url(org, f"/invitations/{invitation_id}/revoke"))
    response = client.post(_url(org, f"/invitations/{invitation_id}/resend"))
    assert response.status_code == 422 and "was revoked, so it can’t be resent" in response.get_data(as_text=True)
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.execute(select(TeamInvitation)).scalars().all()[0].state == "revoked"
        assert len(db.session.execute(select(TeamInvitation)).scalars().all()) == 1


def test_invite_resend_and_revoke_each_write_an_audit_entry(app, client, org):
    login(client, app, org["admin"])
    client.post(_url(org, "/invitations"), data={"email": "Newbie@Example.com", "role": "viewer"})
    with app.app_context(), tenant_context(org["tenant_id"]):
        first_id = db.session.execute(select(TeamInvitation.id)).scalar_one()
    client.post(_url(org, f"/invitations/{first_id}/resend"))
    with app.app_context(), tenant_context(org["tenant_id"]):
        second_id = db.session.execute(select(TeamInvitation.id).where(TeamInvitation.revoked_at.is_(None))).scalar_one()
    client.post(_url(org, f"/invitations/{second_id}/revoke"))
    entries = _audit(app, org)
    assert [summary for summary, _ in entries] == [
        "Invited newbie@example.com as Viewer",
        "Resent the invitation to newbie@example.com",
        "Revoked the invitation to newbie@example.com",
    ]
    assert entries[0][1] == {"email": [None, "newbie@example.com"], "role": [None, "viewer"]}
    assert list(entries[1][1]) == ["expires_at"]
    assert entries[2][1] == {"invitation": ["pending", "revoked"]}
    with app.app_context(), tenant_context(org["tenant_id"]):
        entry = db.session.execute(select(AuditEntry).limit(1)).scalar_one()
        assert entry.actor_id == org["admin"]


# --- Who may do what -------------------------------------------------------------------------------

def _every_change(app, org) -> list[tuple[str, dict]]:
    alex = _membership_id(app, org, org["agent"])
    with app.app_context(), tenant_context(org["tenant_id"]):
        admin = db.session.get(User, org["admin"])
        invitation = services.invite_member(tenant=db.session.get(Tenant, org["tenant_id"]), email="p@example.com",
                                            role="agent", invited_by=admin)
        db.session.commit()
        invitation_id = invitation.id
    ticket_id = _open_tickets_for_agent(app, org, 1)[0]
    return [
        (f"/members/{alex}/role", {f"member-{alex}-role": "viewer"}),
        (f"/members/{alex}/deactivate", {}),
        (f"/members/{alex}/reactivate", {}),
        (f"/members/{alex}/tickets", {"assignee_id": org["manager"]}),
        (f"/members/{alex}/tickets/{ticket_id}", {f"ticket-{ticket_id}-assignee_id": org["manager"]}),
        ("/invitations", {"email": "q@example.com", "role": "agent"}),
        (f"/invitations/{invitation_id}/resend", {}),
        (f"/invitations/{invitation_id}/revoke", {}),
    ]


def test_managers_agents_and_viewers_may_look_but_get_403_on_every_team_change(app, org):
    changes = _every_change(app, org)
    for role in ("manager", "agent", "viewer"):
        member = app.test_client()
        login(member, app, org[role])
        page = member.get(_url(org, "/"))
        assert page.status_code == 200
        assert "Change role" not in page.get_data(as_text=True) and "Deactivate" not in page.get_data(as_text=True)
        for path, data in changes:
            assert member.post(_url(org, path), data=data).status_code == 403, f"{role} {path}"
    assert _membership(app, org, org["agent"]) == {"role": "agent", "is_active": True}
    assert set(_assignees(app, org).values()) == {org["agent"]}
    assert _audit(app, org) == []


def test_another_organisations_admin_gets_404_on_every_team_change(app, org, other_org):
    changes = _every_change(app, org)
    outsider = app.test_client()
    login(outsider, app, other_org["admin"])
    for slug in (org["slug"], other_org["slug"]):
        for path, data in changes:
            if path == "/invitations":
                continue
            response = outsider.post(f"/t/{slug}/team{path}", data=data)
            assert response.status_code == 404, f"{slug} {path}"
            assert "Alex Agent" not in response.get_data(as_text=True)
        assert outsider.get(f"/t/{slug}/team/members/{_membership_id(app, org, org['agent'])}/tickets").status_code == 404
    assert _membership(app, org, org["agent"]) == {"role": "agent", "is_active": True}
    assert _audit(app, org) == []


def test_only_admins_see_the_role_and_deactivate_controls(app, client, org):
    login(client, app, org["admin"])
    page = client.get(_url(org, "/")).get_data(as_text=True)
    assert '<label for="member-' in page and "Role of Alex Agent" in page
    assert "Deactivate Alex Agent" in page and "Deactivate Ada Admin" not in page, "no button to lock yourself out"
