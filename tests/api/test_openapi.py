"""The OpenAPI document: valid OpenAPI 3.1, complete, browsable, and true to what the API answers."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.helpers import bearer, issue_token
from tests.conftest import make_settings

EXAMPLES_PER_OPERATION = 12


@pytest.fixture
def settings(backend, tmp_path):  # type: ignore[no-untyped-def]
    # Schemathesis sends a few hundred requests with one token: more than the default write limit.
    return make_settings(backend, tmp_path, api_requests_per_window=100_000, api_writes_per_window=100_000)


async def _document(client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return await response.get_json()  # type: ignore[no-any-return]


async def test_the_document_is_valid_openapi_3_1(client):
    """A partner's generator (openapi-generator, Postman) must accept the document as it is."""
    document = await _document(client)

    assert document["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(document).validate()
    for name, schema in document["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name


async def test_every_route_is_documented_with_auth_errors_paging_and_idempotency(app, client):
    """Nothing a partner can call is missing from the document, and nothing in it is made up."""
    document = await _document(client)
    served = {
        (method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.endpoint not in ("api.openapi_json", "api.docs")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(method.upper(), path) for path, methods in document["paths"].items() for method in methods}
    assert served == documented
    assert ("POST", "/api/v1/telemetry") in documented

    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    error = document["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "message", "details", "timestamp", "path"}
    meta = document["components"]["schemas"]["PageMeta"]
    assert set(meta["properties"]) == {"total", "page", "pageSize", "totalPages"}
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            assert {"401", "403", "429"} <= set(operation["responses"]), (method, path)
            names = {p.get("name") or p["$ref"].rsplit("/", 1)[1] for p in operation["parameters"]}
            if method == "post" and path != "/api/v1/telemetry":
                assert "IdempotencyKey" in names, path
            if method == "get" and "{" not in path:
                assert {"page", "pageSize"} <= names, path


async def test_the_docs_page_lists_every_operation_without_outside_scripts(client):
    document = await _document(client)
    response = await client.get("/api/v1/docs")
    html = await response.get_data(as_text=True)

    assert response.status_code == 200
    for methods in document["paths"].values():
        for operation in methods.values():
            assert f'id="{operation["operationId"]}"' in html
    assert "Idempotency-Key" in html and "CustomerCreate" in html and "pageSize" in html
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', html)


def _run_schemathesis(base_url: str, token: str) -> list[str]:
    """Every operation with a bounded number of generated requests; the failures as text."""
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json")
    failures: list[str] = []
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        response_headers_conformance,
    ]
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: Any) -> None:
            case.call_and_validate(base_url=base_url, headers=bearer(token), checks=checks)

        try:
            exercise()
        except Exception as error:  # every operation's failure is collected and shown
            failures.append(f"{operation.label}: {error}")
    return failures


async def test_generated_requests_never_get_a_server_error_and_answers_match_the_document(
    factory, live_server
):
    """Schemathesis sends schema-valid requests with some data in place; no 5xx, and every status,
    header and body is one the document promises."""
    tenant = await factory.tenant()
    token = await issue_token(tenant)
    await tenant.work_order()
    await tenant.stock_unit()
    await tenant.lead()
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        assert (await http.get("/api/v1/customers", headers=bearer(token))).status_code == 200

    failures = await asyncio.to_thread(_run_schemathesis, live_server.url, token)

    assert failures == []
