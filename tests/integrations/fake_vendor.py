"""A fake of the SurveyMonkey, Qualtrics and HubSpot APIs on loopback, serving the response shapes their
documentation gives, from data a test puts in. Each request is recorded (method, path, headers, body), and
``fail_next`` makes the next requests answer 503, as a vendor having a bad minute does."""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeVendor:
    def __init__(self) -> None:
        self.sm_responses: dict[str, dict] = {}   # response id -> response details
        self.sm_surveys: dict[str, dict] = {}     # survey id -> survey details
        self.qualtrics_responses: dict[str, dict] = {}  # response id -> result
        self.hubspot_submissions: list[dict] = []
        self.hubspot_contacts: dict[str, dict] = {}
        self.hubspot_companies: dict[str, dict] = {}
        self.hubspot_links: dict[str, str] = {}   # submission id -> contact id
        self.requests: list[tuple[str, str, dict, object]] = []
        self.fail_next = 0
        self.token = "vendor-token"
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "FakeVendor":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def paths(self, method: str | None = None) -> list[str]:
        return [path for m, path, _h, _b in self.requests if method is None or m == method]

    def answer(self, method: str, path: str, headers: dict, body) -> tuple[int, object]:
        self.requests.append((method, path, headers, body))
        if self.fail_next > 0:
            self.fail_next -= 1
            return 503, {"error": "try later"}
        authorised = headers.get("authorization") == f"Bearer {self.token}" or headers.get("x-api-token") == self.token
        if not authorised:
            return 401, {"error": "unauthorised"}
        if m := re.fullmatch(r"/v3/surveys/([\w-]+)/responses/([\w-]+)/details", path):
            found = self.sm_responses.get(m.group(2))
            return (200, found) if found else (404, {"error": {"message": "not found"}})
        if m := re.fullmatch(r"/v3/surveys/([\w-]+)/details", path):
            found = self.sm_surveys.get(m.group(1))
            return (200, found) if found else (404, {"error": {"message": "not found"}})
        if m := re.fullmatch(r"/API/v3/surveys/([\w-]+)/responses/([\w-]+)", path):
            found = self.qualtrics_responses.get(m.group(2))
            meta = {"httpStatus": "200 - OK", "requestId": "req-1"}
            return (200, {"result": found, "meta": meta}) if found else (404, {"meta": {"httpStatus": "404"}})
        if path == "/crm/v3/objects/feedback_submissions/search":
            return 200, self._search(body)
        if path == "/crm/v4/associations/feedback_submissions/contacts/batch/read":
            results = [{"from": {"id": item["id"]},
                        "to": [{"toObjectId": int(self.hubspot_links[item["id"]]),
                                "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 1}]}]}
                       for item in body["inputs"] if item["id"] in self.hubspot_links]
            return 200, {"status": "COMPLETE", "results": results}
        if m := re.fullmatch(r"/crm/v3/objects/(contacts|companies)/batch/read", path):
            table = self.hubspot_contacts if m.group(1) == "contacts" else self.hubspot_companies
            results = [{"id": item["id"], "properties": {k: v for k, v in table[item["id"]].items()
                                                         if k in body["properties"]}}
                       for item in body["inputs"] if item["id"] in table]
            return 200, {"status": "COMPLETE", "results": results}
        return 404, {"error": "no such endpoint"}

    def _search(self, body: dict) -> dict:
        filters = body["filterGroups"][0]["filters"]
        rows = list(self.hubspot_submissions)
        for f in filters:
            if f["operator"] == "EQ":
                rows = [r for r in rows if r["properties"].get(f["propertyName"]) == f["value"]]
            elif f["operator"] == "GTE":
                rows = [r for r in rows if int(r["properties"][f["propertyName"]]) >= int(f["value"])]
        rows.sort(key=lambda r: int(r["properties"]["hs_createdate"]))
        start = int(body.get("after") or 0)
        limit = int(body.get("limit") or 10)
        page = rows[start:start + limit]
        result = {"total": len(rows), "results": [
            {"id": r["id"], "properties": {k: v for k, v in r["properties"].items() if k in body["properties"]},
             "createdAt": r["createdAt"], "updatedAt": r["createdAt"], "archived": False} for r in page]}
        if start + limit < len(rows):
            result["paging"] = {"next": {"after": str(start + limit)}}
        return result

    def _handler(self):
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                path = self.path.split("?")[0]
                status, payload = vendor.answer(method, path, {k.lower(): v for k, v in self.headers.items()}, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                self._serve("GET")

            def do_POST(self):  # noqa: N802
                self._serve("POST")

            def log_message(self, *args):
                pass

        return Handler
