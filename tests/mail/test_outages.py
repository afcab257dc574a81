"""A PostgreSQL outage, played by cutting a TCP proxy in front of the shared server: web pages answer 503
with a friendly page and Retry-After and recover without a restart; a message the mail server accepted
while the database was unreachable is recorded as sent once it is back, never failed, never sent twice."""
from __future__ import annotations

import threading
from urllib.parse import urlsplit, urlunsplit

import pytest

from app import create_app
from app.extensions import db
from app.mail import deliver_messages, sweep_outbox
from tests.support.data import PASSWORD, user_email
from tests.support.env import database_url, redis_url
from tests.mail.helpers import attempts, outbox, queue_plain
from tests.processes import TcpProxy


@pytest.fixture()
def proxied(app, smtp_sink):
    """(proxy, app) where the app reaches the tests' PostgreSQL through the proxy."""
    url = urlsplit(database_url())
    if not url.scheme.startswith("postgres"):
        pytest.skip("plays a PostgreSQL outage")
    proxy = TcpProxy(url.hostname, url.port or 5432).start()
    netloc = url.netloc.replace(f"{url.hostname}:{url.port}" if url.port else url.hostname, f"127.0.0.1:{proxy.port}")
    proxied_app = create_app({
        "APP_ENV": "test", "SQLALCHEMY_DATABASE_URI": urlunsplit(url._replace(netloc=netloc)),
        "REDIS_URL": redis_url(), "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
        "SMTP_HOST": smtp_sink.host, "SMTP_PORT": smtp_sink.port, "BASE_URL": "http://localhost",
        "MAIL_RECORD_RETRY_SECONDS": 10,
    })
    yield proxy, proxied_app
    proxy.stop()
    with proxied_app.app_context():
        db.engine.dispose()


def test_during_a_database_outage_pages_answer_503_and_recover_without_a_restart(app, org, proxied):
    proxy, web = proxied
    client = web.test_client()
    assert client.post("/login", data={"email": user_email(app, org["admin"]), "password": PASSWORD}).status_code == 302
    assert client.get(f"/t/{org['slug']}/emails/").status_code == 200

    proxy.cut()
    response = client.get(f"/t/{org['slug']}/emails/")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    page = response.get_data(as_text=True)
    assert "Temporarily unavailable" in page and "try again in a moment" in page

    proxy.restore()
    assert client.get(f"/t/{org['slug']}/emails/").status_code == 200


def test_a_message_accepted_while_the_database_is_briefly_away_is_recorded_as_sent_once(org, smtp_sink, proxied):
    proxy, worker_app = proxied
    [message_id] = queue_plain(worker_app, org["tenant_id"])

    def outage(message):  # the server has the message; the database goes away before the outcome is written
        proxy.cut()
        threading.Timer(1.5, proxy.restore).start()

    smtp_sink.on_message = outage
    with worker_app.app_context():
        assert deliver_messages([message_id]) == {"sent": 1}
    [row] = outbox(worker_app, org["tenant_id"])
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
    assert [a.outcome for a in attempts(worker_app, org["tenant_id"], message_id)] == ["sent"]
    assert len(smtp_sink.messages) == 1


def test_an_outcome_the_database_cannot_take_is_held_and_recorded_later_never_resent(org, smtp_sink, proxied):
    proxy, worker_app = proxied
    worker_app.config["MAIL_RECORD_RETRY_SECONDS"] = 0.5
    [message_id] = queue_plain(worker_app, org["tenant_id"])
    smtp_sink.on_message = lambda message: proxy.cut()
    with worker_app.app_context():
        deliver_messages([message_id])
    proxy.restore()
    [row] = outbox(worker_app, org["tenant_id"])
    assert row.status == "sending" and row.last_error is None  # not failed, not queued for a resend

    with worker_app.app_context():
        sweep_outbox()
        assert deliver_messages([message_id]) == {"skipped": 1}
    [row] = outbox(worker_app, org["tenant_id"])
    assert (row.status, row.attempts) == ("sent", 1)
    assert len(smtp_sink.messages) == 1
