"""The partner API at /api/v1: bearer tokens, per-token rate limits, idempotent POSTs, JSON in and out.

No business rules here: every write is the area's own service, every read a thin query; this module
turns HTTP into calls and the areas' errors into the API's error shape.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import fields
from functools import partial, wraps
from typing import Any

from pydantic import BaseModel, ValidationError
from quart import Blueprint, Response, g, request
from sqlalchemy.ext.asyncio import AsyncSession

from ops.api import queries, schemas
from ops.api import service as idempotency
from ops.api.openapi import Operation, Parameter, inline_code, openapi_document, register, type_label
from ops.auth.actor import Actor, Conflict, NotFound, PermissionDenied, RuleViolation
from ops.auth.service import authenticate_api_token
from ops.customers.service import CustomerData, create_customer, update_customer
from ops.db import utcnow
from ops.i18n import gettext as _
from ops.json_errors import error_body
from ops.pages import render_page
from ops.runtime import runtime
from ops.sales.leads.service import create_lead, move_lead
from ops.vehicles.service import VehicleData, create_vehicle
from ops.webhooks.service import create_endpoint, delete_endpoint, target_policy
from ops.workshop.models import format_work_order_number
from ops.workshop.service import NewWorkOrder, create_work_order, move_work_order

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Paths anyone may read: the API's own documentation.
PUBLIC_ENDPOINTS = {"api.openapi_json", "api.docs"}
View = Callable[..., Awaitable[Response]]
Dump = Callable[[Any], dict[str, Any]]


class ApiError(Exception):
    """An answer in the API's error shape; `details` name the fields at fault."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = dict(headers or {})


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    return Response(text, status=status, content_type="application/json", headers=dict(headers or {}))


def _error_response(error: ApiError) -> Response:
    return _json(
        error_body(error.status, error.message, error.code, error.details), error.status, error.headers
    )


