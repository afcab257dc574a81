"""The weekly digest: Monday morning in the organisation's timezone, once per organisation per week, to the
lists that chose it, PHI-safe when the organisation's alerts are."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.accounts.models import Tenant
from app.extensions import db
from app.feedback.digest import sweep_digests
from app.jobs import sweep
from app.settings.services import get_settings
from app.tenancy import all_tenants, tenant_context
from tests.feedback.helpers import response
from tests.support.mail import outbox
from tests.support.tickets import close, open_ticket

# Monday 1 December 2025, 06:30 in New York (11:30 UTC): before the digest hour there.
MONDAY_EARLY = datetime(2025, 12, 1, 11, 30, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def founded_long_ago(app, org):
    """The organisation existed before the weeks these tests report on (a week's digest goes only to an
    organisation that existed when the week ended)."""
    _found_long_ago(app)


def _found_long_ago(app) -> None:
    with app.app_context(), all_tenants():
        for tenant in db.session.execute(select(Tenant)).scalars():
            tenant.created_at = datetime(2025, 1, 1, tzinfo=timezone.utc)
        db.session.commit()
        db.session.remove()


def digests(app, tenant_id: int):
    return outbox(app, tenant_id, "weekly_digest")


def run(app, now=None) -> int:
    with app.app_context():
        count = sweep_digests(now)
        db.session.remove()
    return count


def test_sent_on_monday_morning_once_per_week_with_last_weeks_figures(app, org, other_org, clock):
    _found_long_ago(app)  # Bayside too
    tid = org["tenant_id"]
    clock.move_to(MONDAY_EARLY - timedelta(days=3))  # Friday of the week reported
    ticket_id = open_ticket(app, org, "Dana Detractor", 2, "Invoices were wrong")
    response(app, tid, "Pia Promoter", 10)
    response(app, tid, "Pete Promoter", 9)
    response(app, tid, "Pat Passive", 8)
    close(app, tid, ticket_id, org["agent"])
    clock.move_to(MONDAY_EARLY)
    assert run(app) == 0  # 06:30 in New York: not yet
    assert digests(app, tid) == []
    clock.move_to(MONDAY_EARLY + timedelta(hours=1))
    with app.app_context():
        assert sweep()["digests"] == 2  # both organisations (Bayside is in New York too)
        db.session.remove()
    assert run(app) == 0 and run(app) == 0  # at most once, however often the sweep runs
    messages = digests(app, tid)
    assert sorted(m.to_address for m in messages) == ["admin@acme-billing.example", "mia@acme.example"]
    body = messages[0].text_body
    assert "Feedback for Acme Billing, Mon 24 Nov to Sun 30 Nov 2025." in body
    assert "NPS: 25" in body  # 2 promoters, 1 passive, 1 detractor: 50% − 25%
    assert "Responses: 4 (2 promoters, 1 passives, 1 detractors)" in body
    assert "D-0001: Closed, Dana Detractor" in body
    assert "Billing errors: 1" in body
    assert "Recovery: no re-surveyed detractors" in body
    clock.move_to(MONDAY_EARLY + timedelta(days=7, hours=1))
    assert run(app) == 2  # the next week, again once
    assert len(digests(app, tid)) == 4


def test_phi_safe_digest_carries_counts_and_references_only(app, org, clock):
    tid = org["tenant_id"]
    with app.app_context(), tenant_context(tid):
        get_settings().phi_safe_alerts = True
        db.session.commit()
        db.session.remove()
    clock.move_to(MONDAY_EARLY - timedelta(days=2))
    open_ticket(app, org, "Dana Detractor", 2, "My diagnosis was discussed in the waiting room",
                account="Northside Practice")
    clock.move_to(MONDAY_EARLY + timedelta(hours=2))
    run(app)
    [message, *_] = digests(app, tid)
    for body in (message.text_body, message.html_body, message.subject):
        assert "Dana" not in body and "Northside" not in body and "diagnosis" not in body
        assert "dana.detractor" not in body
    assert "D-0001: New" in message.text_body and "New detractors: 1" in message.text_body
    assert "no patient details" in message.text_body


def test_only_lists_that_chose_the_digest_get_it(app, org, clock):
    tid = org["tenant_id"]
    with app.app_context(), tenant_context(tid):
        from app.settings.models import NotificationList

        for nl in db.session.execute(db.select(NotificationList)).scalars():
            nl.events = [e for e in nl.events if e != "weekly_digest"]
        db.session.commit()
        db.session.remove()
    clock.move_to(MONDAY_EARLY + timedelta(hours=2))
    run(app)
    assert digests(app, tid) == []


def test_a_sweep_that_dies_mid_digest_leaves_it_owed_and_the_next_sends_it_once(app, org, clock, monkeypatch):
    import pytest

    from app.feedback import digest

    clock.move_to(MONDAY_EARLY + timedelta(hours=2))
    real = digest.digest_values

    def dying(*args, **kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(digest, "digest_values", dying)
    with pytest.raises(RuntimeError):
        run(app)
    assert digests(app, org["tenant_id"]) == []
    monkeypatch.setattr(digest, "digest_values", real)
    assert run(app) == 1 and run(app) == 0
    assert len(digests(app, org["tenant_id"])) == 2  # the Managers list: the admin and the manager


def test_an_organisation_founded_this_week_gets_no_digest_for_last_week(app, org, clock):
    clock.move_to(MONDAY_EARLY + timedelta(hours=1))
    with app.app_context(), all_tenants():
        db.session.get(Tenant, org["tenant_id"]).created_at = MONDAY_EARLY
        db.session.commit()
        db.session.remove()
    run(app)
    assert digests(app, org["tenant_id"]) == []
