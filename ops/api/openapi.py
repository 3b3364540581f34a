"""The OpenAPI 3.1 document of the partner API, built from the routes' own declarations.

Each route of `ops.api.web` is declared once as an `Operation` (path, scope, request and response
models); the route and its description come from that one declaration, so they cannot drift apart.
quart-schema is not used: it documents every route of the whole app (the HTML pages too) and brings
its own error shape; here the pydantic models' `model_json_schema()` are the schemas.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from markupsafe import Markup, escape
from pydantic import BaseModel

from ops.api import schemas
from ops.vehicles.telemetry.web import TelemetryReadingIn

API_PREFIX = "/api/v1"
IDEMPOTENCY_NOTE = (
    "Send an `Idempotency-Key` (1 to 255 characters, e.g. a UUID) with every POST. A retry with the "
    "same key and the same token gets the first answer (status and body, with "
    "`Idempotent-Replayed: true`) and writes nothing again; the same key with a different request "
    "answers 422 `idempotency_key_reused`; while the first is still running, 409 "
    "`idempotency_in_progress`. Keys are kept 24 hours."
)


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str
    schema: dict[str, Any]
    description: str = ""


@dataclass(frozen=True)
class Operation:
    method: str
    rule: str  # Quart's form: /customers/<int:customer_id>
    summary: str
    scope: str
    tag: str
    request: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    paged: bool = False
    conflicts: bool = False
    parameters: tuple[Parameter, ...] = field(default_factory=tuple)
    # Routes served by another area's blueprint but part of the partner API (telemetry).
    path_prefix: str = API_PREFIX
    # The request body is a JSON array of `request` (a telemetry batch).
    request_array: bool = False
    idempotent: bool = True
    bad_request: bool = False
    notes: str = ""

    @property
    def path(self) -> str:
        return self.path_prefix + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", self.rule)

    @property
    def path_parameters(self) -> list[str]:
        return re.findall(r"<(?:\w+:)?(\w+)>", self.rule)

    @property
    def operation_id(self) -> str:
        words = re.sub(r"<[^>]+>", "by_id", self.rule).strip("/").replace("-", "_").replace("/", "_")
        return f"{self.method.lower()}_{words}"


OPERATIONS: list[Operation] = []


def register(operation: Operation) -> None:
    OPERATIONS.append(operation)
    openapi_document.cache_clear()


def _error_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    response["headers"] = {
        "X-Correlation-ID": {"$ref": "#/components/headers/CorrelationId"},
        **(headers or {}),
    }
    return response


COMMON_RESPONSES = {
    "BadRequest": _error_response("The body is not JSON."),
    "Unauthorized": _error_response(
        "No token, or one that is unknown, revoked or of a suspended dealership."
    ),
    "Forbidden": _error_response("The token lacks the scope this operation needs."),
    "NotFound": _error_response("No such object in the token's dealership."),
    "Conflict": _error_response(
        "The object changed since the version sent, or the same Idempotency-Key is still in progress."
    ),
    "Unprocessable": _error_response("Invalid input; `details` names each field and what is wrong with it."),
    "TooManyRequests": _error_response(
        "Rate limit reached.", {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
    ),
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _success(operation: Operation) -> dict[str, Any]:
    headers = {"X-Correlation-ID": {"$ref": "#/components/headers/CorrelationId"}}
    if operation.response is None:
        return {"description": "Done.", "headers": headers}
    if operation.paged:
        schema: dict[str, Any] = {
            "type": "object",
            "required": ["data", "meta"],
            "properties": {
                "data": {"type": "array", "items": _ref(operation.response)},
                "meta": _ref(schemas.PageMeta),
            },
        }
    else:
        schema = _ref(operation.response)
    return {
        "description": "OK." if operation.status == 200 else "Created.",
        "headers": headers,
        "content": {"application/json": {"schema": schema}},
    }


def _operation(operation: Operation) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": schemas.MAX_ID},
        }
        for name in operation.path_parameters
    ]
    parameters += [
        {
            "name": p.name,
            "in": p.location,
            "required": False,
            "schema": p.schema,
            "description": p.description,
        }
        for p in operation.parameters
    ]
    if operation.method == "POST" and operation.idempotent:
        parameters.append({"$ref": "#/components/parameters/IdempotencyKey"})
    responses: dict[str, Any] = {str(operation.status): _success(operation)}
    if operation.bad_request:
        responses["400"] = {"$ref": "#/components/responses/BadRequest"}
    responses["401"] = {"$ref": "#/components/responses/Unauthorized"}
    responses["403"] = {"$ref": "#/components/responses/Forbidden"}
    if operation.path_parameters:
        responses["404"] = {"$ref": "#/components/responses/NotFound"}
    if operation.conflicts or (operation.method == "POST" and operation.idempotent):
        responses["409"] = {"$ref": "#/components/responses/Conflict"}
    if operation.request is not None or operation.parameters or operation.method == "POST":
        responses["422"] = {"$ref": "#/components/responses/Unprocessable"}
    responses["429"] = {"$ref": "#/components/responses/TooManyRequests"}
    described: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "description": f"Needs the scope `{operation.scope}`. {operation.notes}".strip(),
        "tags": [operation.tag],
        "security": [{"bearer": [operation.scope]}],
        "parameters": parameters,
        "responses": responses,
    }
    if operation.request is not None:
        body: dict[str, Any] = _ref(operation.request)
        if operation.request_array:
            body = {"type": "array", "items": body, "minItems": 1}
        described["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return described


def _component_schemas(requests: set[type[BaseModel]], responses: set[type[BaseModel]]) -> dict[str, Any]:
    components: dict[str, Any] = {}
    # Responses are described as they are sent (amounts as strings), requests as they are accepted.
    described = [(model, "validation") for model in requests] + [
        (model, "serialization") for model in responses
    ]
    for model, mode in sorted(described, key=lambda item: item[0].__name__):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)  # type: ignore[arg-type]
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    return components


def rate_limit_note(requests: int, writes: int, window_seconds: int) -> str:
    minutes = window_seconds // 60
    return (
        f"Each token may make {requests} requests per {minutes} minutes, of which {writes} may be writes "
        "(POST, PATCH, DELETE). Beyond that the answer is 429 with `Retry-After` (seconds until the "
        f"window closes). A window opens at a token's first request and lasts {minutes} minutes."
    )


@cache
def openapi_document(requests_per_window: int, writes_per_window: int, window_seconds: int) -> dict[str, Any]:
    """The document served at /api/v1/openapi.json, stating this server's rate limits."""
    operations = sorted(OPERATIONS, key=lambda o: (o.tag, o.path, o.method))
    paths: dict[str, dict[str, Any]] = {}
    requests: set[type[BaseModel]] = set()
    responses: set[type[BaseModel]] = {schemas.Error, schemas.PageMeta}
    for operation in operations:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(operation)
        if operation.request is not None:
            requests.add(operation.request)
        if operation.response is not None:
            responses.add(operation.response)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Pitwall partner API",
            "version": "1",
            "description": "\n\n".join(
                [
                    "Customers, leads, stock, vehicles, work orders, telemetry and webhook subscriptions "
                    "of one dealership, for its partners. Authenticate with an API token created by the "
                    "dealership's administrator under Settings > API tokens: `Authorization: Bearer pw_...`.",
                    "Lists answer `{data, meta: {total, page, pageSize, totalPages}}`; `pageSize` is 20 "
                    "unless asked for, 100 at most. Errors answer `{code, message, details, timestamp, "
                    "path}`; every answer carries an `X-Correlation-ID` to quote when asking for help. "
                    "Amounts are decimal strings; times are ISO 8601 in UTC.",
                    rate_limit_note(requests_per_window, writes_per_window, window_seconds),
                    IDEMPOTENCY_NOTE,
                ]
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "tags": [{"name": tag} for tag in dict.fromkeys(o.tag for o in operations)],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API token, `pw_...`."}
            },
            "parameters": {
                "IdempotencyKey": {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                    "description": IDEMPOTENCY_NOTE,
                }
            },
            "headers": {
                "CorrelationId": {"schema": {"type": "string"}, "description": "This request's reference."},
                "RetryAfter": {
                    "schema": {"type": "integer", "minimum": 1},
                    "description": "Seconds to wait.",
                },
            },
            "responses": COMMON_RESPONSES,
            "schemas": _component_schemas(requests, responses),
        },
    }


