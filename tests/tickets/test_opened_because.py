"""Why a ticket opened, said the same way in the alert, on the board card and on the ticket page: the score
("Score 3 — Detractor"), or the trigger question and its answer ("Do you feel prepared to begin treatment? —
No"), never "score 9 (Promoter)" for a promoter who answered No."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.tenancy import tenant_context
from app.tickets.models import Activity, Ticket
from tests.smtp_sink import body_html, body_text
from tests.support.data import login, make_contact, make_invitation, run_jobs
from tests.support.html import text
from tests.notifications.test_paths_agree import _through_the_service
from tests.support.tickets import (
    close, column_html, count_queries, open_ticket, squash, ticket_url, timeline_html,
)
from tests.surveys.test_extra_questions import make_question

QUESTION = "Do you feel prepared to begin treatment?"
WHY = f"{QUESTION} — No"


def _answer_no(app, client, org, name: str, question_id: int, score: int = 9) -> int:
    """A contact answers the hosted survey with ``score`` and No to the trigger question; the ticket's id."""
    contact_id = make_contact(app, org["tenant_id"], name)
    token = make_invitation(app, org["tenant_id"], contact_id)
    assert client.post(f"/s/{token}", data={"score": str(score), "comment": "Nobody explained the injections",
                                            f"q-{question_id}": "no"}).status_code == 303
    with app.app_context(), tenant_context(org["tenant_id"]):
        ticket_id = db.session.execute(
            select(Ticket.id).where(Ticket.contact_id == contact_id)).scalar_one()
        db.session.remove()
    return ticket_id


def _card(page: str, reference: str) -> str:
    match = re.search(rf'<li class="card">(?:(?!</li>).)*?{reference}.*?</li>', page, re.S)
    assert match, f"no card for {reference}"
    return text(match.group(0))


def test_a_ticket_opened_by_a_no_answer_shows_the_question_and_the_answer_in_the_alert_card_and_page(
        app, client, org, smtp_sink):
    question = make_question(app, org["tenant_id"], QUESTION, opens_ticket_on_no=True)
    ticket_id = _answer_no(app, app.test_client(), org, "Nina Nine", question)
    run_jobs(app)

    [alert] = [m for m in smtp_sink.to("mia@acme.example") if m["X-Turnaround-Kind"] == "detractor_alert"]
    assert str(alert["Subject"]) == f"Detractor ticket D-0001: {WHY}"
    assert f"Why it opened: {WHY}" in body_text(alert) and WHY in body_html(alert)
    assert "(Promoter)" not in body_text(alert) and "score 9" not in body_text(alert).lower()

    login(client, app, org["manager"])
    board = client.get(f"/t/{org['slug']}/").get_data(as_text=True)
    assert WHY in _card(column_html(board, "new"), "D-0001")

    page = squash(client.get(ticket_url(org, ticket_id)).get_data(as_text=True))
    assert f"Why it opened: {WHY}" in text(re.search(r'<header class="ticket-header">.*?</header>', page).group(0))
    assert ("Turnaround opened the ticket because a trigger question was answered No (score 9)"
            in text(timeline_html(page)))


def test_a_ticket_opened_by_a_score_says_the_score_and_its_band(app, client, org, smtp_sink, as_member):
    ticket_id = open_ticket(app, org, "Casey Client", 3)
    run_jobs(app)
    [alert] = [m for m in smtp_sink.to("mia@acme.example") if m["X-Turnaround-Kind"] == "detractor_alert"]
    assert str(alert["Subject"]) == "Detractor ticket D-0001: Score 3 — Detractor"
    assert "Why it opened: Score 3 — Detractor" in body_text(alert)
    client = as_member("agent")
    board = client.get(f"/t/{org['slug']}/").get_data(as_text=True)
    assert "Score 3 — Detractor" in _card(column_html(board, "new"), "D-0001")
    page = text(squash(client.get(ticket_url(org, ticket_id)).get_data(as_text=True)))
    assert "Why it opened: Score 3 — Detractor" in page


def test_the_sla_and_list_alerts_say_why_the_ticket_opened_too(app, org, clock, smtp_sink):
    """Every alert: the ticket closed alert and an SLA notice of a promoter who answered No."""
    question = make_question(app, org["tenant_id"], QUESTION, opens_ticket_on_no=True)
    ticket_id = _answer_no(app, app.test_client(), org, "Nina Nine", question)
    with app.app_context(), tenant_context(org["tenant_id"]):
        opened = db.session.execute(select(Activity.id).where(Activity.ticket_id == ticket_id,
                                                              Activity.kind == "opened")).scalar_one()
        db.session.remove()
    subject = {"tenant_id": org["tenant_id"], "ticket_id": ticket_id, "actor": org["manager"],
               "activity_id": opened, "previous": None}
    for event in ("first_contact_at_risk", "resolution_breached"):
        rows = [row for row in _through_the_service(app, event, subject) if row[0] == event]
        assert rows and all(f"Why it opened: {WHY}" in row[6] for row in rows), event
    close(app, org["tenant_id"], ticket_id, org["manager"])
    run_jobs(app)
    closed = [m for m in smtp_sink.to("mia@acme.example") if m["X-Turnaround-Kind"] == "ticket_closed"]
    assert closed and f"Why it opened: {WHY}" in body_text(closed[0])


def test_the_board_reads_why_each_ticket_opened_in_its_column_queries(app, org, as_member):
    """Tickets opened by different questions cost no query per card."""
    client = as_member("manager")
    first = make_question(app, org["tenant_id"], QUESTION, opens_ticket_on_no=True)
    _answer_no(app, app.test_client(), org, "Nina Nine", first)
    board = f"/t/{org['slug']}/"
    client.get(board)
    with count_queries(app) as few:
        assert client.get(board).status_code == 200
    for i in range(4):
        question = make_question(app, org["tenant_id"], f"Was question {i} answered?", opens_ticket_on_no=True)
        _answer_no(app, app.test_client(), org, f"Contact {i}", question, score=8)
        open_ticket(app, org, f"Scored {i}", 2)
    with count_queries(app) as many:
        page = client.get(board).get_data(as_text=True)
    assert len(few) == len(many), many
    assert "Was question 3 answered? — No" in page and "Score 2 — Detractor" in page
