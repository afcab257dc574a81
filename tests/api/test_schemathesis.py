"""Schemathesis runs the API's own OpenAPI document against the app on the test database (through WSGI): for
every operation it generates valid requests and invalid ones, and no answer is a 5xx or breaks the document
(status codes, content types and bodies as documented)."""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance, not_a_server_error, response_schema_conformance, status_code_conformance,
)

from tests.api.conftest import make_token
from tests.support.data import make_contact
from tests.support.tickets import open_ticket

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
# Examples per operation and mode: enough to reach every field and error path, small enough for well under a
# minute for the whole document.
EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 5}


def test_schemathesis_finds_no_server_error_and_no_schema_violation(app, org):
    token = make_token(app, org["tenant_id"], org["admin"])
    open_ticket(app, org, "Ann Client")
    make_contact(app, org["tenant_id"], "Bob Client", roles=("Signer",))
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    headers = {"Authorization": f"Bearer {token}"}
    for operation in operations:
        for mode, examples in EXAMPLES.items():
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            def call(case):
                case.call_and_validate(headers=headers, checks=CHECKS)

            call()
