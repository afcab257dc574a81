"""The practice-metrics document's 30-minute response, with the choice of what stops the first-contact clock (a
logged call only, as the SOP asks, or a call or a personal email), as the team hears of it."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.accounts.models import User
from app.extensions import db
from app.notifications import sweep_due
from app.tickets import services
from tests.support.mail import outbox
from tests.support.tickets import open_ticket, ticket_state, with_ticket
from tests.support.workflow import notices_of, set_sla


def _thirty_minutes(app, org, stopped_by: str) -> None:
    set_sla(app, org["tenant_id"], first_contact_target=30, first_contact_target_unit="minutes",
            first_contact_breach=1, first_contact_breach_unit="hours", business_hours_only=False,
            first_contact_stopped_by=stopped_by)


def _email(app, org, ticket_id) -> None:
    with_ticket(app, org["tenant_id"], ticket_id, lambda t: services.log_email(
        t, db.session.get(User, org["agent"]), direction="outbound", subject="Following up", summary=None))


def _sweep(app, clock, minutes: int) -> None:
    clock.shift(timedelta(minutes=minutes))
    with app.app_context():
        sweep_due()
        db.session.commit()
        db.session.remove()


def test_with_a_call_required_a_30_minute_first_contact_runs_on_after_an_email_and_says_a_call_is_missing(
        app, org, clock):
    _thirty_minutes(app, org, "call")
    ticket_id = open_ticket(app, org)
    notices = notices_of(app, org["tenant_id"], ticket_id)
    opened = notices["first_contact_breached"]["due_at"] - timedelta(hours=1)
    assert notices["first_contact_at_risk"]["due_at"] == opened + timedelta(minutes=22, seconds=30)
    _email(app, org, ticket_id)
    assert ticket_state(app, org["tenant_id"], ticket_id)["first_contact_at"] is None

    _sweep(app, clock, 23)
    [at_risk, *_] = outbox(app, org["tenant_id"], "first_contact_at_risk")
    assert "Nobody has called the customer on D-0001 yet. First contact is due" in at_risk.text_body
    assert "or emailed" not in at_risk.text_body


@pytest.mark.parametrize("stopped_by", ["call", "call_or_email"])
def test_a_30_minute_first_contact_is_met_by_what_the_organisation_chose(app, org, clock, stopped_by):
    _thirty_minutes(app, org, stopped_by)
    ticket_id = open_ticket(app, org)
    _email(app, org, ticket_id)
    _sweep(app, clock, 23)
    sent = outbox(app, org["tenant_id"], "first_contact_at_risk")
    if stopped_by == "call":
        assert sent and "Nobody has called the customer" in sent[0].text_body
    else:  # the email met first contact: nothing is at risk
        assert sent == [] and ticket_state(app, org["tenant_id"], ticket_id)["first_contact_at"] is not None


def test_when_a_call_or_an_email_counts_the_notice_says_nobody_called_or_emailed(app, org, clock):
    _thirty_minutes(app, org, "call_or_email")
    open_ticket(app, org)
    _sweep(app, clock, 23)
    [at_risk, *_] = outbox(app, org["tenant_id"], "first_contact_at_risk")
    assert "Nobody has called or emailed the customer on D-0001 yet." in at_risk.text_body
