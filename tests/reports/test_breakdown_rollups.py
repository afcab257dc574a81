"""The breakdowns by account, owner, team, role and source read the rollups for past days: on a known data set
(amended answers, answers either side of local midnight, contacts that change account or roles, an account
deleted) they give exactly the figures of the live query, for periods of whole months, of odd days and ending
today; and the team breakdown sorts and links to the feedback inbox."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import delete, select, update

from app.contacts import services as contacts
from app.contacts.models import Contact, RecipientRole
from app.customers.models import CustomerAccount
from app.extensions import db
from app.reports import metrics
from app.surveys import services as surveys
from app.surveys.models import Response, SurveyInvitation
from app.teams.models import Team
from app.accounts.models import User
from app.tenancy import tenant_context
from tests.reports.support import respond, roll_up
from tests.reports.test_nps_overview import ny
from tests.support.data import add_member, make_account, make_contact, make_invitation
from tests.support.html import table_rows

NOW = ny(2026, 12, 2, 12)
LONG_AGO = datetime(2001, 1, 1, tzinfo=timezone.utc)  # "today" before every period: every day is read live
PERIODS = [("2026-10-01", "2026-12-02"), ("2026-10-10", "2026-11-20"), ("2026-11-01", "2026-11-30"),
           ("2026-10-31", "2026-11-01"), ("2026-09-01", "2026-12-01")]


@pytest.fixture()
def people(app, org, other_org, clock):
    """Alpha is owned by Olga (teams East and Care), Beta by Pete (team West), Gamma by nobody; some contacts
    have no account, one is also a Signer; answers fall on both sides of local midnight, one is amended, and
    one arrives today (read live)."""
    clock.move_to(NOW)
    t = org["tenant_id"]
    olga = add_member(app, t, "agent", "Olga Owner", "olga@acme.example")
    pete = add_member(app, t, "agent", "Pete Owner", "pete@acme.example")
    with app.app_context(), tenant_context(t):
        users = {u.id: u for u in db.session.execute(select(User).where(User.id.in_([olga, pete]))).scalars()}
        db.session.add_all([Team(name="East", members=[users[olga]]), Team(name="Care", members=[users[olga]]),
                            Team(name="West", members=[users[pete]])])
        db.session.commit()
        db.session.remove()
    make_account(app, t, "Alpha Clinic", owner_id=olga)
    make_account(app, t, "Beta Practice", owner_id=pete)
    make_account(app, t, "Gamma Group")
    contact = {
        "a1": make_contact(app, t, "Ann Alpha", account="Alpha Clinic", roles=("NPS Recipient", "Signer")),
        "a2": make_contact(app, t, "Abe Alpha", account="Alpha Clinic"),
        "b1": make_contact(app, t, "Bea Beta", account="Beta Practice"),
        "b2": make_contact(app, t, "Bob Beta", account="Beta Practice", roles=()),
        "g1": make_contact(app, t, "Gil Gamma", account="Gamma Group"),
        "n1": make_contact(app, t, "Nia Nobody"),
    }
    answers = [("a1", 10, ny(2026, 10, 31, 23, 30)), ("a1", (2, 9), ny(2026, 11, 1, 0, 30)),
               ("a2", 6, ny(2026, 10, 1, 0, 5)),
               ("b1", 3, ny(2026, 10, 15, 12)), ("b1", (9, 4), ny(2026, 11, 20, 23, 45)),
               ("b2", 10, ny(2026, 11, 21, 0, 15)), ("b2", 7, ny(2026, 9, 30, 23, 50)),
               ("g1", 0, ny(2026, 11, 10, 10)), ("g1", 9, ny(2026, 12, 1, 0, 1)),
               ("n1", 5, ny(2026, 10, 10, 9)), ("n1", 10, ny(2026, 12, 2, 9))]
    for key, scores, at in answers:
        respond(app, t, contact[key], scores, at, source="import" if key == "n1" else "hosted")
    token = make_invitation(app, t, contact["a2"])
    _answer(app, t, token, 8, at=ny(2026, 11, 30, 23, 59))
    stranger = make_contact(app, other_org["tenant_id"], "Stan Stranger", account="Alpha Clinic")
    respond(app, other_org["tenant_id"], stranger, 0, ny(2026, 11, 5, 10))
    roll_up(app)
    return {"tenant_id": t, "slug": org["slug"], "contact": contact, "token": token}


def _answer(app, tenant_id, token, score, at=None):
    """Answer (or amend) through the link's token; ``at`` moves a first answer and its invitation back."""
    with app.app_context():
        invitation = surveys.find_invitation(token)
        with tenant_context(tenant_id):
            response = surveys.record_answer(invitation, score, None)
            db.session.commit()
            if at is not None:
                db.session.execute(update(Response).where(Response.id == response.id).values(created_at=at))
                db.session.execute(update(SurveyInvitation).where(SurveyInvitation.id == invitation.id)
                                   .values(created_at=at))
                db.session.commit()
        db.session.remove()


