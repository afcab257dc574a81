"""Every try at handing a message to the server is a delivery attempt with its outcome and the server's
reply, shown on the message's page in the email log."""
from __future__ import annotations

import re

from app.extensions import db
from app.mail import TRANSPORTS, PermanentError, TransientError, deliver_messages, sweep_outbox
from tests.support.data import login, run_jobs
from tests.mail.helpers import attempts, make_due, outbox, queue_plain


def _sweep(app) -> int:
    with app.app_context():
        count = sweep_outbox()
        db.session.remove()
    return count


def test_a_greylisted_message_is_retried_and_its_page_shows_both_attempts(app, client, org, smtp_sink):
    smtp_sink.fail("RCPT", "451 4.7.1 Greylisted, please try again later")
    [message_id] = queue_plain(app, org["tenant_id"], subject="Quarterly review")
    run_jobs(app)
    [row] = outbox(app, org["tenant_id"])
    assert (row.status, row.attempts) == ("queued", 1) and "451 4.7.1 Greylisted" in row.last_error
    assert smtp_sink.messages == []

    make_due(app)
    assert _sweep(app) == 1
    run_jobs(app)
    [row] = outbox(app, org["tenant_id"])
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    assert [m["Subject"] for m in smtp_sink.messages] == ["Quarterly review"]
    assert [(a.outcome, a.reply) for a in attempts(app, org["tenant_id"], message_id)] == [
        ("transient", "451 4.7.1 Greylisted, please try again later"), ("sent", "250 2.0.0 OK queued")]

    login(client, app, org["admin"])
    page = client.get(f"/t/{org['slug']}/emails/{message_id}").get_data(as_text=True)
    history = page[page.index("Delivery attempts"):page.index("Text version")]
    assert "Deferred (will retry)" in history and "451 4.7.1 Greylisted, please try again later" in history
    assert "Accepted" in history and "250 2.0.0 OK queued" in history
    assert len(re.findall(r"<tr>", history)) == 3  # header and two attempts


def test_a_message_not_yet_tried_says_so_on_its_page(app, client, org):
    [message_id] = queue_plain(app, org["tenant_id"])
    login(client, app, org["admin"])
    page = client.get(f"/t/{org['slug']}/emails/{message_id}").get_data(as_text=True)
    assert "No attempt yet." in page


def test_another_channel_is_one_transport_class(app, org, monkeypatch):
    sent: list[str] = []

    class Recording:
        def __init__(self, config):
            self.outcomes = iter([TransientError("busy"), PermanentError("no such user"), None])

        def send(self, email, sender, recipients):
            outcome = next(self.outcomes)
            if outcome is not None:
                raise outcome
            sent.append(recipients[0])
            return "202 accepted by the API"

        def close(self):
            pass

    monkeypatch.setitem(TRANSPORTS, "recording", Recording)
    monkeypatch.setitem(app.config, "MAIL_TRANSPORT", "recording")
    ids = queue_plain(app, org["tenant_id"], 3)
    with app.app_context():
        assert deliver_messages(ids) == {"queued": 1, "failed": 1, "sent": 1}
    assert sent == ["person2@example.com"]
    assert [[a.outcome for a in attempts(app, org["tenant_id"], i)] for i in ids] == [
        ["transient"], ["permanent"], ["sent"]]


def test_every_attempt_carries_the_same_message_id_even_after_the_sender_setting_changes(app, org, smtp_sink,
                                                                                        monkeypatch):
    smtp_sink.fail("DATA", "451 4.3.0 Try again")
    [message_id] = queue_plain(app, org["tenant_id"])
    run_jobs(app)
    monkeypatch.setitem(app.config, "MAIL_SENDER_ADDRESS", "news@elsewhere.example")
    make_due(app)
    with app.app_context():
        assert deliver_messages([message_id]) == {"sent": 1}
    [refused], [accepted] = smtp_sink.refused, smtp_sink.messages
    assert str(refused["Message-ID"]) == str(accepted["Message-ID"]) == \
        f"<outbox-{org['tenant_id']}-{message_id}@turnaround.localhost>"
