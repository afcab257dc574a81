"""The feedback inbox: every response in one list, filtered, searched, paged, reviewed and tagged."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.tenancy import tenant_context
from app.tickets.models import Ticket
from app.timeutil import utcnow
from tests.feedback.helpers import response, stored, theme
from tests.support.data import login
from tests.support.html import text
from tests.support.tickets import HTMX, count_queries


def inbox(client, org, **args):
    return client.get(f"/t/{org['slug']}/feedback/", query_string=args)


def shown_names(page) -> list[str]:
    return re.findall(r'class="feedback-item">\s*<article>\s*<header>.*?/contacts/\d+">([^<]+)</a>',
                      page.get_data(as_text=True), re.S)


def test_every_band_is_listed_newest_first_with_its_details(app, org, as_member):
    response(app, org["tenant_id"], "Dana Detractor", 2, "Invoices were wrong", account="Northside Practice")
    response(app, org["tenant_id"], "Pat Passive", 7, "Fine, but slow")
    response(app, org["tenant_id"], "Pia Promoter", 10, None)
    page = inbox(as_member("viewer"), org)
    assert page.status_code == 200
    assert shown_names(page) == ["Pia Promoter", "Pat Passive", "Dana Detractor"]
    body = text(page.get_data(as_text=True))
    assert "2 · Detractor" in body and "Northside Practice" in body and "Invoices were wrong" in body
    assert "7 · Passive" in body and "10 · Promoter" in body
    assert "Ticket D-0001" in body  # the detractor's ticket
    assert "Mark as reviewed" not in body  # viewers read only


def test_filters_by_band_comment_account_source_period_and_search(app, org, as_member):
    tid = org["tenant_id"]
    response(app, tid, "Dana Detractor", 2, "Invoices were wrong", account="Northside Practice")
    response(app, tid, "Pat Passive", 7, "Slow to answer the PHONE", account="Eastside")
    response(app, tid, "Pia Promoter", 10, None, source="csv")
    response(app, tid, "Olga Old", 9, "old praise", at=utcnow() - timedelta(days=40))
    client = as_member("agent")
    assert shown_names(inbox(client, org, band="passive")) == ["Pat Passive"]
    assert shown_names(inbox(client, org, has_comment="1")) == ["Pat Passive", "Dana Detractor", "Olga Old"]
    assert shown_names(inbox(client, org, q="phone")) == ["Pat Passive"]
    assert shown_names(inbox(client, org, q="50%")) == []
    assert shown_names(inbox(client, org, source="csv")) == ["Pia Promoter"]
    assert shown_names(inbox(client, org, period="30")) == ["Pia Promoter", "Pat Passive", "Dana Detractor"]
    with app.app_context(), tenant_context(tid):
        from app.customers.models import CustomerAccount
        account_id = db.session.execute(select(CustomerAccount.id).where(CustomerAccount.name == "Eastside")).scalar_one()
        db.session.remove()
    assert shown_names(inbox(client, org, account=account_id)) == ["Pat Passive"]
    day = (utcnow() - timedelta(days=40)).date()
    assert shown_names(inbox(client, org, period="custom", **{"from": (day - timedelta(days=1)).isoformat(),
                                                               "to": (day + timedelta(days=1)).isoformat()})) == ["Olga Old"]
    # htmx asks for the results only, and bad values are ignored rather than refused
    fragment = client.get(f"/t/{org['slug']}/feedback/", query_string={"band": "passive"}, headers=HTMX)
    assert "<h1>" not in fragment.get_data(as_text=True) and "Pat Passive" in fragment.get_data(as_text=True)
    assert inbox(client, org, band="nope", account="x", period="custom", **{"from": "junk"}).status_code == 200


def test_each_source_is_named_and_offered_as_a_filter_once_its_tool_is_connected(app, org, as_member):
    from app.integrations.services import create_integration
    from tests.support.html import selected

    tid = org["tenant_id"]
    response(app, tid, "Gina Generic", 3, "Waited a week", source="generic")
    response(app, tid, "Hana Hosted", 9, None)
    client = as_member("agent")
    body = text(inbox(client, org).get_data(as_text=True))
    assert "3 · Detractor · Gina Generic · Generic webhook" in body
    assert "9 · Promoter · Hana Hosted · Hosted survey" in body
    html = inbox(client, org).get_data(as_text=True)
    assert "Generic webhook</option>" not in html  # no tool connected yet
    with app.app_context(), tenant_context(tid):
        create_integration(kind="generic", name="Clinic kiosk")
        db.session.commit()
        db.session.remove()
    page = inbox(client, org, source="generic")
    assert selected(page.get_data(as_text=True), "feedback-source") == "Generic webhook"
    assert shown_names(page) == ["Gina Generic"]


def test_pages_by_keyset_with_a_fixed_query_count(app, org, as_member):
    tid = org["tenant_id"]
    for i in range(27):
        response(app, tid, f"Person {i:02d}", i % 11, f"comment {i}")
    client = as_member("manager")
    first = inbox(client, org)
    assert len(shown_names(first)) == 25
    link = re.search(r'href="([^"]*after=[^"]+)"', first.get_data(as_text=True)).group(1).replace("&amp;", "&")
    second = client.get(link)
    assert shown_names(second) == ["Person 01", "Person 00"]
    with count_queries(app) as small:
        inbox(client, org, has_comment="1")
    for i in range(27, 40):
        response(app, tid, f"Person {i:02d}", 4, "more")
    with count_queries(app) as large:
        inbox(client, org, has_comment="1")
    assert len(large) == len(small)


def test_marking_reviewed_records_who_and_when(app, org, as_member):
    response_id = response(app, org["tenant_id"], "Pat Passive", 8, "Okay")
    client = as_member("agent")
    answered = client.post(f"/t/{org['slug']}/feedback/{response_id}/reviewed", data={"reviewed": "1"}, headers=HTMX)
    assert answered.status_code == 200
    assert "Reviewed by Alex Agent" in text(answered.get_data(as_text=True))
    row = stored(app, org["tenant_id"], response_id)
    assert row.reviewed_by_id == org["agent"] and row.reviewed_at is not None
    assert shown_names(inbox(client, org, reviewed="no")) == []
    plain = client.post(f"/t/{org['slug']}/feedback/{response_id}/reviewed", data={"reviewed": "0"})
    assert plain.status_code == 303
    assert stored(app, org["tenant_id"], response_id).reviewed_at is None


def test_tagging_with_themes(app, org, as_member):
    tid = org["tenant_id"]
    response_id = response(app, tid, "Pat Passive", 8, "Okay")
    billing, phones = theme(app, tid, "Billing"), theme(app, tid, "Phones")
    client = as_member("agent")
    answered = client.post(f"/t/{org['slug']}/feedback/{response_id}/themes",
                           data={"themes": [str(phones), str(billing)]}, headers=HTMX)
    assert answered.status_code == 200 and "Themes: Billing, Phones" in text(answered.get_data(as_text=True))
    plain = client.post(f"/t/{org['slug']}/feedback/{response_id}/themes", data={"themes": ["x"]})
    assert plain.status_code == 303
    assert "Choose themes from the list." in client.get(plain.headers["Location"]).get_data(as_text=True)
    assert stored(app, tid, response_id).theme_labels == ["Billing", "Phones"]
    assert shown_names(inbox(client, org, theme=phones)) == ["Pat Passive"]
    refused = client.post(f"/t/{org['slug']}/feedback/{response_id}/themes", data={"themes": ["999999"]},
                          headers=HTMX)
    assert refused.status_code == 422 and "Choose themes from the list." in refused.get_data(as_text=True)
    plain = client.post(f"/t/{org['slug']}/feedback/{response_id}/themes", data={"themes": ["x"]})
    assert plain.status_code == 303
    assert "Choose themes from the list." in client.get(plain.headers["Location"]).get_data(as_text=True)
    assert stored(app, tid, response_id).theme_labels == ["Billing", "Phones"]


def test_manager_opens_one_ticket_by_hand_for_a_passive(app, org, as_member):
    tid = org["tenant_id"]
    response_id = response(app, tid, "Pat Passive", 7, "A serious complaint about privacy")
    agent = app.test_client()
    login(agent, app, org["agent"])
    assert agent.post(f"/t/{org['slug']}/feedback/{response_id}/ticket").status_code == 403
    client = as_member("manager")
    first = client.post(f"/t/{org['slug']}/feedback/{response_id}/ticket")
    assert first.status_code == 303 and "/tickets/" in first.headers["Location"]
    again = client.post(f"/t/{org['slug']}/feedback/{response_id}/ticket")
    assert again.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    with app.app_context(), tenant_context(tid):
        tickets = db.session.execute(select(Ticket).where(Ticket.response_id == response_id)).scalars().all()
        assert [t.trigger for t in tickets] == ["manual"]
        assert [(a.kind, a.body) for a in tickets[0].activities if a.kind == "note"] == [
            ("note", "Opened by hand from the feedback inbox (passive, score 7).")]
        db.session.remove()
    assert "Open a ticket for this response" not in inbox(client, org).get_data(as_text=True)


def test_viewers_change_nothing_and_another_organisations_response_is_404(app, org, other_org, as_member):
    ours = response(app, org["tenant_id"], "Pat Passive", 8, "Okay")
    theirs = response(app, other_org["tenant_id"], "Bay Person", 3, "Secret other-org comment")
    viewer = as_member("viewer")
    assert viewer.post(f"/t/{org['slug']}/feedback/{ours}/reviewed").status_code == 403
    assert viewer.post(f"/t/{org['slug']}/feedback/{ours}/themes").status_code == 403
    client = app.test_client()
    login(client, app, org["admin"])
    for action in ("reviewed", "themes", "ticket"):
        assert client.post(f"/t/{org['slug']}/feedback/{theirs}/{action}").status_code == 404
    assert "Secret other-org comment" not in inbox(client, org).get_data(as_text=True)
    assert "Secret other-org comment" not in inbox(client, org, q="Secret").get_data(as_text=True)