def type_label(schema: dict[str, Any]) -> str:
    """A JSON schema's type in a few words for the docs page: `string`, `array of Customer`."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "enum" in schema:
        return "one of " + ", ".join(str(value) for value in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return " or ".join(type_label(option) for option in schema[combinator])
    kind = schema.get("type", "any")
    if kind == "array":
        return "array of " + type_label(schema.get("items", {}))
    if "format" in schema:
        return f"{kind} ({schema['format']})"
    return str(kind)


register(
    Operation(
        "POST",
        "/api/v1/telemetry",
        "Send a batch of telemetry readings",
        "telemetry:write",
        "Telemetry",
        request=TelemetryReadingIn,
        request_array=True,
        response=schemas.TelemetryResult,
        path_prefix="",
        idempotent=False,
        bad_request=True,
        notes=(
            "All readings are stored or none (422 names the reading's index and field). A resent "
            "reading (same vehicle and time) is counted in `duplicates` and stored once, so a retry "
            "needs no Idempotency-Key. Devices may instead sign the batch with the Standard Webhooks "
            "scheme and name the dealership in `X-Pitwall-Tenant`."
        ),
    )
)


def inline_code(text: str) -> Markup:
    """Markdown's `code` spans of a description as <code>, the rest escaped."""
    parts = str(escape(text)).split("`")
    return Markup("".join(f"<code>{part}</code>" if index % 2 else part for index, part in enumerate(parts)))