def _figures(app, tenant_id, now):
    """Every breakdown, every sort, every period, as plain values."""
    out = {}
    with app.app_context(), tenant_context(tenant_id):
        for first, last in PERIODS:
            period = metrics.period_for("custom", first, last, "America/New_York")
            for by in metrics.BREAKDOWNS:
                for sort in metrics.BREAKDOWN_SORTS:
                    for descending in (True, False):
                        rows = metrics.nps_breakdown(period, by, sort, descending, now=now)
                        out[(first, by, sort, descending)] = [
                            (row.key, row.name, row.figures.responses, row.figures.promoters,
                             row.figures.passives, row.figures.detractors) for row in rows]
        db.session.remove()
    return out


def _assert_rollups_match_live(app, tenant_id):
    rolled, live = _figures(app, tenant_id, NOW), _figures(app, tenant_id, LONG_AGO)
    assert rolled == live
    return rolled


def test_rolled_up_breakdowns_equal_the_live_ones(app, people):
    figures = _assert_rollups_match_live(app, people["tenant_id"])
    # October 1 – December 2: whole October and November from the monthly rows, December 1 daily, today live.
    by_team = {row[1]: row[2:] for row in figures[("2026-10-01", "team", "name", False)]}
    assert by_team == {"Care": (4, 2, 1, 1), "East": (4, 2, 1, 1), "West": (3, 1, 0, 2), "No team": (4, 2, 0, 2)}
    by_role = {row[1]: row[2] for row in figures[("2026-10-01", "role", "name", False)]}
    assert by_role == {"NPS Recipient": 10, "Signer": 2, "No recipient role": 1}
    # Either side of New York's midnight: 23:30 on 31 October is October, 00:30 on 1 November is November.
    assert [row[1:] for row in figures[("2026-10-31", "account", "responses", True)]] == [
        ("Alpha Clinic", 2, 2, 0, 0)]


def test_changes_to_contacts_answers_and_accounts_show_after_the_next_sweep(app, people):
    t, contact = people["tenant_id"], people["contact"]
    with app.app_context(), tenant_context(t):
        moved = db.session.get(Contact, contact["b1"])
        moved.account = db.session.execute(select(CustomerAccount).where(CustomerAccount.name == "Alpha Clinic")
                                           ).scalar_one()
        signer = db.session.execute(select(RecipientRole).where(RecipientRole.name == "Signer")).scalar_one()
        bob = db.session.get(Contact, contact["b2"])
        contacts.update_contact(bob, name=bob.name, email=bob.email, account="Beta Practice", role_ids=[signer.id])
        db.session.execute(delete(CustomerAccount).where(CustomerAccount.name == "Gamma Group"))
        db.session.commit()
        db.session.remove()
    _answer(app, t, people["token"], 0)
    roll_up(app)
    figures = _assert_rollups_match_live(app, t)
    by_account = {row[1]: row[2:] for row in figures[("2026-10-01", "account", "name", False)]}
    assert by_account == {"Alpha Clinic": (6, 2, 0, 4), "Beta Practice": (1, 1, 0, 0), "No account": (4, 2, 0, 2)}
    by_role = {row[1]: row[2] for row in figures[("2026-10-01", "role", "name", False)]}
    assert by_role == {"NPS Recipient": 10, "Signer": 3}


def test_the_team_breakdown_sorts_and_each_row_leads_to_the_inbox(app, people, as_member):
    client = as_member("manager")
    base = f"/t/{people['slug']}/reports/?period=custom&from=2026-10-01&to=2026-12-02"
    html = client.get(base + "&by=team").get_data(as_text=True)
    assert "NPS by account owner&#39;s team" in html
    assert table_rows(html, "breakdown-table") == [
        ["Care", "25", "4", "2", "1", "1"], ["East", "25", "4", "2", "1", "1"],
        ["West", "-33.3", "3", "1", "0", "2"], ["No team", "0", "4", "2", "0", "2"]]
    html = client.get(base + "&by=team&sort=nps&dir=asc").get_data(as_text=True)
    assert [row[0] for row in table_rows(html, "breakdown-table")] == ["West", "Care", "East", "No team"]
    link = re.search(r'<a href="([^"]+)">West</a>', html).group(1).replace("&amp;", "&")
    assert "team=" in link and "from=2026-10-01" in link and "to=2026-12-02" in link
    inbox = client.get(link).get_data(as_text=True)
    assert "Bea Beta" in inbox and "Bob Beta" in inbox and "Ann Alpha" not in inbox and "Nia Nobody" not in inbox
    html = client.get(base + "&by=owner").get_data(as_text=True)
    link = re.search(r'<a href="([^"]+)">Olga Owner</a>', html).group(1).replace("&amp;", "&")
    inbox = client.get(link).get_data(as_text=True)
    assert "Ann Alpha" in inbox and "Abe Alpha" in inbox and "Bea Beta" not in inbox
    assert '<label for="feedback-owner">Account owner' in inbox
    html = client.get(base + "&by=role").get_data(as_text=True)
    link = re.search(r'<a href="([^"]+)">Signer</a>', html).group(1).replace("&amp;", "&")
    inbox = client.get(link).get_data(as_text=True)
    assert "Ann Alpha" in inbox and "Abe Alpha" not in inbox
