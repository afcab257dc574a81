"""Outgoing webhooks: an endpoint hears ticket and response events, posted after commit by the worker to a
local receiver, signed with Standard Webhooks; a failed delivery is retried by the sweep with the same
webhook-id; private and loopback addresses are refused unless the instance allows them."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine

from app.api.models import WebhookDelivery
from app.extensions import db
from app.notifications.webhooks import sweep_webhooks
from app.tenancy import tenant_context
from app.timeutil import utcnow
from tests.support.data import answer, make_contact, run_jobs


class Receiver:
    """A webhook receiver on loopback that records each request and answers the statuses it is given."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()},
                                          "body": body.decode(), "path": self.path})
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/turnaround"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver(app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE_ADDRESSES", True)
    running = Receiver()
    yield running
    running.stop()


def verify(secret: str, request: dict, tolerance: int = 300) -> dict:
    """Verify a delivery as a receiver following Standard Webhooks would; returns the parsed body."""
    headers = request["headers"]
    message_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    assert abs(time.time() - int(timestamp)) < tolerance
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, f"{message_id}.{timestamp}.{request['body']}".encode(),
                                         hashlib.sha256).digest()).decode()
    signatures = [part.split(",", 1)[1] for part in headers["webhook-signature"].split() if part.startswith("v1,")]
    assert any(hmac.compare_digest(expected, signature) for signature in signatures), "signature does not verify"
    return json.loads(request["body"])


def test_private_and_loopback_addresses_are_refused_by_default(api):
    for url in ("http://127.0.0.1:9/x", "http://10.0.0.5/x", "http://169.254.169.254/latest", "http://[::1]/x",
                "http://localhost/x", "ftp://example.com/x"):
        refused = api.post("/webhook-endpoints", json={"url": url})
        assert refused.status_code == 422, url
        assert refused.get_json()["error"]["field"] == "url"


def test_events_are_delivered_signed_after_commit(app, api, org, receiver):
    created = api.post("/webhook-endpoints", json={"url": receiver.url, "description": "CRM"})
    assert created.status_code == 201, created.get_json()
    endpoint = created.get_json()
    assert endpoint["secret"].startswith("whsec_") and endpoint["events"] == []
    assert "secret" not in api.get(f"/webhook-endpoints/{endpoint['id']}").get_json()

    contact_id = make_contact(app, org["tenant_id"], "Ann Client")
    response_id = answer(app, org["tenant_id"], contact_id, 2, "Too slow")
    assert receiver.requests == [], "nothing is posted before the worker runs"
    run_jobs(app)
    events = [verify(endpoint["secret"], request) for request in receiver.requests]
    assert sorted(event["type"] for event in events) == ["response.created", "ticket.opened"]
    by_type = {event["type"]: event["data"] for event in events}
    assert by_type["response.created"]["id"] == response_id and by_type["response.created"]["score"] == 2
    assert "comment" not in by_type["response.created"], "events carry ids and states, not what people wrote"
    ticket_id = by_type["ticket.opened"]["id"]
    assert receiver.requests[0]["headers"]["content-type"] == "application/json"
    assert receiver.requests[0]["path"] == "/hooks/turnaround"

    receiver.requests.clear()
    api.patch(f"/tickets/{ticket_id}", json={"status": "action_plan"})
    run_jobs(app)
    (event,) = [verify(endpoint["secret"], request) for request in receiver.requests]
    assert event["type"] == "ticket.status_changed"
    assert (event["data"]["previous_status"], event["data"]["status"]) == ("new", "action_plan")

    log = api.get(f"/webhook-endpoints/{endpoint['id']}/deliveries").get_json()["data"]
    assert [d["event_type"] for d in log] == ["ticket.status_changed", "ticket.opened", "response.created"] or \
        [d["event_type"] for d in log][0] == "ticket.status_changed"
    assert {d["status"] for d in log} == {"delivered"}


def test_an_endpoint_hears_only_its_events(app, api, org, receiver):
    api.post("/webhook-endpoints", json={"url": receiver.url, "events": ["ticket.closed"]})
    answer(app, org["tenant_id"], make_contact(app, org["tenant_id"], "Ann"), 1)
    run_jobs(app)
    assert receiver.requests == []
    assert api.post("/webhook-endpoints", json={"url": receiver.url, "events": ["ticket.exploded"]}).status_code == 422


def test_a_failed_delivery_is_retried_with_the_same_webhook_id(app, api, org, receiver):
    endpoint = api.post("/webhook-endpoints", json={"url": receiver.url, "events": ["response.created"]}).get_json()
    receiver.statuses = [500]
    answer(app, org["tenant_id"], make_contact(app, org["tenant_id"], "Ann"), 9)
    run_jobs(app)
    (log_entry,) = api.get(f"/webhook-endpoints/{endpoint['id']}/deliveries").get_json()["data"]
    assert (log_entry["status"], log_entry["attempts"], log_entry["last_status_code"]) == ("pending", 1, 500)
    assert log_entry["next_attempt_at"] is not None

    with app.app_context():
        assert sweep_webhooks() == 0, "the retry is not due yet"
        db.session.remove()
    with time_machine.travel(utcnow() + timedelta(minutes=2)):
        with app.app_context():
            assert sweep_webhooks() == 1
            db.session.remove()
        run_jobs(app)
        verify(endpoint["secret"], receiver.requests[-1])
    first, second = receiver.requests
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"] == log_entry["webhook_id"]
    assert first["body"] == second["body"]
    (log_entry,) = api.get(f"/webhook-endpoints/{endpoint['id']}/deliveries").get_json()["data"]
    assert (log_entry["status"], log_entry["attempts"]) == ("delivered", 2)


def test_an_endpoint_is_listed_and_removed(app, api, org, receiver):
    endpoint = api.post("/webhook-endpoints", json={"url": receiver.url}).get_json()
    assert [e["id"] for e in api.get("/webhook-endpoints").get_json()["data"]] == [endpoint["id"]]
    assert api.delete(f"/webhook-endpoints/{endpoint['id']}").status_code == 204
    assert api.get(f"/webhook-endpoints/{endpoint['id']}").status_code == 404
    answer(app, org["tenant_id"], make_contact(app, org["tenant_id"], "Ann"), 1)
    run_jobs(app)
    assert receiver.requests == []
    with app.app_context(), tenant_context(org["tenant_id"]):
        assert db.session.execute(db.select(WebhookDelivery)).first() is None


def test_admins_see_endpoints_and_their_delivery_log_in_settings(app, api, org, receiver, as_member):
    endpoint = api.post("/webhook-endpoints", json={"url": receiver.url, "description": "CRM"}).get_json()
    receiver.statuses = [503]
    answer(app, org["tenant_id"], make_contact(app, org["tenant_id"], "Ann"), 9)
    run_jobs(app)
    client = as_member("admin")
    settings_page = client.get(f"/t/{org['slug']}/settings/api/").get_data(as_text=True)
    assert receiver.url in settings_page and "Delivery log for CRM" in settings_page
    log = client.get(f"/t/{org['slug']}/settings/api/webhooks/{endpoint['id']}").get_data(as_text=True)
    assert "response.created" in log and "HTTP 503" in log and "next try" in log
