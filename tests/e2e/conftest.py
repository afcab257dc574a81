"""Browser tests: a live server on a free port, a real worker process, Playwright driving Debian's Chromium."""
from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from app import create_app
from tests.processes import WorkerProcess, worker_env
from tests.smtp_sink import _free_port
from tests.support.env import database_url, redis_url

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def live_server(app, smtp_sink):
    """The real app (CSRF on) served over HTTP in a background thread, on the tests' database."""
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    served = create_app({
        "APP_ENV": "test", "SQLALCHEMY_DATABASE_URI": database_url(), "REDIS_URL": redis_url(),
        "RATELIMIT_ENABLED": False, "SMTP_HOST": smtp_sink.host, "SMTP_PORT": smtp_sink.port,
        "BASE_URL": base_url,
        # As in development, the email log is the mailbox: a test can follow a confirmation link from it.
        "EMAIL_LOG_SHOWS_ONE_TIME_LINKS": True,
    })
    server = make_server("127.0.0.1", port, served, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base_url
    server.shutdown()


@pytest.fixture()
def worker_process(live_server, smtp_sink):
    worker = WorkerProcess(worker_env(smtp_sink, live_server))
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's chromium package (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser, live_server):
    context = browser.new_context(base_url=live_server)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture()
def phone(browser, live_server):
    """A tab the size of a phone (375 px wide), in a browser context of its own."""
    from tests.e2e.screens import PHONE, new_tab

    tab = new_tab(browser, live_server, PHONE)
    yield tab
    tab.context.close()
