"""The recovery re-survey: owed when a ticket closes, sent by the sweep after the delay, once, past the
throttling window, linked to its ticket; and the recovery figures, checked by hand."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.feedback.models import RecoverySurvey
from app.feedback.recovery import sweep_resurveys
from app.reports import metrics
from app.settings.services import get_settings
from app.surveys import services as surveys
from app.surveys.models import SurveyInvitation
from app.tenancy import tenant_context
from app.tickets.models import Ticket
from app.timeutil import utcnow
from tests.support.html import table_rows
from tests.support.data import login
from tests.support.mail import link_path, outbox
from tests.support.tickets import close, open_ticket


def enable(app, tenant_id: int, days: int = 30, throttle: int = 90) -> None:
    with app.app_context(), tenant_context(tenant_id):
        settings = get_settings()
        settings.resurvey_enabled, settings.resurvey_delay_days, settings.survey_throttle_days = True, days, throttle
        db.session.commit()
        db.session.remove()


def sweep(app) -> int:
    with app.app_context():
        count = sweep_resurveys()
        db.session.remove()
    return count


def resurveys(app, tenant_id: int) -> list[SurveyInvitation]:
    with app.app_context(), tenant_context(tenant_id):
        rows = db.session.execute(select(SurveyInvitation).where(SurveyInvitation.followup_ticket_id.is_not(None))
                                  ).scalars().all()
        db.session.expunge_all()
        db.session.remove()
    return rows


def answer_resurvey(app, tenant_id: int, ticket_id: int, score: int, comment: str | None = None) -> None:
    """Answer the re-survey through the link in its email, as the contact would."""
    message = next(m for m in outbox(app, tenant_id, "survey_invitation") if m.ticket_id == ticket_id)
    token = link_path(message).rstrip("/").split("/")[-1].split("?")[0]
    with app.app_context():
        invitation = surveys.find_invitation(token)
        with tenant_context(tenant_id):
            surveys.record_answer(invitation, score, comment)
            db.session.commit()
        db.session.remove()


def test_the_resurvey_goes_out_after_the_delay_once_past_throttling_and_links_to_its_ticket(app, org, clock, client):
    tid = org["tenant_id"]
    enable(app, tid, days=30, throttle=90)
    ticket_id = open_ticket(app, org, "Casey Client", 3)
    close(app, tid, ticket_id, org["agent"])
    clock.shift(timedelta(days=29, hours=23))
    assert sweep(app) == 0 and resurveys(app, tid) == []
    clock.shift(timedelta(hours=2))
    assert sweep(app) == 1
    assert sweep(app) == 0  # at most once, however often the sweep runs
    [invitation] = resurveys(app, tid)
    assert invitation.followup_ticket_id == ticket_id
    [message] = [m for m in outbox(app, tid, "survey_invitation") if m.ticket_id == ticket_id]
    assert message.to_address == "casey.client@client.example"
    # the contact was surveyed 30 days ago, inside the 90-day window: only the re-survey got through, and
    # the window still holds for every other send to the contact
    with app.app_context(), tenant_context(tid):
        assert surveys.recently_surveyed([invitation.contact_id], 90) == {invitation.contact_id}
        assert get_settings().survey_throttle_days == 90
        db.session.remove()
    answer_resurvey(app, tid, ticket_id, 9, "Much better now")
    login(client, app, org["manager"])
    page = client.get(f"/t/{org['slug']}/tickets/{ticket_id}").get_data(as_text=True)
    assert "Follow-up score" in page and "<strong>9</strong> (Promoter), was 3" in page


def test_no_resurvey_when_switched_off_and_reopening_cancels_it(app, org, clock):
    tid = org["tenant_id"]
    first = open_ticket(app, org, "Off Person", 2)
    close(app, tid, first, org["agent"])
    enable(app, tid, days=7)
    second = open_ticket(app, org, "Reopened Person", 2)
    close(app, tid, second, org["agent"])
    with app.app_context(), tenant_context(tid):
        from app.accounts.models import User
        from app.tickets import services

        services.move_status(db.session.get(Ticket, second), db.session.get(User, org["agent"]), "contacted")
        db.session.commit()
        owed = db.session.execute(select(RecoverySurvey)).scalars().all()
        assert [(row.ticket_id, row.cancelled_at is not None) for row in owed] == [(second, True)]
        db.session.remove()
    clock.shift(timedelta(days=8))
    assert sweep(app) == 0
    close(app, tid, second, org["agent"])  # closed again: owed again, from the new closing
    clock.shift(timedelta(days=8))
    assert sweep(app) == 1 and [i.followup_ticket_id for i in resurveys(app, tid)] == [second]


def test_recovery_rate_and_average_change_by_hand(app, org, other_org, clock, client):
    tid = org["tenant_id"]
    enable(app, tid, days=30)
    enable(app, other_org["tenant_id"], days=30)
    # four detractors re-surveyed: 2 → 9 (promoter), 4 → 7 (passive), 5 → 5 (still detractor), 0 → 10
    tickets = {name: open_ticket(app, org, name, score) for name, score in
               (("Ann", 2), ("Ben", 4), ("Cat", 5), ("Dan", 0))}
    foreign = open_ticket(app, other_org, "Other", 1)
    for ticket_id in tickets.values():
        close(app, tid, ticket_id, org["agent"])
    close(app, other_org["tenant_id"], foreign, other_org["agent"])
    clock.shift(timedelta(days=31))
    assert sweep(app) == 5
    for name, score in (("Ann", 9), ("Ben", 7), ("Cat", 5), ("Dan", 10)):
        answer_resurvey(app, tid, tickets[name], score)
    answer_resurvey(app, other_org["tenant_id"], foreign, 0)
    with app.app_context(), tenant_context(tid):
        figures = metrics.recovery()
        assert (figures.resurveyed, figures.now_passive, figures.now_promoter) == (4, 1, 2)
        assert figures.rate == 3 / 4
        assert figures.average_change == (7 + 3 + 0 + 10) / 4
        [(cause, by_cause)] = metrics.recovery_by_root_cause()
        assert by_cause.resurveyed == 4 and by_cause.recovered == 3
        by_member = dict(metrics.recovery_by_member())
        assert sum(r.resurveyed for r in by_member.values()) == 4
        assert metrics.recovery(utcnow() + timedelta(days=1)).resurveyed == 0
        db.session.remove()
    # The follow-up report shows the same figures.
    login(client, app, org["manager"])
    page = client.get(f"/t/{org['slug']}/reports/follow-up?period=30").get_data(as_text=True)
    assert table_rows(page, "recovery-table")[0] == ["Everyone", "4", "1", "2", "75%", "+5.0"]