def api_error_for(error: Exception) -> ApiError | None:
    """The API's answer to an area's exception, or None for a server error."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, PermissionDenied):
        return ApiError(403, "forbidden", _("This token's scopes do not allow this."))
    if isinstance(error, NotFound):
        return ApiError(404, "not_found", _("There is nothing here, or it belongs to another dealership."))
    if isinstance(error, Conflict):
        return ApiError(409, "conflict", str(error))
    if isinstance(error, RuleViolation):
        errors: dict[str, str] = getattr(error, "errors", None) or {error.field or "body": str(error)}
        details = [{"field": field, "message": message} for field, message in errors.items()]
        return ApiError(422, "validation_failed", str(error), details)
    if isinstance(error, ValidationError):
        details = [
            {"field": ".".join(str(part) for part in item["loc"]) or "body", "message": item["msg"]}
            for item in error.errors()
        ]
        return ApiError(422, "validation_failed", _("Some fields are not valid."), details)
    return None


@bp.errorhandler(ApiError)
@bp.errorhandler(PermissionDenied)
@bp.errorhandler(NotFound)
@bp.errorhandler(Conflict)
@bp.errorhandler(RuleViolation)
@bp.errorhandler(ValidationError)
async def known_error(error: Exception) -> Response:
    api_error = api_error_for(error)
    assert api_error is not None
    return _error_response(api_error)


# --- Who is calling, and how often ---------------------------------------------------------------------


@bp.before_request
async def authenticate() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    scheme, _space, raw_token = request.headers.get("Authorization", "").partition(" ")
    found = None
    if scheme.lower() == "bearer" and raw_token.strip():
        found = await authenticate_api_token(runtime().db, raw_token.strip())
    if found is None:
        raise ApiError(
            401,
            "unauthorized",
            _("Send a valid API token: Authorization: Bearer <token>."),
            headers={"WWW-Authenticate": 'Bearer realm="pitwall"'},
        )
    g.api_token_id, g.api_actor = found
    await _limit_rate(found[0], is_write=request.method not in ("GET", "HEAD", "OPTIONS"))
    # An id beyond the databases' 64-bit integers names nothing: 404, not a driver's overflow.
    if any(isinstance(value, int) and value > schemas.MAX_ID for value in (request.view_args or {}).values()):
        raise NotFound(request.view_args)


async def _limit_rate(token_id: int, *, is_write: bool) -> None:
    settings = runtime().settings
    limiter = runtime().rate_limiter
    window = settings.api_window_seconds
    limits = [(f"api:{token_id}", settings.api_requests_per_window)]
    if is_write:
        limits.append((f"api-write:{token_id}", settings.api_writes_per_window))
    for key, limit in limits:
        wait = await limiter.retry_after(key, limit)
        if wait:
            raise ApiError(
                429,
                "rate_limited",
                _("Too many requests for this token; try again in %(seconds)s seconds.", seconds=wait),
                headers={"Retry-After": str(wait)},
            )
    for key, _limit in limits:
        await limiter.count(key, window)


def _actor() -> Actor:
    actor: Actor = g.api_actor
    return actor


# --- Request plumbing ----------------------------------------------------------------------------------


async def _body(model: type[schemas.Input]) -> Any:
    raw = await request.get_data(as_text=False)
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(
            422,
            "validation_failed",
            _("The body is not JSON."),
            [{"field": "body", "message": _("Send a JSON object.")}],
        ) from None
    if not isinstance(data, dict):
        raise ApiError(
            422,
            "validation_failed",
            _("The body must be a JSON object."),
            [{"field": "body", "message": _("Send a JSON object.")}],
        )
    return model.model_validate(data)


def _page_request() -> queries.PageRequest:
    details = []
    values = {}
    for name, default, maximum in (
        ("page", 1, 1_000_000),
        ("pageSize", queries.DEFAULT_PAGE_SIZE, queries.MAX_PAGE_SIZE),
    ):
        raw = request.args.get(name, str(default))
        if not raw.isdigit() or not 1 <= int(raw) <= maximum:
            details.append(
                {"field": name, "message": _("Enter a whole number from 1 to %(max)s.", max=maximum)}
            )
        else:
            values[name] = int(raw)
    if details:
        raise ApiError(422, "validation_failed", _("The page asked for is not valid."), details)
    return queries.PageRequest(values["page"], values["pageSize"])


def _search_text(name: str = "q") -> str:
    text = request.args.get(name, "")[:100]
    if "\x00" in text:
        raise ApiError(
            422,
            "validation_failed",
            _("The search contains a NUL character."),
            [{"field": name, "message": _("Remove the NUL character.")}],
        )
    return text


def _choice(name: str, choices: tuple[str, ...]) -> str | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if value not in choices:
        raise ApiError(
            422,
            "validation_failed",
            _("Choose one of the options."),
            [{"field": name, "message": ", ".join(choices)}],
        )
    return value


def _dump(schema: type[BaseModel], obj: Any, **overrides: Any) -> dict[str, Any]:
    values = {
        name: overrides[name] if name in overrides else getattr(obj, name) for name in schema.model_fields
    }
    return schema.model_validate(values).model_dump(mode="json")


def _paged(page: queries.Page, items: list[dict[str, Any]]) -> Response:
    meta = {"total": page.total, "page": page.number, "pageSize": page.size, "totalPages": page.total_pages}
    return _json({"data": items, "meta": meta})


async def _list_resource(
    permission: str,
    fetch: Callable[..., Awaitable[queries.Page]],
    dump: Dump,
    *filters: Callable[[], str | None],
) -> Response:
    """One page of a resource as JSON; paging and filters are checked before anything is read."""
    _actor().require(permission)
    page_request = _page_request()
    filter_values = [read_filter() for read_filter in filters]
    async with runtime().db.read(_actor().tenant_id) as session:
        page = await fetch(session, page_request, *filter_values)
    return _paged(page, [dump(row) for row in page.rows])


async def _find(fetch: Callable[[AsyncSession, int], Awaitable[Any]], resource_id: int) -> Any:
    """The row with this id, or NotFound (404) when this tenant has none."""
    async with runtime().db.read(_actor().tenant_id) as session:
        found = await fetch(session, resource_id)
    if found is None:
        raise NotFound(resource_id)
    return found


async def _get_resource(
    permission: str, fetch: Callable[[AsyncSession, int], Awaitable[Any]], resource_id: int, dump: Dump
) -> Response:
    _actor().require(permission)
    return _json(dump(await _find(fetch, resource_id)))


def idempotent(view: View) -> View:
    """Run a POST once per `Idempotency-Key`: a retry gets the first answer, status and body."""

    @wraps(view)
    async def wrapper(**kwargs: Any) -> Response:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return await view(**kwargs)
        if not key.strip() or len(key) > idempotency.KEY_MAX_LENGTH:
            raise ApiError(
                422,
                "validation_failed",
                _("The Idempotency-Key must be 1 to 255 characters."),
                [{"field": "Idempotency-Key", "message": _("Use 1 to 255 characters.")}],
            )
        db, actor = runtime().db, _actor()
        body = await request.get_data(as_text=False)
        assert isinstance(body, bytes)
        fingerprint = idempotency.request_fingerprint(request.method, request.path, body)
        try:
            outcome = await idempotency.claim_key(db, actor, g.api_token_id, key, fingerprint)
        except idempotency.KeyReused:
            raise ApiError(
                422,
                "idempotency_key_reused",
                _("This Idempotency-Key was used for a different request; use a new key."),
                [{"field": "Idempotency-Key", "message": _("Already used for another request.")}],
            ) from None
        except idempotency.InProgress:
            raise ApiError(
                409,
                "idempotency_in_progress",
                _("A request with this Idempotency-Key is still being processed; retry shortly."),
                headers={"Retry-After": "1"},
            ) from None
        if isinstance(outcome, idempotency.Replay):
            return _json(outcome.body, outcome.status, {"Idempotent-Replayed": "true"})
        try:
            response = await view(**kwargs)
        except Exception as error:
            api_error = api_error_for(error)
            if api_error is None:
                await idempotency.release_key(db, actor, outcome)
                raise
            response = _error_response(api_error)
        await idempotency.store_answer(
            db, actor, outcome, response.status_code, await response.get_data(as_text=True)
        )
        return response

    return wrapper


def route(operation: Operation) -> Callable[[View], View]:
    """Serve a view and describe it in the OpenAPI document from the same declaration."""

    def decorate(view: View) -> View:
        register(operation)
        if operation.method == "POST":
            view = idempotent(view)
        bp.add_url_rule(operation.rule, view.__name__, view, methods=[operation.method])
        return view

    return decorate


PAGING = (
    Parameter("page", "query", {"type": "integer", "minimum": 1, "default": 1}, "The page, from 1."),
    Parameter(
        "pageSize", "query", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "Items a page."
    ),
)


def _list_operation(
    rule: str, summary: str, scope: str, tag: str, response: type[BaseModel], *filters: Parameter
) -> Operation:
    return Operation(
        "GET", rule, summary, scope, tag, response=response, paged=True, parameters=(*PAGING, *filters)
    )


def _search_parameter(description: str) -> Parameter:
    return Parameter("q", "query", {"type": "string", "maxLength": 100}, description)


def _choice_parameter(name: str, choices: tuple[str, ...], description: str) -> Parameter:
    return Parameter(name, "query", {"type": "string", "enum": list(choices)}, description)


# --- Customers -----------------------------------------------------------------------------------------


_customer = partial(_dump, schemas.Customer)


@route(
    _list_operation(
        "/customers",
        "List customers",
        "customers:read",
        "Customers",
        schemas.Customer,
        _search_parameter("Words matching name, company, email, phone or city."),
    )
)
async def list_customers() -> Response:
    return await _list_resource("customer.view", queries.customers, _customer, _search_text)


@route(
    Operation(
        "GET",
        "/customers/<int:customer_id>",
        "Get a customer",
        "customers:read",
        "Customers",
        response=schemas.Customer,
    )
)
async def get_customer(customer_id: int) -> Response:
    return await _get_resource("customer.view", queries.customer, customer_id, _customer)


@route(
    Operation(
        "POST",
        "/customers",
        "Create a customer",
        "customers:write",
        "Customers",
        request=schemas.CustomerCreate,
        response=schemas.Customer,
        status=201,
    )
)
async def create_customer_route() -> Response:
    body = await _body(schemas.CustomerCreate)
    async with runtime().db.uow(_actor()) as uow:
        created = await create_customer(uow, body.model_dump(exclude_unset=True))
        return _json(_customer(created), 201)


@route(
    Operation(
        "PATCH",
        "/customers/<int:customer_id>",
        "Update a customer",
        "customers:write",
        "Customers",
        request=schemas.CustomerUpdate,
        response=schemas.Customer,
        conflicts=True,
    )
)
async def update_customer_route(customer_id: int) -> Response:
    body = await _body(schemas.CustomerUpdate)
    _actor().require("customer.edit")
    current = await _find(queries.customer, customer_id)
    # The service saves a whole profile: what the partner did not send stays as it is.
    merged = {item.name: getattr(current, item.name) for item in fields(CustomerData)}
    merged.update(body.model_dump(exclude_unset=True, exclude={"version"}))
    async with runtime().db.uow(_actor()) as uow:
        updated = await update_customer(uow, customer_id, merged, body.version)
        # Read before the unit of work closes: a change that changed nothing is rolled back, not committed.
        return _json(_customer(updated))


# --- Leads ---------------------------------------------------------------------------------------------


_lead = partial(_dump, schemas.Lead)


@route(
    _list_operation(
        "/leads",
        "List leads, newest first",
        "leads:read",
        "Leads",
        schemas.Lead,
        _choice_parameter("stage", schemas.LEAD_STAGES, "Only leads in this stage."),
    )
)
async def list_leads() -> Response:
    stage = partial(_choice, "stage", schemas.LEAD_STAGES)
    return await _list_resource("lead.view", queries.leads, _lead, stage)


@route(Operation("GET", "/leads/<int:lead_id>", "Get a lead", "leads:read", "Leads", response=schemas.Lead))
async def get_lead(lead_id: int) -> Response:
    return await _get_resource("lead.view", queries.lead, lead_id, _lead)


@route(
    Operation(
        "POST",
        "/leads",
        "Capture a lead",
        "leads:write",
        "Leads",
        request=schemas.LeadCreate,
        response=schemas.Lead,
        status=201,
    )
)
async def create_lead_route() -> Response:
    body = await _body(schemas.LeadCreate)
    async with runtime().db.uow(_actor()) as uow:
        created = await create_lead(uow, body.model_dump())
        return _json(_lead(created), 201)


@route(
    Operation(
        "POST",
        "/leads/<int:lead_id>/move",
        "Move a lead to another stage",
        "leads:write",
        "Leads",
        request=schemas.LeadMove,
        response=schemas.Lead,
        conflicts=True,
    )
)
async def move_lead_route(lead_id: int) -> Response:
    body = await _body(schemas.LeadMove)
    async with runtime().db.uow(_actor()) as uow:
        moved = await move_lead(uow, lead_id, body.stage, body.version, body.lost_reason, body.lost_note)
        return _json(_lead(moved))


# --- Stock ---------------------------------------------------------------------------------------------


def _unit(unit_and_trim: tuple[Any, Any]) -> dict[str, Any]:
    unit, trim = unit_and_trim
    return _dump(schemas.StockUnit, unit, make=trim.make, model=trim.model, trim=trim.trim, year=trim.year)


@route(
    _list_operation(
        "/stock-units",
        "List stock units",
        "stock:read",
        "Stock",
        schemas.StockUnit,
        _choice_parameter("status", schemas.UNIT_STATUSES, "Only units in this status."),
    )
)
async def list_stock_units() -> Response:
    status = partial(_choice, "status", schemas.UNIT_STATUSES)
    return await _list_resource("stock.view", queries.stock_units, _unit, status)


@route(
    Operation(
        "GET",
        "/stock-units/<int:unit_id>",
        "Get a stock unit",
        "stock:read",
        "Stock",
        response=schemas.StockUnit,
    )
)
async def get_stock_unit(unit_id: int) -> Response:
    return await _get_resource("stock.view", queries.stock_unit, unit_id, _unit)


# --- Vehicles ------------------------------------------------------------------------------------------


_vehicle = partial(_dump, schemas.Vehicle)


@route(
    _list_operation(
        "/vehicles",
        "List vehicles",
        "vehicles:read",
        "Vehicles",
        schemas.Vehicle,
        _search_parameter("Part of the VIN, plate, make or model."),
    )
)
async def list_vehicles() -> Response:
    return await _list_resource("vehicle.view", queries.vehicles, _vehicle, _search_text)


@route(
    Operation(
        "GET",
        "/vehicles/<int:vehicle_id>",
        "Get a vehicle",
        "vehicles:read",
        "Vehicles",
        response=schemas.Vehicle,
    )
)
async def get_vehicle(vehicle_id: int) -> Response:
    return await _get_resource("vehicle.view", queries.vehicle, vehicle_id, _vehicle)


@route(
    Operation(
        "POST",
        "/vehicles",
        "Register a vehicle",
        "vehicles:write",
        "Vehicles",
        request=schemas.VehicleCreate,
        response=schemas.Vehicle,
        status=201,
    )
)
async def create_vehicle_route() -> Response:
    body = await _body(schemas.VehicleCreate)
    data = VehicleData(**{**body.model_dump(), "transmission": body.transmission or ""})
    async with runtime().db.uow(_actor()) as uow:
        created = await create_vehicle(uow, data, utcnow().date())
        return _json(_vehicle(created), 201)


# --- Work orders ---------------------------------------------------------------------------------------


def _work_order(row: Any) -> dict[str, Any]:
    return _dump(schemas.WorkOrder, row, number=format_work_order_number(row.number))


@route(
    _list_operation(
        "/work-orders",
        "List work orders, newest first",
        "work_orders:read",
        "Work orders",
        schemas.WorkOrder,
        _choice_parameter("status", schemas.STATUSES, "Only work orders in this status."),
    )
)
async def list_work_orders() -> Response:
    status = partial(_choice, "status", schemas.STATUSES)
    return await _list_resource("workshop.view", queries.work_orders, _work_order, status)


@route(
    Operation(
        "GET",
        "/work-orders/<int:work_order_id>",
        "Get a work order",
        "work_orders:read",
        "Work orders",
        response=schemas.WorkOrder,
    )
)
async def get_work_order(work_order_id: int) -> Response:
    return await _get_resource("workshop.view", queries.work_order, work_order_id, _work_order)


@route(
    Operation(
        "POST",
        "/work-orders",
        "Open a work order",
        "work_orders:write",
        "Work orders",
        request=schemas.WorkOrderCreate,
        response=schemas.WorkOrder,
        status=201,
    )
)
async def create_work_order_route() -> Response:
    body = await _body(schemas.WorkOrderCreate)
    async with runtime().db.uow(_actor()) as uow:
        created = await create_work_order(uow, NewWorkOrder(**body.model_dump()))
        return _json(_work_order(created), 201)


@route(
    Operation(
        "POST",
        "/work-orders/<int:work_order_id>/move",
        "Move a work order to another status",
        "work_orders:write",
        "Work orders",
        request=schemas.WorkOrderMove,
        response=schemas.WorkOrder,
        conflicts=True,
    )
)
async def move_work_order_route(work_order_id: int) -> Response:
    body = await _body(schemas.WorkOrderMove)
    async with runtime().db.uow(_actor()) as uow:
        moved = await move_work_order(uow, work_order_id, body.status, body.version, body.bay_id)
        return _json(_work_order(moved))


# --- Webhook subscriptions -----------------------------------------------------------------------------


@route(
    _list_operation(
        "/webhooks", "List webhook subscriptions", "webhooks:read", "Webhooks", schemas.WebhookEndpoint
    )
)
async def list_webhooks() -> Response:
    endpoint = partial(_dump, schemas.WebhookEndpoint)
    return await _list_resource("webhook.view", queries.webhook_endpoints, endpoint)


@route(
    Operation(
        "POST",
        "/webhooks",
        "Subscribe an endpoint to events",
        "webhooks:write",
        "Webhooks",
        request=schemas.WebhookEndpointCreate,
        response=schemas.WebhookEndpointCreated,
        status=201,
    )
)
async def create_webhook() -> Response:
    body = await _body(schemas.WebhookEndpointCreate)
    settings = runtime().settings
    policy = target_policy(settings.webhook_allow_private_targets, settings.is_production)
    async with runtime().db.uow(_actor()) as uow:
        endpoint, secret = await create_endpoint(
            uow, body.url, body.event_types, body.description, policy=policy
        )
        return _json(_dump(schemas.WebhookEndpointCreated, endpoint, secret=secret), 201)


@route(
    Operation(
        "DELETE",
        "/webhooks/<int:endpoint_id>",
        "Delete a webhook subscription",
        "webhooks:write",
        "Webhooks",
        status=204,
    )
)
async def delete_webhook(endpoint_id: int) -> Response:
    async with runtime().db.uow(_actor()) as uow:
        await delete_endpoint(uow, endpoint_id)
    return Response("", status=204)


# --- The documentation ---------------------------------------------------------------------------------


def _document() -> dict[str, Any]:
    settings = runtime().settings
    return openapi_document(
        settings.api_requests_per_window, settings.api_writes_per_window, settings.api_window_seconds
    )


@bp.get("/openapi.json")
async def openapi_json() -> Response:
    return _json(_document())


@bp.get("/docs")
async def docs() -> str:
    return await render_page(
        "api/docs.html", document=_document(), type_label=type_label, inline_code=inline_code
    )
