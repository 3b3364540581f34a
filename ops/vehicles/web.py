"""Vehicle pages: the search, a vehicle's profile with its documents, the vehicle form, the fleet board,
the fleets page, and the one-click work order from an alert or a due service."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from quart import Blueprint, abort, redirect, request, url_for

from ops.auth.actor import Actor, Conflict, NotFound, RuleViolation
from ops.auth.web import csrf_token, current_actor, current_tenant, login_required
from ops.db import utcnow
from ops.i18n import current_timezone, format_date, format_number, tenant_today
from ops.i18n import gettext as _
from ops.list_filters import choice_filter, page_number, text_filter
from ops.pages import flash_message, is_htmx, posted_form, render_fragment, render_page
from ops.runtime import runtime
from ops.vehicles import queries
from ops.vehicles.charts import Series, line_chart
from ops.vehicles.health import reason_label
from ops.vehicles.live import ALERT_BADGE_URL, fleet_topics
from ops.vehicles.maintenance.service import state_label
from ops.vehicles.models import FUEL_TYPES, TRANSMISSIONS, VEHICLE_STATUSES, Powertrain, Vehicle, powertrain
from ops.vehicles.service import (
    MAX_DOCUMENT_BYTES,
    VehicleData,
    VehicleInvalid,
    add_document,
    allowed_fleet_ids,
    condition_label,
    create_fleet,
    create_vehicle,
    delete_document,
    delete_fleet,
    fuel_type_label,
    limit_user_to_fleets,
    move_vehicles_to_fleet,
    severity_label,
    transmission_label,
    update_fleet,
    update_vehicle,
    vehicle_status_label,
    vin_warning,
    visible_vehicle,
    work_order_for_alert,
    work_order_for_maintenance,
)
from ops.vehicles.telemetry.queries import daily_trends
from ops.vehicles.telemetry.units import DisplayUnits

bp = Blueprint("vehicles", __name__, url_prefix="/vehicles")
fleet_bp = Blueprint("fleet", __name__, url_prefix="/fleet")

LIST_TEMPLATE = "vehicles/list.html"
PROFILE_TEMPLATE = "vehicles/profile.html"
FORM_TEMPLATE = "vehicles/form.html"
BOARD_TEMPLATE = "vehicles/board.html"
FLEETS_TEMPLATE = "vehicles/fleets.html"
FLEET_TEMPLATE = "vehicles/fleet.html"
BADGE_TEMPLATE = "vehicles/_badge.html"
TREND_PERIODS = (30, 90)
BOARD_LIST_LIMIT = 10
# The document upload's request: the file plus the form's own framing.
DOCUMENT_UPLOAD_LIMIT = MAX_DOCUMENT_BYTES + 64 * 1024


def request_body_limit(path: str) -> int | None:
    """A larger request limit for the document upload route, None for the site-wide one."""
    parts = path.strip("/").split("/")
    if len(parts) == 3 and parts[0] == "vehicles" and parts[1].isdigit() and parts[2] == "documents":
        return DOCUMENT_UPLOAD_LIMIT
    return None


def file_size(size: int) -> str:
    if size < 1024 * 1024:
        return _("%(size)s KB", size=format_number(max(1, round(size / 1024)), decimals=0))
    return _("%(size)s MB", size=format_number(Decimal(size) / (1024 * 1024), decimals=1))


def units() -> DisplayUnits:
    """The reader's units: the one place the vehicle pages decide how a measure reads."""
    return DisplayUnits.for_tenant(current_tenant())


def odometer(km: int | None) -> str:
    return "—" if km is None else units().distance(km * 1000)


LABELS = {
    "vehicle_status_label": vehicle_status_label,
    "fuel_type_label": fuel_type_label,
    "transmission_label": transmission_label,
    "severity_label": severity_label,
    "condition_label": condition_label,
    "state_label": state_label,
    "reason_label": reason_label,
    "format_date": format_date,
    "format_number": format_number,
    "file_size": file_size,
    "odometer": odometer,
}


def _zone() -> ZoneInfo:
    return ZoneInfo(current_timezone.get())


