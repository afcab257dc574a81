"""A token of organisation A gets 404 for every object of organisation B through every API route that takes
an id, and sees none of B's objects in any list: the operations come from the OpenAPI document, so a new
route is covered (or this test says it needs a request body sample)."""
from __future__ import annotations

import re

from app.api.models import WebhookEndpoint
from app.extensions import db
from app.tenancy import tenant_context
from tests.support.data import answer, make_contact

# A valid body for each operation that needs one, so that what answers is the lookup, not the validation.
BODIES = {
    ("patch", "/api/v1/contacts/{contact_id}"): {"phone": "555-0100"},
    ("patch", "/api/v1/accounts/{account_id}"): {"notes": "x"},
    ("patch", "/api/v1/tickets/{ticket_id}"): {"status": "action_plan"},
    ("post", "/api/v1/tickets/{ticket_id}/activities"): {"kind": "note", "body": "Hello"},
}


def _b_objects(app, other_org, other_api) -> dict[str, int]:
    tenant_id = other_org["tenant_id"]
    contact_id = make_contact(app, tenant_id, "Bea Bayside")
    response_id = answer(app, tenant_id, contact_id, 1, "Private comment")
    account_id = other_api.post("/accounts", json={"name": "Bayside Practice"}).get_json()["id"]
    send_id = other_api.post("/survey-sends", json={"contact_ids": [contact_id]}).get_json()["send"]["id"]
    ticket_id = other_api.get("/tickets").get_json()["data"][0]["id"]
    integration_id = other_api.post("/integrations", json={"kind": "generic", "name": "Bayside portal"}).get_json()["id"]
    with app.app_context(), tenant_context(tenant_id):
        endpoint = WebhookEndpoint(url="https://hooks.bayside.example/t", events=[], secret_salt="s")
        db.session.add(endpoint)
        db.session.commit()
        endpoint_id = endpoint.id
        db.session.remove()
    return {"contact_id": contact_id, "response_id": response_id, "account_id": account_id, "send_id": send_id,
            "ticket_id": ticket_id, "endpoint_id": endpoint_id, "integration_id": integration_id}


def test_a_token_of_organisation_a_gets_404_for_every_object_of_organisation_b(app, api, other_api, other_org):
    ids = _b_objects(app, other_org, other_api)
    document = api.client.get("/api/v1/openapi.json").get_json()
    checked = 0
    for path, operations in document["paths"].items():
        names = re.findall(r"{(\w+)}", path)
        if not names or names == ["email"]:
            continue
        url = path.removeprefix("/api/v1")
        for name in names:
            assert name in ids, f"no object of organisation B for {{{name}}} in {path}"
            url = url.replace(f"{{{name}}}", str(ids[name]))
        for method, operation in operations.items():
            body = None
            if "requestBody" in operation:
                assert (method, path) in BODIES, f"add a valid body for {method.upper()} {path} to BODIES"
                body = BODIES[(method, path)]
            kwargs = {"json": body} if body is not None else {}
            response = getattr(api, method)(url, **kwargs)
            assert response.status_code == 404, (method, path, response.get_json())
            assert response.get_json()["error"]["code"] == "not_found"
            checked += 1
    assert checked >= 14

    reports = 0
    for path, operations in document["paths"].items():
        if "get" in operations and "{" not in path:
            answer = api.get(path.removeprefix("/api/v1")).get_json()
            if path.startswith("/api/v1/reports/"):
                # B's detractor answered and opened a ticket today: none of it is in A's figures.
                assert "period" in answer, (path, answer)
                assert answer.get("responses", 0) == 0 and answer.get("opened", 0) == 0, path
                assert answer.get("series", []) == [] or all(p["responses"] == 0 for p in answer["series"]), path
                assert "members" not in answer or not {m["name"] for m in answer["members"]} & {"Bo Agent"}, path
                reports += 1
                continue
            assert answer["data"] == [], f"{path} shows another organisation's objects"
    assert reports == 2

    bea = other_api.get(f"/contacts/{ids['contact_id']}").get_json()
    upserted = api.put(f"/contacts/by-email/{bea['email']}", json={"name": "Same address in A"})
    assert upserted.status_code == 201 and upserted.get_json()["id"] != ids["contact_id"]
    assert other_api.get(f"/contacts/{ids['contact_id']}").get_json()["name"] == "Bea Bayside"
