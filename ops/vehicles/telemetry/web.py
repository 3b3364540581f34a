"""Telemetry in over HTTP, and the telematics settings pages.

Ingestion (JSON errors `{code, message, details, timestamp, path}`; 2xx only after the commit):
- `POST /hooks/traccar/<tenant slug>`: Traccar's JSON position and event forwarding, authenticated by
  `Authorization: Bearer <the tenant's Traccar secret>` (Traccar's `forward.header`).
- `GET|POST /hooks/osmand/<tenant slug>?token=<device token>`: Traccar Client's OsmAnd reports
  (query, form or JSON body), authenticated per device.
- `POST /api/v1/telemetry`: a JSON array of `TelemetryReadingIn`, either signed with the Standard
  Webhooks scheme (`webhook-id`, `webhook-timestamp`, `webhook-signature` over the body with the
  tenant's signing secret; the tenant named by the `X-Pitwall-Tenant: <slug>` header) or sent with a
  partner API token (`Authorization: Bearer pw_...`, scope `telemetry:write`).

Settings (admins and workshop managers, `fleet.manage`): `/vehicles/telematics` (secrets, thresholds,
devices) and `/vehicles/<id>/devices` (one vehicle's devices).
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from quart import Blueprint, abort, redirect, request, url_for
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from integrations.telematics.osmand import parse_osmand_json, parse_osmand_params
from integrations.telematics.readings import DeviceReading, PayloadError
from integrations.telematics.traccar import parse_traccar
from ops.auth.actor import Actor, NotFound, PermissionDenied, RuleViolation
from ops.auth.service import actor_for_api_token
from ops.auth.web import current_actor, current_tenant, login_required
from ops.i18n import format_number
from ops.i18n import gettext as _
from ops.json_errors import error_body
from ops.list_filters import page_number
from ops.pages import flash_message, render_page
from ops.runtime import runtime
from ops.vehicles.models import DEVICE_KINDS
from ops.vehicles.telemetry import queries
from ops.vehicles.telemetry.service import (
    ReadingRefused,
    ThresholdsInvalid,
    ingest_readings,
    register_device,
    remove_device,
    rotate_signing_secret,
    rotate_traccar_secret,
    sha256_hex,
    telemetry_actor,
    update_thresholds,
)
from ops.vehicles.telemetry.thresholds import DEFAULT_THRESHOLDS
from ops.vehicles.telemetry.units import DisplayUnits

bp = Blueprint("telemetry", __name__)

SETTINGS_TEMPLATE = "vehicles/telemetry/settings.html"
DEVICES_TEMPLATE = "vehicles/telemetry/devices.html"
TENANT_HEADER = "X-Pitwall-Tenant"
NO_STORE = {"Cache-Control": "no-store"}
DTC_PATTERN = r"^[PCBU][0-9A-F]{4}$"


# --- The batch API's reading -------------------------------------------------------------------------


class TelemetryReadingIn(BaseModel):
    """One reading for `POST /api/v1/telemetry`; units are in the field names. Give `vin` or `device_id`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    vin: Annotated[str | None, Field(min_length=11, max_length=17, description="The vehicle's VIN")] = None
    device_id: Annotated[
        str | None, Field(min_length=1, max_length=64, description="A registered device's unique id")
    ] = None
    time: Annotated[datetime, Field(description="When the reading was taken, ISO 8601 with an offset")]
    fuel_level: Annotated[float | None, Field(ge=0, le=1, description="Tank level, 0 to 1")] = None
    state_of_charge: Annotated[float | None, Field(ge=0, le=1, description="Traction battery, 0 to 1")] = None
    fuel_l_per_100km: Annotated[float | None, Field(ge=0, le=200, description="Litres per 100 km")] = None
    engine_load: Annotated[float | None, Field(ge=0, le=1, description="Calculated engine load, 0 to 1")] = (
        None
    )
    engine_temp_c: Annotated[float | None, Field(ge=-60, le=200, description="Coolant, °C")] = None
    battery_v: Annotated[float | None, Field(ge=0, le=60, description="12 V system voltage")] = None
    odometer_km: Annotated[float | None, Field(ge=0, le=5_000_000, description="Odometer, km")] = None
    tyre_fl_kpa: Annotated[float | None, Field(ge=0, le=1500, description="Front left, kPa")] = None
    tyre_fr_kpa: Annotated[float | None, Field(ge=0, le=1500, description="Front right, kPa")] = None
    tyre_rl_kpa: Annotated[float | None, Field(ge=0, le=1500, description="Rear left, kPa")] = None
    tyre_rr_kpa: Annotated[float | None, Field(ge=0, le=1500, description="Rear right, kPa")] = None
    latitude: Annotated[float | None, Field(ge=-90, le=90)] = None
    longitude: Annotated[float | None, Field(ge=-180, le=180)] = None
    speed_kmh: Annotated[float | None, Field(ge=0, le=500, description="Speed, km/h")] = None
    rpm: Annotated[int | None, Field(ge=0, le=20_000)] = None
    dtc_codes: Annotated[
        list[Annotated[str, Field(pattern=DTC_PATTERN)]] | None,
        Field(max_length=50, description="OBD-II trouble codes (P0300); [] clears the open ones"),
    ] = None

    @field_validator("time")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give the time with its UTC offset (2026-11-22T14:00:00Z)")
        return value.astimezone(UTC)

    @field_validator("vin", "device_id", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("dtc_codes", mode="before")
    @classmethod
    def _upper_codes(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [code.strip().upper() if isinstance(code, str) else code for code in value]
        return value

    @model_validator(mode="after")
    def _names_a_vehicle(self) -> TelemetryReadingIn:
        if not self.vin and not self.device_id:
            raise ValueError("give the vehicle's vin or a device_id")
        return self

    def to_reading(self) -> DeviceReading:
        return DeviceReading(
            recorded_at=self.time,
            device_id=self.device_id,
            vin=self.vin.upper() if self.vin else None,
            fuel_level=self.fuel_level,
            state_of_charge=self.state_of_charge,
            fuel_l_per_100km=self.fuel_l_per_100km,
            engine_load=self.engine_load,
            engine_temp_c=self.engine_temp_c,
            battery_v=self.battery_v,
            odometer_m=None if self.odometer_km is None else round(self.odometer_km * 1000),
            tyre_fl_kpa=self.tyre_fl_kpa,
            tyre_fr_kpa=self.tyre_fr_kpa,
            tyre_rl_kpa=self.tyre_rl_kpa,
            tyre_rr_kpa=self.tyre_rr_kpa,
            latitude=self.latitude,
            longitude=self.longitude,
            speed_mps=None if self.speed_kmh is None else self.speed_kmh / 3.6,
            rpm=self.rpm,
            dtc_codes=None if self.dtc_codes is None else tuple(dict.fromkeys(self.dtc_codes)),
        )


READINGS = TypeAdapter(list[TelemetryReadingIn])


# --- JSON answers ---------------------------------------------------------------------------------------


def _error(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> Any:
    return error_body(status, message, code, details), status, NO_STORE


def _refused(error: RuleViolation) -> Any:
    detail: dict[str, Any] = {"field": error.field, "message": str(error)}
    if isinstance(error, ReadingRefused):
        detail["index"] = error.index
    return _error(422, "reading_refused", str(error), [detail])


def _payload_error(error: PayloadError) -> Any:
    return _error(422, "invalid_payload", str(error), [{"field": error.field, "message": str(error)}])


async def _ingest(
    actor: Actor, readings: list[DeviceReading], source: str, tenant: queries.HookTenant | None = None
) -> Any:
    try:
        async with runtime().db.uow(actor) as uow:
            result = await ingest_readings(uow, readings, source=source, tenant=tenant)
    except RuleViolation as error:
        return _refused(error)
    except PermissionDenied:
        return _error(403, "forbidden", _("This token may not send telemetry (scope telemetry:write)."))
    return {"received": result.received, "stored": result.stored, "duplicates": result.duplicates}, 200


# Told apart from any JSON value (null included).
_NOT_JSON = object()


async def _json_body() -> Any:
    data = await request.get_data()
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return _NOT_JSON


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


# --- Traccar ---------------------------------------------------------------------------------------------


@bp.post("/hooks/traccar/<slug>")
async def traccar_hook(slug: str) -> Any:
    tenant = await queries.hook_tenant(runtime().db, slug)
    if tenant is None:
        return _error(404, "unknown_tenant", _("No dealership %(slug)s.", slug=slug))
    secret = _bearer()
    if tenant.traccar_secret_hash is None or secret is None:
        return _error(401, "unauthorized", _("Send the dealership's Traccar secret as a Bearer token."))
    if not hmac.compare_digest(sha256_hex(secret), tenant.traccar_secret_hash):
        return _error(401, "unauthorized", _("The Traccar secret is not valid for this dealership."))
    payload = await _json_body()
    if payload is _NOT_JSON:
        return _error(400, "not_json", _("The body must be JSON (forward.type=json)."))
    try:
        message = parse_traccar(payload)
    except PayloadError as error:
        return _payload_error(error)
    actor = telemetry_actor(tenant.id, "Traccar")
    if message.reading is None:
        # An event without a position (deviceOffline, ...): nothing to record, but the device must be ours.
        if await queries.device_auth(runtime().db, tenant.id, message.unique_id) is None:
            return _error(422, "unknown_device", _("No device %(id)s is registered.", id=message.unique_id))
        return {"received": 0, "stored": 0, "duplicates": 0}, 200
    return await _ingest(actor, [message.reading], "TRACCAR", tenant)


# --- OsmAnd ----------------------------------------------------------------------------------------------


@bp.route("/hooks/osmand/<slug>", methods=["GET", "POST"])
async def osmand_hook(slug: str) -> Any:
    db = runtime().db
    tenant = await queries.hook_tenant(db, slug)
    if tenant is None:
        return _error(404, "unknown_tenant", _("No dealership %(slug)s.", slug=slug))
    params: dict[str, str] = dict(request.args)
    try:
        if request.method == "POST" and request.mimetype == "application/json":
            payload = await _json_body()
            if payload is _NOT_JSON:
                return _error(400, "not_json", _("The body is not valid JSON."))
            reading = parse_osmand_json(payload)
        else:
            if request.method == "POST":
                params.update((await request.form).to_dict())
            reading = parse_osmand_params(params)
    except PayloadError as error:
        return _payload_error(error)
    token = params.get("token") or request.args.get("token") or ""
    assert reading.device_id is not None
    device = await queries.device_auth(db, tenant.id, reading.device_id)
    if device is None:
        return _error(422, "unknown_device", _("No device %(id)s is registered.", id=reading.device_id))
    expected = device.token_hash or ""
    if not token or not expected or not hmac.compare_digest(sha256_hex(token), expected):
        return _error(401, "unauthorized", _("The device token is missing or not valid for this device."))
    return await _ingest(telemetry_actor(tenant.id, "OsmAnd"), [reading], "OSMAND", tenant)


# --- Batch API -------------------------------------------------------------------------------------------


@bp.post("/api/v1/telemetry")
async def telemetry_batch() -> Any:
    """A JSON array of readings; all stored, or none with a 422 naming the reading and field."""
    body = await request.get_data(as_text=False)
    sender = await _batch_sender(body)
    if not isinstance(sender, _Sender):
        return sender
    try:
        # Parsed and validated in one pass by pydantic-core: half the cost of json.loads, then validating.
        items = READINGS.validate_json(body)
    except ValidationError as error:
        problems = error.errors(include_url=False)
        if problems[0]["type"] == "json_invalid":
            return _error(400, "not_json", _("The body must be a JSON array of readings."))
        if not problems[0]["loc"]:
            return _error(422, "invalid_payload", _("The body must be a JSON array of readings."))
        details = [
            {
                "index": item["loc"][0] if item["loc"] else None,
                "field": ".".join(str(part) for part in item["loc"][1:]) or None,
                "message": item["msg"],
            }
            for item in problems
        ]
        first = details[0]
        message = _(
            "Reading %(index)s: %(field)s: %(problem)s",
            index=first["index"],
            field=first["field"] or "-",
            problem=str(first["message"]),
        )
        return _error(422, "validation_failed", message, details)
    readings = [item.to_reading() for item in items]
    return await _ingest(sender.actor, readings, "PARTNER", sender.tenant)


@dataclass(frozen=True)
class _Sender:
    actor: Actor
    # Read to check the signature; the readings' processing reuses it (None for an API token).
    tenant: queries.HookTenant | None = None


async def _batch_sender(body: str | bytes) -> _Sender | Any:
    """The partner token's actor, or the signing tenant's; an error answer otherwise."""
    db = runtime().db
    token = _bearer()
    if token is not None:
        actor = await actor_for_api_token(db, token)
        if actor is None:
            return _error(401, "unauthorized", _("The API token is not valid."))
        return _Sender(actor)
    slug = request.headers.get(TENANT_HEADER, "").strip()
    if not slug:
        return _error(
            401,
            "unauthorized",
            _(
                "Sign the request (Standard Webhooks) and name the dealership in X-Pitwall-Tenant, "
                "or send an API token."
            ),
        )
    tenant = await queries.hook_tenant(db, slug)
    if tenant is None:
        return _error(404, "unknown_tenant", _("No dealership %(slug)s.", slug=slug))
    if not tenant.telemetry_signing_secret:
        return _error(401, "unauthorized", _("This dealership has no telemetry signing secret yet."))
    try:
        Webhook(tenant.telemetry_signing_secret).verify(body, dict(request.headers), json_parse=False)
    except WebhookVerificationError as error:
        return _error(401, "bad_signature", _("The signature does not verify: %(reason)s", reason=str(error)))
    return _Sender(telemetry_actor(tenant.id, "Telematics partner"), tenant)


# --- Settings pages --------------------------------------------------------------------------------------

THRESHOLD_FIELDS = (
    ("tyre_critical_kpa", "pressure"),
    ("tyre_low_kpa", "pressure"),
    ("tyre_high_kpa", "pressure"),
    ("engine_temp_low_c", "temperature"),
    ("engine_temp_high_c", "temperature"),
    ("battery_low_v", "voltage"),
    ("battery_high_v", "voltage"),
)


def threshold_label(name: str) -> str:
    labels = {
        "tyre_critical_kpa": _("Tyre pressure critical below"),
        "tyre_low_kpa": _("Tyre pressure low below"),
        "tyre_high_kpa": _("Tyre pressure high above"),
        "engine_temp_low_c": _("Engine temperature low below"),
        "engine_temp_high_c": _("Engine temperature high above"),
        "battery_low_v": _("Battery low below"),
        "battery_high_v": _("Battery high above"),
    }
    return labels.get(name, name)


def device_kind_label(kind: str) -> str:
    labels = {
        "TRACCAR": _("Traccar device"),
        "OSMAND": _("Phone with Traccar Client (OsmAnd)"),
        "PARTNER": _("Telematics partner"),
    }
    return labels.get(kind, kind)


def _to_display(units: DisplayUnits, name: str, si: float) -> float:
    kind = dict(THRESHOLD_FIELDS)[name]
    if kind == "pressure":
        return units.pressure_from_kpa(si)
    if kind == "temperature":
        return units.temperature_from_c(si)
    return si


def _to_si(units: DisplayUnits, name: str, value: float) -> float:
    kind = dict(THRESHOLD_FIELDS)[name]
    if kind == "pressure":
        return units.pressure_to_kpa(value)
    if kind == "temperature":
        return units.temperature_to_c(value)
    return value


def _unit_of(units: DisplayUnits, name: str) -> str:
    kind = dict(THRESHOLD_FIELDS)[name]
    return {"pressure": units.pressure_unit, "temperature": units.temperature_unit}.get(kind, "V")


def _require_manage() -> Actor:
    actor = current_actor()
    if not actor.can("fleet.manage"):
        raise PermissionDenied("fleet.manage")
    return actor


def _number(text: str | None) -> float | None:
    cleaned = (text or "").strip().replace(",", ".")
    if not cleaned:
        return None
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


async def _settings_page(
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    traccar_secret: str | None = None,
    signing_secret: str | None = None,
    status: int = 200,
) -> Any:
    actor = _require_manage()
    tenant = current_tenant()
    units = DisplayUnits.for_tenant(tenant)
    async with runtime().db.read(actor.tenant_id) as session:
        settings = await queries.telemetry_settings(session, actor.tenant_id)
        page = await queries.devices(session, page=page_number())
    if form is None:
        form = {
            name: _threshold_text(units, name, settings.thresholds[name]) for name, _k in THRESHOLD_FIELDS
        }
    defaults = {
        name: _threshold_shown(units, name, DEFAULT_THRESHOLDS[name]) for name, _k in THRESHOLD_FIELDS
    }
    body = await render_page(
        SETTINGS_TEMPLATE,
        settings=settings,
        devices=page,
        units=units,
        fields=[(name, threshold_label(name), _unit_of(units, name)) for name, _k in THRESHOLD_FIELDS],
        form=form,
        defaults=defaults,
        errors=errors or {},
        traccar_secret=traccar_secret,
        signing_secret=signing_secret,
        traccar_url=url_for("telemetry.traccar_hook", slug=settings.tenant_slug, _external=True),
        osmand_url=url_for("telemetry.osmand_hook", slug=settings.tenant_slug, _external=True),
        batch_url=url_for("telemetry.telemetry_batch", _external=True),
        device_kind_label=device_kind_label,
    )
    return body, status, NO_STORE


# Decimals a threshold is shown with, by kind and unit: whole degrees and psi, bar and volts to the tenth.
# A stored value that needs one decimal more (2.25 bar typed in by the dealership) keeps it.
THRESHOLD_DECIMALS = {
    ("pressure", False): 1,
    ("pressure", True): 0,
    ("temperature", False): 0,
    ("temperature", True): 0,
    ("voltage", False): 1,
    ("voltage", True): 1,
}


def _threshold_decimals(units: DisplayUnits, name: str, display_value: float) -> int:
    base = THRESHOLD_DECIMALS[(dict(THRESHOLD_FIELDS)[name], units.imperial)]
    if (
        abs(round(display_value, base + 1) - display_value)
        < 1e-9
        < abs(round(display_value, base) - display_value)
    ):
        return base + 1
    return base


def _threshold_text(units: DisplayUnits, name: str, si: float) -> str:
    """The value of the threshold's number input (a dot for decimals, as an HTML number input takes it)."""
    value = _to_display(units, name, si)
    decimals = _threshold_decimals(units, name, value)
    return f"{round(value, decimals):.{decimals}f}"


def _threshold_shown(units: DisplayUnits, name: str, si: float) -> str:
    """The threshold as text for people, in their locale."""
    value = _to_display(units, name, si)
    decimals = _threshold_decimals(units, name, value)
    return format_number(Decimal(f"{round(value, decimals):.{decimals}f}"), decimals=decimals)


@bp.get("/vehicles/telematics")
@login_required
async def settings_page() -> Any:
    return await _settings_page()


@bp.post("/vehicles/telematics/traccar-secret")
@login_required
async def new_traccar_secret() -> Any:
    async with runtime().db.uow(_require_manage()) as uow:
        secret = await rotate_traccar_secret(uow)
    return await _settings_page(traccar_secret=secret)


@bp.post("/vehicles/telematics/signing-secret")
@login_required
async def new_signing_secret() -> Any:
    async with runtime().db.uow(_require_manage()) as uow:
        secret = await rotate_signing_secret(uow)
    return await _settings_page(signing_secret=secret)


@bp.post("/vehicles/telematics/thresholds")
@login_required
async def save_thresholds() -> Any:
    actor = _require_manage()
    units = DisplayUnits.for_tenant(current_tenant())
    form = (await request.form).to_dict()
    async with runtime().db.read(actor.tenant_id) as session:
        current = (await queries.telemetry_settings(session, actor.tenant_id)).thresholds
    values: dict[str, float | None] = {}
    errors: dict[str, str] = {}
    for name, _kind in THRESHOLD_FIELDS:
        number = _number(form.get(name))
        if number is None:
            errors[name] = _("Enter a number.")
            values[name] = None
        elif number == float(_threshold_text(units, name, current[name])):
            # The value as the form showed it: keep the stored one, which the rounding for display
            # would otherwise shift (82.22 °C saved back as 82 °C).
            values[name] = current[name]
        else:
            values[name] = _to_si(units, name, number)
    if not errors:
        try:
            async with runtime().db.uow(actor) as uow:
                await update_thresholds(uow, values)
        except ThresholdsInvalid as error:
            errors = error.errors
    if errors:
        return await _settings_page(form=form, errors=errors, status=422)
    await flash_message(_("Alert thresholds saved; they apply to the next reading."), "success")
    return redirect(url_for("telemetry.settings_page"), 303)


@bp.get("/vehicles/<int:vehicle_id>/devices")
@login_required
async def vehicle_devices(vehicle_id: int) -> Any:
    return await _devices_page(vehicle_id)


async def _devices_page(
    vehicle_id: int,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    token: str | None = None,
    registered: str | None = None,
    status: int = 200,
) -> Any:
    actor = _require_manage()
    async with runtime().db.read(actor.tenant_id) as session:
        label = await queries.vehicle_label(session, vehicle_id)
        if label is None:
            abort(404)
        page = await queries.devices(session, vehicle_id=vehicle_id)
        settings = await queries.telemetry_settings(session, actor.tenant_id)
    body = await render_page(
        DEVICES_TEMPLATE,
        vehicle_id=vehicle_id,
        vehicle_label=label,
        devices=page,
        kinds=DEVICE_KINDS,
        form=form or {"kind": "TRACCAR"},
        errors=errors or {},
        token=token,
        registered=registered,
        osmand_url=url_for("telemetry.osmand_hook", slug=settings.tenant_slug, _external=True),
        device_kind_label=device_kind_label,
    )
    return body, status, NO_STORE


@bp.post("/vehicles/<int:vehicle_id>/devices")
@login_required
async def add_device(vehicle_id: int) -> Any:
    actor = _require_manage()
    form = (await request.form).to_dict()
    try:
        async with runtime().db.uow(actor) as uow:
            device, token = await register_device(
                uow, vehicle_id, form.get("kind", ""), form.get("unique_id", "")
            )
    except NotFound:
        abort(404)
    except RuleViolation as error:
        return await _devices_page(
            vehicle_id, form=form, errors={error.field or "unique_id": str(error)}, status=422
        )
    if token is None:
        await flash_message(_("Device %(id)s registered.", id=device.unique_id), "success")
        return redirect(url_for("telemetry.vehicle_devices", vehicle_id=vehicle_id), 303)
    return await _devices_page(vehicle_id, token=token, registered=device.unique_id)


@bp.post("/vehicles/devices/<int:device_id>/remove")
@login_required
async def delete_device(device_id: int) -> Any:
    actor = _require_manage()
    vehicle_id = _number((await request.form).get("vehicle_id"))
    try:
        async with runtime().db.uow(actor) as uow:
            await remove_device(uow, device_id)
    except NotFound:
        abort(404)
    await flash_message(_("Device removed; it can no longer send readings."), "success")
    if vehicle_id is not None:
        return redirect(url_for("telemetry.vehicle_devices", vehicle_id=int(vehicle_id)), 303)
    return redirect(url_for("telemetry.settings_page"), 303)