def _id(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 0 < number < 2**63 else None


async def _allowed(actor: Actor) -> frozenset[int] | None:
    async with runtime().db.read(actor.tenant_id) as session:
        return await allowed_fleet_ids(session, actor.user_id)


# --- The search ------------------------------------------------------------------------------------------


def _filters() -> queries.VehicleFilters:
    args = request.args
    sort = (args.get("sort") or queries.DEFAULT_SORT).strip()
    fleet = (args.get("fleet") or "").strip()
    try:
        page_size = int(args.get("page_size") or queries.PAGE_SIZE)
    except ValueError:
        page_size = queries.PAGE_SIZE
    return queries.VehicleFilters(
        q=text_filter("q", 100),
        vin=(args.get("vin") or "").strip().upper()[:17],
        plate=text_filter("plate", 20),
        make=text_filter("make", 40),
        model=text_filter("model", 60),
        customer=text_filter("customer", 100),
        fleet=fleet if fleet == queries.NO_FLEET or fleet.isdigit() else "",
        status=choice_filter("status", VEHICLE_STATUSES),
        sort=sort if sort.removeprefix("-") in queries.SORT_COLUMNS else queries.DEFAULT_SORT,
        page_size=max(1, min(page_size, queries.MAX_PAGE_SIZE)),
    )


@bp.get("")
@login_required
async def index() -> Any:
    actor = current_actor()
    actor.require("vehicle.view")
    filters = _filters()
    page = page_number()
    async with runtime().db.read(actor.tenant_id) as session:
        allowed = await allowed_fleet_ids(session, actor.user_id)
        listing = await queries.search_vehicles(session, filters, page, allowed)
        makes = await queries.make_choices(session, allowed)
        fleets = await queries.fleet_choices(session, allowed)
    # Only a full VIN can be checked; a part of one is a search for VINs containing it.
    warning = vin_warning(filters.vin) if len(filters.vin) == 17 else None
    context = {
        "listing": listing,
        "filters": filters,
        "makes": makes,
        "fleets": fleets,
        "statuses": VEHICLE_STATUSES,
        "vin_warnings": {row.id: vin_warning(row.vin) for row in listing.rows},
        "vin_filter_warning": warning,
        "can_edit": actor.can("vehicle.edit"),
        "no_fleet": queries.NO_FLEET,
        **LABELS,
    }
    if is_htmx():
        fragment = await render_fragment(LIST_TEMPLATE, "vehicle_list", **context)
        address = url_for("vehicles.index", **filters.args())  # type: ignore[arg-type]
        return fragment, 200, {"HX-Push-Url": address}
    return await render_page(LIST_TEMPLATE, **context)


# --- Adding and editing --------------------------------------------------------------------------------


def _parse_int(form: dict[str, str], name: str, errors: dict[str, str]) -> int | None:
    text = (form.get(name) or "").strip().replace("'", "").replace(" ", "").replace(",", "")
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        errors[name] = _("Enter a whole number.")
        return None
    if not -(2**31) < value < 2**31:
        errors[name] = _("That number is too large.")
        return None
    return value


def _vehicle_data(form: dict[str, str], errors: dict[str, str]) -> VehicleData:
    return VehicleData(
        vin=form.get("vin", ""),
        plate=form.get("plate", ""),
        make=form.get("make", ""),
        model=form.get("model", ""),
        year=_parse_int(form, "year", errors),
        fuel_type=form.get("fuel_type", ""),
        transmission=form.get("transmission", ""),
        colour=form.get("colour", ""),
        engine_number=form.get("engine_number", ""),
        odometer_km=_parse_int(form, "odometer_km", errors),
        status=form.get("status", ""),
        customer_id=_id(form.get("customer_id")),
        fleet_id=_id(form.get("fleet_id")),
    )


def _form_of(vehicle: Vehicle) -> dict[str, str]:
    return {
        "vin": vehicle.vin,
        "plate": vehicle.plate or "",
        "make": vehicle.make,
        "model": vehicle.model,
        "year": str(vehicle.year),
        "fuel_type": vehicle.fuel_type,
        "transmission": vehicle.transmission or "",
        "colour": vehicle.colour or "",
        "engine_number": vehicle.engine_number or "",
        "odometer_km": str(vehicle.odometer_km),
        "status": vehicle.status,
        "customer_id": str(vehicle.customer_id or ""),
        "fleet_id": str(vehicle.fleet_id or ""),
        "version": str(vehicle.version),
    }


async def _render_form(form: dict[str, str], errors: dict[str, str], vehicle: Vehicle | None = None) -> str:
    actor = current_actor()
    async with runtime().db.read(actor.tenant_id) as session:
        fleets = await queries.fleet_choices(session)
        customer = await queries.customer_choice(session, _id(form.get("customer_id")))
    return await render_page(
        FORM_TEMPLATE,
        form=form,
        errors=errors,
        vehicle=vehicle,
        fleets=fleets,
        customer=customer,
        statuses=VEHICLE_STATUSES,
        fuel_types=FUEL_TYPES,
        transmissions=TRANSMISSIONS,
        **LABELS,
    )


@bp.get("/new")
@login_required
async def new_vehicle() -> Any:
    current_actor().require("vehicle.edit")
    form = {
        "status": "ACTIVE",
        "fuel_type": "GASOLINE",
        "customer_id": request.args.get("customer_id", ""),
        "then": request.args.get("then", ""),
    }
    return await _render_form(form, {})


@bp.post("", endpoint="create")
@login_required
async def create() -> Any:
    actor = current_actor()
    actor.require("vehicle.edit")
    form = await posted_form()
    errors: dict[str, str] = {}
    data = _vehicle_data(form, errors)
    if errors:
        return await _render_form(form, errors), 422
    try:
        async with runtime().db.uow(actor) as uow:
            vehicle = await create_vehicle(uow, data, tenant_today())
    except VehicleInvalid as invalid:
        return await _render_form(form, invalid.errors), 422
    except RuleViolation as violation:
        return await _render_form(form, {violation.field or "__all__": str(violation)}), 422
    await flash_message(_("Vehicle %(vin)s added.", vin=vehicle.vin), "success")
    if form.get("then") == "work_order":
        # Added from the new work order: back there with the car chosen.
        return redirect(url_for("workshop.new_work_order", vehicle_id=vehicle.id))
    return redirect(url_for("vehicles.profile", vehicle_id=vehicle.id))


async def _vehicle_or_404(vehicle_id: int) -> Vehicle:
    actor = current_actor()
    async with runtime().db.read(actor.tenant_id) as session:
        try:
            return await visible_vehicle(session, actor, vehicle_id)
        except NotFound:
            abort(404)


@bp.get("/<int:vehicle_id>/edit")
@login_required
async def edit(vehicle_id: int) -> Any:
    vehicle = await _vehicle_or_404(vehicle_id)
    current_actor().require("vehicle.edit")
    return await _render_form(_form_of(vehicle), {}, vehicle)


@bp.post("/<int:vehicle_id>/edit", endpoint="update")
@login_required
async def update(vehicle_id: int) -> Any:
    actor = current_actor()
    vehicle = await _vehicle_or_404(vehicle_id)
    actor.require("vehicle.edit")
    form = await posted_form()
    errors: dict[str, str] = {}
    data = _vehicle_data(form, errors)
    if errors:
        return await _render_form(form, errors, vehicle), 422
    try:
        async with runtime().db.uow(actor) as uow:
            await update_vehicle(
                uow, vehicle_id, data, tenant_today(), expected_version=_id(form.get("version"))
            )
    except NotFound:
        abort(404)
    except Conflict as conflict:
        current = await _vehicle_or_404(vehicle_id)
        return await _render_form(_form_of(current), {"__all__": str(conflict)}, current), 409
    except VehicleInvalid as invalid:
        return await _render_form(form, invalid.errors, vehicle), 422
    except RuleViolation as violation:
        return await _render_form(form, {violation.field or "__all__": str(violation)}, vehicle), 422
    await flash_message(_("Vehicle %(vin)s saved.", vin=data.vin.strip().upper()), "success")
    return redirect(url_for("vehicles.profile", vehicle_id=vehicle_id))


@bp.get("/customer-options")
@login_required
async def customer_options() -> Any:
    """The vehicle form's owner picker: customers matching what was typed; a plain GET goes to the form."""
    actor = current_actor()
    actor.require("vehicle.edit")
    if not is_htmx():
        return redirect(url_for("vehicles.new_vehicle"))
    text = (request.args.get("customer_search") or "").strip()[:100]
    async with runtime().db.read(actor.tenant_id) as session:
        choices = await queries.customer_choices(session, text) if text else []
    return await render_fragment(
        FORM_TEMPLATE, "customer_options", choices=choices, searched=text, form={}, customer=None
    )


# --- A vehicle's profile -------------------------------------------------------------------------------


def _trend_period() -> int:
    try:
        days = int(request.args.get("days") or TREND_PERIODS[0])
    except ValueError:
        return TREND_PERIODS[0]
    return days if days in TREND_PERIODS else TREND_PERIODS[0]


def _charts(trends: list[Any], days: int, fitted: Powertrain) -> list[Any]:
    """The trend charts of the measures the vehicle's powertrain has."""
    shown = units()
    first_day = tenant_today() - timedelta(days=days - 1)

    def series(title: str, unit: str, pick: Any) -> Series:
        values = {trend.day: float(value) for trend in trends if (value := pick(trend)) is not None}
        return Series(title, unit, values)

    def label_day(day: date) -> str:
        return format_date(day, "short")

    def number(decimals: int) -> Any:
        return lambda value: format_number(Decimal(repr(round(value, decimals))), decimals=decimals)

    efficiency = series(
        _("Fuel efficiency"),
        shown.efficiency_unit,
        lambda trend: (
            shown.efficiency_from_l_per_100km(trend.fuel_l_per_100km_avg)
            if trend.fuel_l_per_100km_avg
            else None
        ),
    )
    load = series(
        _("Engine load"),
        "%",
        lambda trend: None if trend.engine_load_avg is None else trend.engine_load_avg * 100,
    )
    charge = series(
        _("State of charge"),
        "%",
        lambda trend: None if trend.state_of_charge_avg is None else trend.state_of_charge_avg * 100,
    )
    battery = series(_("Battery voltage"), "V", lambda trend: trend.battery_v_avg)
    tyres = series(
        _("Tyre pressure"),
        shown.pressure_unit,
        lambda trend: None if trend.tyre_kpa_avg is None else shown.pressure_from_kpa(trend.tyre_kpa_avg),
    )
    shown_series = []
    if fitted.engine:
        shown_series += [(efficiency, number(1)), (load, number(0))]
    if fitted.traction_battery:
        shown_series.append((charge, number(0)))
    shown_series += [(battery, number(1)), (tyres, number(1 if shown.imperial else 2))]
    return [(chart, line_chart(chart, first_day, days, style, label_day)) for chart, style in shown_series]


async def _render_profile(vehicle_id: int, block: str | None = None, **extra: Any) -> str:
    actor = current_actor()
    days = _trend_period()
    async with runtime().db.read(actor.tenant_id) as session:
        try:
            vehicle = await visible_vehicle(session, actor, vehicle_id)
        except NotFound:
            abort(404)
        found = await queries.profile(session, vehicle)
        trends = await daily_trends(session, vehicle_id, days)
    fitted = powertrain(found.vehicle.fuel_type)
    context = {
        "profile": found,
        "vehicle": found.vehicle,
        "units": units(),
        "charts": _charts(trends, days, fitted),
        "powertrain": fitted,
        "days": days,
        "periods": TREND_PERIODS,
        "can_edit": actor.can("vehicle.edit"),
        "can_create_work_order": actor.can("work_order.create"),
        "can_see_workshop": actor.can("workshop.view"),
        "can_see_customer": actor.can("customer.view"),
        "vin_warning": vin_warning(found.vehicle.vin),
        "csrf": csrf_token(),
        "live_id": runtime().hub.current_id(),
        "live_topics": [f"vehicle:{vehicle_id}"],
        "max_document_mb": MAX_DOCUMENT_BYTES // (1024 * 1024),
        "max_document_bytes": MAX_DOCUMENT_BYTES,
        "errors": {},
        **LABELS,
        **extra,
    }
    if block is not None:
        return await render_fragment(PROFILE_TEMPLATE, block, **context)
    return await render_page(PROFILE_TEMPLATE, **context)


@bp.get("/<int:vehicle_id>", endpoint="profile")
@login_required
async def profile(vehicle_id: int) -> Any:
    # The page's live sections re-fetch themselves, each its own block.
    if is_htmx():
        blocks = {"vehicle-maintenance": "vehicle_maintenance", "vehicle-trends": "vehicle_trends"}
        block = blocks.get(request.headers.get("HX-Target") or "", "vehicle_live")
        return await _render_profile(vehicle_id, block)
    return await _render_profile(vehicle_id)


# --- Documents ------------------------------------------------------------------------------------------


@bp.post("/<int:vehicle_id>/documents", endpoint="upload_document")
@login_required
async def upload_document(vehicle_id: int) -> Any:
    actor = current_actor()
    await _vehicle_or_404(vehicle_id)
    actor.require("vehicle.edit")
    files = await request.files
    upload = files.get("document")
    data = upload.read() if upload is not None else b""
    try:
        async with runtime().db.uow(actor) as uow:
            document = await add_document(
                uow, vehicle_id, upload.filename or "" if upload else "", data, runtime().settings.data_dir
            )
    except RuleViolation as violation:
        return await _render_profile(vehicle_id, errors={"document": str(violation)}), 422
    await flash_message(_("%(name)s uploaded.", name=document.filename), "success")
    return redirect(url_for("vehicles.profile", vehicle_id=vehicle_id) + "#documents")


@bp.get("/<int:vehicle_id>/documents/<int:document_id>", endpoint="document")
@login_required
async def download_document(vehicle_id: int, document_id: int) -> Any:
    actor = current_actor()
    await _vehicle_or_404(vehicle_id)
    async with runtime().db.read(actor.tenant_id) as session:
        found = await queries.document(session, vehicle_id, document_id)
    if found is None:
        abort(404)
    path = runtime().settings.data_dir / found.storage_key
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        abort(404)
    # Only PDFs and photos are stored (checked by their bytes), and each downloads under its own name.
    headers = {
        "Content-Type": found.content_type,
        "Content-Disposition": f"attachment; filename=\"{found.filename}\"; filename*=UTF-8''"
        + quote(found.filename, safe=""),
        "Cache-Control": "private, max-age=3600",
    }
    return data, 200, headers


@bp.post("/<int:vehicle_id>/documents/<int:document_id>/delete", endpoint="delete_document")
@login_required
async def remove_document(vehicle_id: int, document_id: int) -> Any:
    actor = current_actor()
    try:
        async with runtime().db.uow(actor) as uow:
            await delete_document(uow, vehicle_id, document_id, runtime().settings.data_dir)
    except NotFound:
        abort(404)
    await flash_message(_("Document removed."), "success")
    return redirect(url_for("vehicles.profile", vehicle_id=vehicle_id) + "#documents")


# --- One click to a work order ----------------------------------------------------------------------------


@bp.post("/alerts/<int:alert_id>/work-order", endpoint="alert_work_order")
@login_required
async def alert_work_order(alert_id: int) -> Any:
    actor = current_actor()
    try:
        async with runtime().db.uow(actor) as uow:
            linked = await work_order_for_alert(uow, alert_id)
    except NotFound:
        abort(404)
    if linked.created:
        await flash_message(_("%(number)s created from the alert.", number=linked.work_order.code), "success")
    else:
        await flash_message(_("This alert already has %(number)s.", number=linked.work_order.code))
    return redirect(url_for("jobs.order", work_order_id=linked.work_order.id))


@bp.post("/maintenance/<int:maintenance_id>/work-order", endpoint="maintenance_work_order")
@login_required
async def maintenance_work_order(maintenance_id: int) -> Any:
    actor = current_actor()
    try:
        async with runtime().db.uow(actor) as uow:
            linked = await work_order_for_maintenance(uow, maintenance_id)
    except NotFound:
        abort(404)
    if linked.created:
        await flash_message(
            _("%(number)s created for the service.", number=linked.work_order.code), "success"
        )
    else:
        await flash_message(_("This service already has %(number)s.", number=linked.work_order.code))
    return redirect(url_for("jobs.order", work_order_id=linked.work_order.id))


# --- The fleet board -----------------------------------------------------------------------------------


async def _render_board(block: str | None = None) -> str:
    actor = current_actor()
    actor.require("fleet.view")
    async with runtime().db.read(actor.tenant_id) as session:
        allowed = await allowed_fleet_ids(session, actor.user_id)
        found = await queries.board(session, utcnow(), allowed)
    context = {
        "board": found,
        "units": units(),
        "can_create_work_order": actor.can("work_order.create"),
        "csrf": csrf_token(),
        "live_id": runtime().hub.current_id(),
        "live_topics": fleet_topics(allowed),
        "restricted": allowed is not None,
        # A wall screen shows the first services of each list; `?all=1` shows every one.
        "show_all": request.args.get("all") == "1",
        "list_limit": BOARD_LIST_LIMIT,
        **LABELS,
    }
    if block is not None:
        return await render_fragment(BOARD_TEMPLATE, block, **context)
    return await render_page(BOARD_TEMPLATE, **context)


@fleet_bp.get("/board")
@login_required
async def board() -> Any:
    if is_htmx():
        return await _render_board("fleet_board")
    return await _render_board()


@fleet_bp.get(ALERT_BADGE_URL.removeprefix("/fleet"))
@login_required
async def alert_badge() -> Any:
    """The header's count of open critical alerts the reader may see; loads itself after each change.
    A plain GET (someone followed the address) goes to the fleet board."""
    actor = current_actor()
    if not is_htmx():
        return redirect(url_for("fleet.board"))
    if not actor.can("fleet.view"):
        return ""
    async with runtime().db.read(actor.tenant_id) as session:
        allowed = await allowed_fleet_ids(session, actor.user_id)
        count = await queries.critical_alert_count(session, allowed)
    return await render_fragment(BADGE_TEMPLATE, "badge", count=count, badge_url=ALERT_BADGE_URL)


# --- Fleets ----------------------------------------------------------------------------------------------


async def _render_fleets(errors: dict[str, str] | None = None, form: dict[str, str] | None = None) -> str:
    actor = current_actor()
    actor.require("fleet.view")
    async with runtime().db.read(actor.tenant_id) as session:
        fleets = await queries.fleets(session)
        users = await queries.user_limits(session) if actor.can("fleet.manage") else []
    return await render_page(
        FLEETS_TEMPLATE,
        fleets=fleets,
        users=users,
        errors=errors or {},
        form=form or {},
        can_manage=actor.can("fleet.manage"),
        csrf=csrf_token(),
    )


@fleet_bp.get("/fleets")
@login_required
async def fleets() -> Any:
    return await _render_fleets()


@fleet_bp.post("/fleets", endpoint="create_fleet")
@login_required
async def create_fleet_view() -> Any:
    actor = current_actor()
    form = await posted_form()
    try:
        async with runtime().db.uow(actor) as uow:
            fleet = await create_fleet(uow, form.get("name", ""), form.get("description", ""))
    except RuleViolation as violation:
        return await _render_fleets({violation.field or "name": str(violation)}, form), 422
    await flash_message(_("Fleet %(name)s created.", name=fleet.name), "success")
    return redirect(url_for("fleet.fleet_page", fleet_id=fleet.id))


async def _render_fleet(
    fleet_id: int, errors: dict[str, str] | None = None, form: dict[str, str] | None = None
) -> str:
    actor = current_actor()
    actor.require("fleet.view")
    async with runtime().db.read(actor.tenant_id) as session:
        allowed = await allowed_fleet_ids(session, actor.user_id)
        fleet = await queries.fleet(session, fleet_id)
        if fleet is None or (allowed is not None and fleet_id not in allowed):
            abort(404)
        filters = queries.VehicleFilters(fleet=str(fleet_id), page_size=queries.MAX_PAGE_SIZE)
        listing = await queries.search_vehicles(session, filters, page_number(), allowed)
    return await render_page(
        FLEET_TEMPLATE,
        fleet=fleet,
        listing=listing,
        errors=errors or {},
        form=form or {"name": fleet.name, "description": fleet.description},
        can_manage=actor.can("fleet.manage"),
        csrf=csrf_token(),
        **LABELS,
    )


@fleet_bp.get("/fleets/<int:fleet_id>", endpoint="fleet_page")
@login_required
async def fleet_page(fleet_id: int) -> Any:
    return await _render_fleet(fleet_id)


@fleet_bp.post("/fleets/<int:fleet_id>", endpoint="update_fleet")
@login_required
async def update_fleet_view(fleet_id: int) -> Any:
    actor = current_actor()
    form = await posted_form()
    try:
        async with runtime().db.uow(actor) as uow:
            fleet = await update_fleet(uow, fleet_id, form.get("name", ""), form.get("description", ""))
    except NotFound:
        abort(404)
    except RuleViolation as violation:
        return await _render_fleet(fleet_id, {violation.field or "name": str(violation)}, form), 422
    await flash_message(_("Fleet %(name)s saved.", name=fleet.name), "success")
    return redirect(url_for("fleet.fleet_page", fleet_id=fleet_id))


@fleet_bp.post("/fleets/<int:fleet_id>/delete", endpoint="delete_fleet")
@login_required
async def delete_fleet_view(fleet_id: int) -> Any:
    actor = current_actor()
    try:
        async with runtime().db.uow(actor) as uow:
            await delete_fleet(uow, fleet_id)
    except NotFound:
        abort(404)
    await flash_message(_("Fleet removed; its vehicles are in no fleet now."), "success")
    return redirect(url_for("fleet.fleets"))


@fleet_bp.post("/fleets/<int:fleet_id>/vehicles", endpoint="add_fleet_vehicles")
@login_required
async def add_fleet_vehicles(fleet_id: int) -> Any:
    """Put vehicles in the fleet by plate or VIN, one or more separated by commas or lines."""
    actor = current_actor()
    form = await posted_form()
    wanted = [
        part.strip() for part in form.get("vehicles", "").replace(",", "\n").splitlines() if part.strip()
    ]
    async with runtime().db.read(actor.tenant_id) as session:
        found, missing = await queries.vehicles_by_plate_or_vin(session, wanted[:100])
    if not wanted:
        return await _render_fleet(fleet_id, {"vehicles": _("Enter a plate or a VIN.")}, form), 422
    if missing:
        message = _("No vehicle has the plate or VIN %(missing)s.", missing=", ".join(missing))
        return await _render_fleet(fleet_id, {"vehicles": message}, form), 422
    try:
        async with runtime().db.uow(actor) as uow:
            moved = await move_vehicles_to_fleet(uow, fleet_id, found)
    except NotFound:
        abort(404)
    except RuleViolation as violation:
        return await _render_fleet(fleet_id, {"vehicles": str(violation)}, form), 422
    await flash_message(_("%(count)s vehicle(s) added to the fleet.", count=moved), "success")
    return redirect(url_for("fleet.fleet_page", fleet_id=fleet_id))


@fleet_bp.post("/fleets/<int:fleet_id>/vehicles/<int:vehicle_id>/remove", endpoint="remove_fleet_vehicle")
@login_required
async def remove_fleet_vehicle(fleet_id: int, vehicle_id: int) -> Any:
    actor = current_actor()
    await _vehicle_or_404(vehicle_id)
    try:
        async with runtime().db.uow(actor) as uow:
            await move_vehicles_to_fleet(uow, None, [vehicle_id])
    except RuleViolation as violation:
        abort(422, description=str(violation))
    await flash_message(_("Vehicle removed from the fleet."), "success")
    return redirect(url_for("fleet.fleet_page", fleet_id=fleet_id))


@fleet_bp.post("/users/<int:user_id>/fleets", endpoint="limit_user")
@login_required
async def limit_user(user_id: int) -> Any:
    actor = current_actor()
    form = await request.form
    fleet_ids = [fleet_id for value in form.getlist("fleet_ids") if (fleet_id := _id(value)) is not None]
    try:
        async with runtime().db.uow(actor) as uow:
            await limit_user_to_fleets(uow, user_id, fleet_ids)
    except NotFound:
        abort(404)
    except RuleViolation as violation:
        return await _render_fleets({f"user-{user_id}": str(violation)}), 422
    await flash_message(
        _("Saved: this user now sees only the chosen fleets.")
        if fleet_ids
        else _("Saved: this user sees every vehicle."),
        "success",
    )
    return redirect(url_for("fleet.fleets") + f"#user-{user_id}")
