"""The daily backlog notice: while open tickets per working member are above the organisation's threshold,
its admins are asked to add a team member once a day (the organisation's day), by the periodic sweep,
never twice for a second sweep or a restart, and no more once the backlog has ended."""
from __future__ import annotations

from sqlalchemy import update

from app.extensions import db
from app.jobs import redis_connection, sweep as sweep_job
from app.notifications.sweep import _BACKLOG_CHECKED_KEY, sweep_backlog
from app.tenancy import tenant_context
from app.tickets.models import Status, Ticket
from tests.support.data import run_jobs
from tests.support.tickets import bulk_tickets
from tests.support.workflow import set_sla

ADMIN = "admin@acme-billing.example"
BACKLOG = "workload_backlog"


def run_sweep(app) -> dict:
    """One sweep as the worker runs it, then every job it queued (real Redis, real SMTP)."""
    with app.app_context():
        result = sweep_job()
    run_jobs(app)
    return result


def restart(app) -> None:
    """What a worker restart with an emptied Redis forgets: when the backlog was last counted."""
    with app.app_context():
        redis_connection().delete(_BACKLOG_CHECKED_KEY)


def backlog_mail(smtp_sink, address: str) -> list:
    return [m for m in smtp_sink.to(address) if m["X-Turnaround-Kind"] == BACKLOG]


def close_tickets(app, tenant_id: int, ticket_ids: list[int]) -> None:
    with app.app_context(), tenant_context(tenant_id):
        db.session.execute(update(Ticket).where(Ticket.id.in_(ticket_ids)).values(status=Status.CLOSED))
        db.session.commit()
        db.session.remove()


def test_admins_hear_of_a_backlog_once_a_day_while_it_lasts_and_not_after(app, org, other_org, clock, smtp_sink):
    # Acme: 3 working members (admin, manager, agent), a threshold of 2 per member, 7 open tickets.
    set_sla(app, org["tenant_id"], backlog_threshold=2)
    tickets = bulk_tickets(app, org["tenant_id"], 7, assignee_id=org["agent"])
    # Bayside: 2 working members and 3 open tickets against its threshold of 1; its own notice, its own day.
    set_sla(app, other_org["tenant_id"], backlog_threshold=1)
    bulk_tickets(app, other_org["tenant_id"], 3, assignee_id=other_org["agent"])

    assert run_sweep(app)["backlog"] == 2
    [notice] = backlog_mail(smtp_sink, ADMIN)
    assert notice["Subject"] == "Add a team member: 2.3 open tickets per person at Acme Billing"
    body = notice.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Open tickets: 7\nWorking members: 3\nOpen tickets per member: 2.3 (your threshold is 2)" in body
    assert "http://localhost/t/acme-billing/teams/workload" in body
    assert len(backlog_mail(smtp_sink, "boss@bayside.example")) == 1
    # The manager and the agent are not admins.
    assert not backlog_mail(smtp_sink, "mia@acme.example") and not backlog_mail(smtp_sink, "alex@acme.example")

    # A second sweep, a restart that forgot the last count, and a sweep just before midnight in New York
    # (already the next day in UTC) send nothing more.
    run_sweep(app)
    with app.app_context():
        assert sweep_backlog() == 0
    restart(app)
    assert run_sweep(app)["backlog"] == 0
    clock.move_to("2025-03-04T04:59:00Z")  # Monday 23:59 in New York
    assert run_sweep(app)["backlog"] == 0
    assert len(backlog_mail(smtp_sink, ADMIN)) == 1

    clock.move_to("2025-03-04T14:00:00Z")  # Tuesday 09:00: the backlog is still there
    assert run_sweep(app)["backlog"] == 2
    assert len(backlog_mail(smtp_sink, ADMIN)) == 2

    close_tickets(app, org["tenant_id"], tickets[:2])  # 5 open for 3 members: under 2 per member
    clock.move_to("2025-03-05T14:00:00Z")  # Wednesday
    assert run_sweep(app)["backlog"] == 1  # Bayside only
    assert len(backlog_mail(smtp_sink, ADMIN)) == 2
    assert len(backlog_mail(smtp_sink, "boss@bayside.example")) == 3


def test_no_notice_at_or_under_the_threshold(app, org, clock, smtp_sink):
    set_sla(app, org["tenant_id"], backlog_threshold=2)
    bulk_tickets(app, org["tenant_id"], 6, assignee_id=org["agent"])  # exactly 2 per member
    assert run_sweep(app)["backlog"] == 0
    assert not backlog_mail(smtp_sink, ADMIN)
