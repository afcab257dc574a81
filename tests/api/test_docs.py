"""The OpenAPI 3.1 document is generated from the code, and /api/docs renders it for people without script."""
from __future__ import annotations


def test_the_openapi_document_describes_every_api_route(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    rules = {(rule.rule, method) for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")
             for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method.upper()) for path, operations in document["paths"].items() for method in operations}
    assert len(documented) == len(rules) >= 30
    for path in ("/api/v1/tickets", "/api/v1/reports/nps", "/api/v1/reports/follow-up"):
        for parameter in document["paths"][path]["get"]["parameters"]:
            assert parameter.get("description"), (path, parameter["name"])
    names = {parameter["name"] for parameter in document["paths"]["/api/v1/tickets"]["get"]["parameters"]}
    assert names >= {"status", "sla", "assignee", "team", "band", "trigger", "cause", "account", "opened_from",
                     "opened_to", "q", "sort", "dir", "limit", "cursor"}
    nps = document["paths"]["/api/v1/reports/nps"]["get"]["responses"]["200"]["content"]["application/json"]
    assert nps["schema"]["$ref"].endswith("/NpsReport")
    error = document["components"]["schemas"]["ErrorBody"]
    assert error["properties"]["error"]["$ref"].endswith("/ErrorDetail")


def test_the_reference_page_is_server_rendered(client):
    page = client.get("/api/docs")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<h3><code>PUT /api/v1/contacts/by-email/{email}</code></h3>" in html
    assert "Idempotency-Key" in html and "next_cursor" in html
    assert "<script>" not in html and "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_the_reference_page_reads_as_prose_and_describes_every_filter(client):
    from tests.support.html import text

    html = client.get("/api/docs").get_data(as_text=True)
    assert "`" not in text(html)  # the descriptions' `code` is set as code, not shown with backticks
    assert "<code>Authorization: Bearer &lt;token&gt;</code>" in html
    document = client.get("/api/v1/openapi.json").get_json()
    undescribed = [(path, method, parameter["name"]) for path, methods in document["paths"].items()
                   for method, operation in methods.items() for parameter in operation.get("parameters", [])
                   if parameter.get("in") == "query"
                   and not (parameter.get("description") or parameter.get("schema", {}).get("description"))]
    assert undescribed == []
