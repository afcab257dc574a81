"""The teams, workload and routing settings pages: what admins, managers, agents and viewers may do, what
each page shows of members' loads, and another organisation's team as a 404."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.extensions import db
from app.settings.services import get_settings
from app.teams.models import Team
from app.tenancy import tenant_context
from tests.support.data import add_member, audit_entries, login
from tests.support.html import checked, field_error, selected, text
from tests.support.tickets import HTMX, bulk_tickets, count_queries
from tests.support.workflow import set_sla
from tests.teams.helpers import add_to_team, make_team, membership_id, set_member


def teams_url(org, rest: str = "") -> str:
    return f"/t/{org['slug']}/teams/{rest}"


def team_names(app, tenant_id: int) -> list[str]:
    with app.app_context(), tenant_context(tenant_id):
        names = list(db.session.execute(select(Team.name).order_by(Team.name)).scalars())
        db.session.remove()
    return names


def test_an_admin_creates_renames_staffs_and_deletes_a_team(app, org, as_member, clock):
    client = as_member("admin")
    response = client.post(teams_url(org), data={"name": "  Customer Success "})
    assert response.status_code == 303
    team_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert team_names(app, org["tenant_id"]) == ["Customer Success"]

    again = client.post(teams_url(org), data={"name": "customer success"})
    assert again.status_code == 422
    assert field_error(again.get_data(as_text=True), "name") == "There is already a team called customer success."
    assert field_error(client.post(teams_url(org), data={"name": ""}).get_data(as_text=True), "name") == \
        "Enter the team's name."

    assert client.post(teams_url(org, f"{team_id}/name"), data={"name": "Success"}).status_code == 303
    assert client.post(teams_url(org, f"{team_id}/manager"), data={"manager_id": org["manager"]}).status_code == 303
    for member in (org["agent"], org["manager"]):
        assert client.post(teams_url(org, f"{team_id}/members"), data={"user_id": member}).status_code == 303
    refused = client.post(teams_url(org, f"{team_id}/members"), data={"user_id": org["viewer"]})
    assert refused.status_code == 422
    assert field_error(refused.get_data(as_text=True), "user_id") == "Choose an active admin, manager or agent."

    bulk_tickets(app, org["tenant_id"], 3, assignee_id=org["agent"])
    set_member(app, org["tenant_id"], org["manager"], away_until=date(2025, 3, 10))
    page = text(client.get(teams_url(org, str(team_id))).get_data(as_text=True))
    assert "Success Manager: Mia Manager." in page
    assert "Alex Agent Agent 3 of 50 Available" in page
    assert "Mia Manager Manager 0 of 50 Away until Mon 10 Mar 2025" in page
    assert "Backlog: 3 open tickets for 3 working members, 1 per member (threshold 100)." in page

    removed = client.post(teams_url(org, f"{team_id}/members/{membership_id(app, org['tenant_id'], org['agent'])}/remove"),
                          headers=HTMX)
    assert removed.status_code == 200 and "Alex Agent left Success." in text(removed.get_data(as_text=True))
    assert "Alex Agent Agent" not in text(removed.get_data(as_text=True)).split("Change the team")[0]

    set_sla(app, org["tenant_id"], routing_team_id=team_id)
    confirm = text(client.get(teams_url(org, f"{team_id}/delete")).get_data(as_text=True))
    assert "Delete the team Success?" in confirm and "It is the routing team" in confirm
    assert client.post(teams_url(org, f"{team_id}/delete")).status_code == 303
    assert team_names(app, org["tenant_id"]) == []
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert get_settings().routing_team_id is None
        db.session.remove()
    summaries = [entry.summary for entry in audit_entries(app, org["tenant_id"]) if entry.area == "teams"]
    assert summaries == ["Created the team Customer Success", "Renamed the team Customer Success to Success",
                         "Mia Manager now manages Success", "Added Alex Agent to Success", "Added Mia Manager to Success",
                         "Removed Alex Agent from Success", "Deleted the team Success"]


def test_only_admins_manage_teams_and_everyone_may_look(app, org):
    team_id = make_team(app, org["tenant_id"], "Customer Success", [org["agent"]])
    for role in ("manager", "agent", "viewer"):
        client = client_as(app, org, role)
        assert client.post(teams_url(org), data={"name": "Mine"}).status_code == 403
        assert client.post(teams_url(org, f"{team_id}/name"), data={"name": "Ours"}).status_code == 403
        assert client.post(teams_url(org, f"{team_id}/members"), data={"user_id": org["viewer"]}).status_code == 403
        assert client.get(teams_url(org, f"{team_id}/delete")).status_code == 403
        assert client.post(teams_url(org, f"{team_id}/delete")).status_code == 403
        page = client.get(teams_url(org, str(team_id)))
        assert page.status_code == 200 and "Alex Agent" in text(page.get_data(as_text=True))
        assert "Rename team" not in page.get_data(as_text=True)
        assert "Only admins can create and change teams." in text(client.get(teams_url(org)).get_data(as_text=True))
    assert team_names(app, org["tenant_id"]) == ["Customer Success"]


def test_another_organisations_team_is_a_404(app, org, other_org, as_member):
    theirs = make_team(app, other_org["tenant_id"], "Their Team", [other_org["agent"]])
    client = as_member("admin")
    assert client.get(teams_url(org, str(theirs))).status_code == 404
    assert client.post(teams_url(org, f"{theirs}/name"), data={"name": "Mine now"}).status_code == 404
    assert client.post(teams_url(org, f"{theirs}/delete")).status_code == 404
    assert team_names(app, other_org["tenant_id"]) == ["Their Team"]
    # Nor can their team be chosen as ours for routing.
    refused = client.post(f"/t/{org['slug']}/settings/routing",
                          data={"routing_team_id": theirs, "backlog_threshold": "100"})
    assert refused.status_code == 422
    assert field_error(refused.get_data(as_text=True), "routing_team_id") == "Choose one of your teams."


def client_as(app, org, role: str):
    client = app.test_client()
    login(client, app, org[role])
    return client


def test_managers_set_capacities_and_members_mark_themselves_away_and_back(app, org, clock):
    workload = teams_url(org, "workload")
    agent_membership = membership_id(app, org["tenant_id"], org["agent"])
    capacity_url = teams_url(org, f"workload/members/{agent_membership}/capacity")
    manager = client_as(app, org, "manager")
    response = manager.post(capacity_url, data={f"capacity-{agent_membership}-capacity": "12"}, headers=HTMX)
    assert response.status_code == 200
    assert "Alex Agent can hold 12 open tickets." in text(response.get_data(as_text=True))
    assert "Alex Agent Agent 0 of 12 Available" in text(response.get_data(as_text=True))
    bad = manager.post(capacity_url, data={f"capacity-{agent_membership}-capacity": "-3"})
    assert bad.status_code == 422
    assert field_error(bad.get_data(as_text=True), f"capacity-{agent_membership}-capacity") == \
        "Enter a number of open tickets from 0 to 1000."

    agent = client_as(app, org, "agent")
    assert agent.post(capacity_url, data={f"capacity-{agent_membership}-capacity": "99"}).status_code == 403
    today = agent.post(teams_url(org, "workload/away"), data={"away_until": "2025-03-03"})
    assert field_error(today.get_data(as_text=True), "away_until") == "Choose a date after today: the day you are back."
    assert agent.post(teams_url(org, "workload/away"), data={"away_until": "2025-03-10"}).status_code == 303
    page = text(agent.get(workload).get_data(as_text=True))
    assert "You are away until Mon 10 Mar 2025: new tickets pass you by." in page
    assert "Alex Agent (you) Agent 0 of 12 Away until Mon 10 Mar 2025" in page
    assert "Set capacity" not in page  # agents read capacities; admins and managers set them
    assert agent.post(teams_url(org, "workload/back")).status_code == 303
    assert "You are available for new tickets." in text(agent.get(workload).get_data(as_text=True))

    viewer = client_as(app, org, "viewer")
    assert viewer.post(teams_url(org, "workload/away"), data={"away_until": "2025-03-10"}).status_code == 403
    assert "Your availability" not in viewer.get(workload).get_data(as_text=True)
    summaries = [e.summary for e in audit_entries(app, org["tenant_id"]) if e.area == "teams"]
    assert summaries == ["Set Alex Agent’s capacity to 12 open tickets", "Alex Agent is away until 2025-03-10",
                         "Alex Agent is back"]


def test_the_workload_and_team_pages_read_every_members_load_in_the_same_queries_however_many(app, org):
    team_id = make_team(app, org["tenant_id"], "Customer Success", [org["agent"]], manager_id=org["manager"])
    client = client_as(app, org, "admin")

    def statements() -> tuple[int, int]:
        counts = []
        for path in ("workload", str(team_id)):
            with count_queries(app) as sent:
                assert client.get(teams_url(org, path)).status_code == 200
            counts.append(len(sent))
        return tuple(counts)

    few = statements()
    members = []
    for n in range(15):
        member = add_member(app, org["tenant_id"], "agent", f"Agent {n:02}", f"agent{n}@acme.example")
        bulk_tickets(app, org["tenant_id"], 1, assignee_id=member, start=3000 + n)
        members.append(member)
    add_to_team(app, org["tenant_id"], team_id, members)
    assert statements() == few


def test_admins_set_routing_and_the_audit_log_records_it(app, org, as_member):
    team_id = make_team(app, org["tenant_id"], "Customer Success", [org["agent"]])
    url = f"/t/{org['slug']}/settings/routing"
    manager = client_as(app, org, "manager")
    assert manager.get(url).status_code == 200
    assert manager.post(url, data={"routing_team_id": team_id, "backlog_threshold": "80"}).status_code == 403

    admin = as_member("admin")
    page = admin.get(url).get_data(as_text=True)
    assert selected(page, "routing_team_id") == "No routing team: round robin among everyone"
    assert checked(page, "route_to_account_owner")
    bad = admin.post(url, data={"routing_team_id": team_id, "backlog_threshold": "0"})
    assert field_error(bad.get_data(as_text=True), "backlog_threshold") == \
        "Enter a number of open tickets per member from 1 to 10000."
    saved = admin.post(url, data={"routing_team_id": team_id, "backlog_threshold": "80"}, headers=HTMX)
    assert saved.status_code == 200 and "Routing saved." in text(saved.get_data(as_text=True))
    assert selected(saved.get_data(as_text=True), "routing_team_id") == "Customer Success"
    with app.app_context(), tenant_context(org["tenant_id"]):
        settings = get_settings()
        assert (settings.route_to_account_owner, settings.routing_team_id, settings.backlog_threshold) == \
            (False, team_id, 80)
        db.session.remove()
    [entry] = [e for e in audit_entries(app, org["tenant_id"]) if e.area == "routing"]
    assert entry.summary == "Changed routing"
    assert entry.changes == {"backlog_threshold": [100, 80], "route_to_account_owner": [True, False],
                             "routing_team": [None, "Customer Success"]}
    assert "Routing" in text(admin.get(f"/t/{org['slug']}/settings/").get_data(as_text=True))
