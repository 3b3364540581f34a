"""Stock pages: the stock list with its filters, a unit with its holds and drives, the unit form, holds,
and the test-drive calendar with booking, check-out and return."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from quart import Blueprint, abort, redirect, request, url_for

from ops.auth.actor import Conflict, NotFound, RuleViolation
from ops.auth.web import csrf_token, current_actor, login_required
from ops.i18n import current_timezone, format_date, format_datetime, format_number, tenant_today
from ops.i18n import gettext as _
from ops.list_filters import choice_filter, page_number, text_filter
from ops.notices import user_topic
from ops.pages import flash_message, is_htmx, posted_form, render_fragment, render_page
from ops.runtime import runtime
from ops.sales.models import BODY_STYLES, UNIT_STATUSES
from ops.sales.stock import queries
from ops.sales.stock.service import (
    EDITABLE_STATUSES,
    STOCK_TOPIC,
    UnitData,
    UnitHeld,
    UnitInvalid,
    book_test_drive,
    cancel_test_drive,
    check_out_test_drive,
    create_unit,
    drive_status_label,
    format_km,
    mark_no_show,
    release_hold,
    reserve_unit,
    return_test_drive,
    unit_status_label,
    update_unit,
)
from ops.vehicles.service import FUEL_TYPES, fuel_type_label

bp = Blueprint("stock", __name__, url_prefix="/sales")

LIST_TEMPLATE = "sales/stock/list.html"
UNIT_TEMPLATE = "sales/stock/unit.html"
FORM_TEMPLATE = "sales/stock/form.html"
CALENDAR_TEMPLATE = "sales/stock/test_drives.html"
BOOKING_TEMPLATE = "sales/stock/booking.html"
DRIVE_TEMPLATE = "sales/stock/drive.html"
CALENDAR_DAYS = 8
DRIVE_LENGTHS = (30, 45, 60, 90, 120)


def body_style_label(value: str) -> str:
    labels = {
        "SEDAN": _("Sedan"),
        "SUV": _("SUV"),
        "TRUCK": _("Pick-up truck"),
        "VAN": _("Van"),
        "COUPE": _("Coupé"),
        "HATCHBACK": _("Hatchback"),
        "WAGON": _("Estate"),
    }
    return labels.get(value, value)


def age_label(band: str) -> str:
    labels = {
        "0-30": _("Up to 30 days"),
        "31-60": _("31 to 60 days"),
        "61-90": _("61 to 90 days"),
        "90+": _("Over 90 days"),
    }
    return labels.get(band, band)


def sort_label(sort: str) -> str:
    labels = {
        "make": _("Make, model"),
        "price": _("Price, lowest first"),
        "-price": _("Price, highest first"),
        "age": _("Longest in stock first"),
        "-age": _("Newest arrivals first"),
    }
    return labels.get(sort, sort)


def hold_status_label(status: str) -> str:
    labels = {
        "ACTIVE": _("Holding"),
        "EXPIRED": _("Expired"),
        "RELEASED": _("Released"),
        "CONVERTED": _("Became a deal"),
    }
    return labels.get(status, status)


LABELS = {
    "unit_status_label": unit_status_label,
    "drive_status_label": drive_status_label,
    "hold_status_label": hold_status_label,
    "body_style_label": body_style_label,
    "fuel_type_label": fuel_type_label,
    "age_label": age_label,
    "sort_label": sort_label,
    "format_km": format_km,
    "format_number": format_number,
    "format_date": format_date,
}


# --- Form and query parsing ----------------------------------------------------------------------------


def _zone() -> ZoneInfo:
    return ZoneInfo(current_timezone.get())


def _decimal_text(text: str | None) -> Decimal | None:
    """A number as typed (1'234.50, 1234,5); None when empty or not a number."""
    cleaned = (text or "").strip().replace("'", "").replace(" ", "").replace("\u2019", "")
    if not cleaned:
        return None
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _id(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 0 < number < 2**63 else None


def _parse_decimal(form: dict[str, str], name: str, errors: dict[str, str]) -> Decimal | None:
    text = (form.get(name) or "").strip()
    if not text:
        return None
    value = _decimal_text(text)
    if value is None:
        errors[name] = _("Enter a number.")
    return value


def _parse_int(form: dict[str, str], name: str, errors: dict[str, str]) -> int | None:
    text = (form.get(name) or "").strip().replace("'", "").replace(" ", "")
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


def _parse_date(form: dict[str, str], name: str, errors: dict[str, str]) -> date | None:
    text = (form.get(name) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[name] = _("Enter a date.")
        return None


def _parse_local_datetime(form: dict[str, str], name: str, errors: dict[str, str]) -> datetime | None:
    """A datetime-local field, read in the dealership's timezone."""
    text = (form.get(name) or "").strip()
    if not text:
        errors[name] = _("This field is required.")
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        errors[name] = _("Enter a date and time.")
        return None
    if value.tzinfo is not None:
        errors[name] = _("Enter a date and time.")
        return None
    return value.replace(tzinfo=_zone())


def _filters() -> queries.StockFilters:
    return queries.StockFilters(
        make=text_filter("make", 40),
        model=text_filter("model", 60),
        body_style=choice_filter("body_style", BODY_STYLES),
        fuel_type=choice_filter("fuel_type", FUEL_TYPES),
        price_min=_decimal_text(request.args.get("price_min")),
        price_max=_decimal_text(request.args.get("price_max")),
        status=choice_filter("status", UNIT_STATUSES),
        age=choice_filter("age", queries.AGE_BANDS),
        sort=choice_filter("sort", queries.SORTS, "make"),
    )


def _address_for(form_id: str, address: str) -> dict[str, str]:
    """A filter form's answer puts its filters in the address bar, without the empty fields, so the
    view can be shared and reloaded; a live re-fetch of the same list leaves the history alone."""
    return {"HX-Push-Url": address} if request.headers.get("HX-Trigger") == form_id else {}


def _live_topics() -> list[str]:
    """The stock topic and the person's own notices (a hold of theirs that expired), on one stream."""
    actor = current_actor()
    topics = [STOCK_TOPIC]
    if actor.user_id is not None:
        topics.append(user_topic(actor.user_id))
    return topics


# --- The stock list ---------------------------------------------------------------------------------------


@bp.get("/stock")
@login_required
async def index() -> Any:
    actor = current_actor()
    actor.require("stock.view")
    filters = _filters()
    page = page_number()
    live_id = runtime().hub.current_id()
    async with runtime().db.read(actor.tenant_id) as session:
        listing = await queries.stock_list(session, filters, tenant_today(), page)
        choices = await queries.filter_choices(session, filters.make)
    context = {
        "listing": listing,
        "filters": filters,
        "choices": choices,
        "body_styles": BODY_STYLES,
        "fuel_types": FUEL_TYPES,
        "statuses": UNIT_STATUSES,
        "age_bands": list(queries.AGE_BANDS),
        "sorts": queries.SORTS,
        "can_manage": actor.can("stock.manage"),
        "live_id": live_id,
        "live_topics": _live_topics(),
        **LABELS,
    }
    if is_htmx():
        fragment = await render_fragment(LIST_TEMPLATE, "stock_list", **context)
        address = url_for("stock.index", **filters.args())  # type: ignore[arg-type]
        return fragment, 200, _address_for("stock-filter", address)
    return await render_page(LIST_TEMPLATE, **context)


# --- Adding and editing a unit ---------------------------------------------------------------------------


async def _render_form(
    form: dict[str, str], errors: dict[str, str], unit: queries.UnitRow | None = None
) -> str:
    actor = current_actor()
    async with runtime().db.read(actor.tenant_id) as session:
        trims = await queries.trim_choices(session, unit.trim_id if unit else None)
    return await render_page(
        FORM_TEMPLATE,
        form=form,
        errors=errors,
        unit=unit,
        trims=trims,
        statuses=EDITABLE_STATUSES,
        **LABELS,
    )


def _unit_data(form: dict[str, str], errors: dict[str, str], current_status: str | None) -> UnitData:
    return UnitData(
        vin=form.get("vin", ""),
        trim_id=_id(form.get("trim_id")),
        colour=form.get("colour", ""),
        mileage_km=_parse_int(form, "mileage_km", errors),
        cost=_parse_decimal(form, "cost", errors),
        list_price=_parse_decimal(form, "list_price", errors),
        location=form.get("location", ""),
        arrived_on=_parse_date(form, "arrived_on", errors),
        # A held or sold unit's status is not offered in the form: it stays what it is.
        status=current_status
        if current_status is not None and current_status not in EDITABLE_STATUSES
        else (form.get("status") or ""),
    )


@bp.get("/stock/new")
@login_required
async def new_unit() -> Any:
    current_actor().require("stock.manage")
    return await _render_form({"status": "AVAILABLE", "arrived_on": tenant_today().isoformat()}, {})


@bp.post("/stock", endpoint="create")
@login_required
async def create() -> Any:
    actor = current_actor()
    actor.require("stock.manage")
    form = await posted_form()
    errors: dict[str, str] = {}
    data = _unit_data(form, errors, None)
    if errors:
        return await _render_form(form, errors), 422
    try:
        async with runtime().db.uow(actor) as uow:
            unit = await create_unit(uow, data)
    except UnitInvalid as invalid:
        return await _render_form(form, invalid.errors), 422
    await flash_message(_("Unit %(vin)s added to stock.", vin=unit.vin), "success")
    return redirect(url_for("stock.unit_page", unit_id=unit.id))


def _form_of(unit: queries.UnitRow) -> dict[str, str]:
    return {
        "vin": unit.vin,
        "trim_id": str(unit.trim_id),
        "colour": unit.colour,
        "mileage_km": str(unit.mileage_km),
        "cost": str(unit.cost),
        "list_price": str(unit.list_price),
        "location": unit.location,
        "arrived_on": unit.arrived_on.isoformat() if unit.arrived_on else "",
        "status": unit.status,
        "version": str(unit.version),
    }


async def _unit_or_404(unit_id: int) -> queries.UnitRow:
    async with runtime().db.read(current_actor().tenant_id) as session:
        found = await queries.unit(session, unit_id, tenant_today())
    if found is None:
        abort(404)
    return found


@bp.get("/stock/<int:unit_id>/edit")
@login_required
async def edit(unit_id: int) -> Any:
    unit = await _unit_or_404(unit_id)
    current_actor().require("stock.manage")
    return await _render_form(_form_of(unit), {}, unit)


@bp.post("/stock/<int:unit_id>/edit", endpoint="update")
@login_required
async def update(unit_id: int) -> Any:
    actor = current_actor()
    unit = await _unit_or_404(unit_id)
    actor.require("stock.manage")
    form = await posted_form()
    errors: dict[str, str] = {}
    data = _unit_data(form, errors, unit.status)
    if errors:
        return await _render_form(form, errors, unit), 422
    try:
        async with runtime().db.uow(actor) as uow:
            await update_unit(uow, unit_id, data, expected_version=_id(form.get("version")))
    except NotFound:
        abort(404)
    except Conflict as conflict:
        current = await _unit_or_404(unit_id)
        return await _render_form(_form_of(current), {"__all__": str(conflict)}, current), 409
    except UnitInvalid as invalid:
        return await _render_form(form, invalid.errors, unit), 422
    await flash_message(_("Unit %(vin)s saved.", vin=unit.vin), "success")
    return redirect(url_for("stock.unit_page", unit_id=unit_id))


# --- One unit, its holds and drives -------------------------------------------------------------------------


async def _render_unit(
    unit_id: int,
    *,
    forms: dict[str, dict[str, str]] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    block: str | None = None,
) -> str:
    actor = current_actor()
    actor.require("stock.view")
    live_id = runtime().hub.current_id()
    async with runtime().db.read(actor.tenant_id) as session:
        unit = await queries.unit(session, unit_id, tenant_today())
        if unit is None:
            abort(404)
        holds = await queries.holds_of(session, unit_id)
        drives = await queries.drives_of(session, unit_id)
        can_reserve = actor.can("stock.reserve")
        leads = await queries.open_lead_choices(session, actor.user_id) if can_reserve else []
    chosen_lead = _id(request.args.get("lead_id"))
    context = {
        "unit": unit,
        "holds": holds,
        "drives": drives,
        "leads": leads,
        "chosen_lead": chosen_lead,
        "can_reserve": can_reserve,
        "can_manage": actor.can("stock.manage"),
        "can_drive": actor.can("test_drive.manage"),
        "actor_id": actor.user_id,
        "forms": forms or {},
        "errors": errors or {},
        "csrf": csrf_token(),
        "live_id": live_id,
        "live_topics": _live_topics(),
        **LABELS,
    }
    if block is not None:
        return await render_fragment(UNIT_TEMPLATE, block, **context)
    return await render_page(UNIT_TEMPLATE, **context)


@bp.get("/stock/<int:unit_id>", endpoint="unit_page")
@login_required
async def unit_page(unit_id: int) -> Any:
    # The page's live sections re-fetch themselves, each its own block.
    if is_htmx():
        blocks = {"unit-history": "unit_history", "unit-actions": "unit_actions"}
        block = blocks.get(request.headers.get("HX-Target") or "", "unit_live")
        return await _render_unit(unit_id, block=block)
    return await _render_unit(unit_id)


@bp.post("/stock/<int:unit_id>/reserve", endpoint="reserve")
@login_required
async def reserve(unit_id: int) -> Any:
    actor = current_actor()
    await _unit_or_404(unit_id)
    actor.require("stock.reserve")
    form = await posted_form()
    lead_id = _id(form.get("lead_id"))
    try:
        async with runtime().db.uow(actor) as uow:
            reservation = await reserve_unit(uow, unit_id, lead_id)
    except NotFound:
        abort(404)
    except UnitHeld as held:
        # Someone else was quicker: the page shows who holds the unit now, and until when.
        errors = {"reserve": {"__all__": str(held)}}
        return await _render_unit(unit_id, forms={"reserve": form}, errors=errors), 409
    except RuleViolation as violation:
        field = "lead_id" if violation.field == "lead_id" else "__all__"
        errors = {"reserve": {field: str(violation)}}
        return await _render_unit(unit_id, forms={"reserve": form}, errors=errors), 422
    await flash_message(
        _(
            "Unit held until %(until)s.",
            until=format_datetime(reservation.expires_at) if reservation.expires_at else "",
        ),
        "success",
    )
    return redirect(url_for("stock.unit_page", unit_id=unit_id))


@bp.post("/stock/holds/<int:reservation_id>/release", endpoint="release")
@login_required
async def release(reservation_id: int) -> Any:
    actor = current_actor()
    actor.require("stock.reserve")
    form = await posted_form()
    unit_id = _id(form.get("unit_id"))
    try:
        async with runtime().db.uow(actor) as uow:
            reservation = await release_hold(uow, reservation_id, form.get("reason", ""))
    except NotFound:
        abort(404)
    except RuleViolation as violation:
        if unit_id is None:
            abort(422, description=str(violation))
        await _unit_or_404(unit_id)
        field = "reason" if violation.field == "reason" else "__all__"
        errors = {"release": {field: str(violation)}}
        return await _render_unit(unit_id, forms={"release": form}, errors=errors), 422
    await flash_message(_("Hold released; the unit is available again."), "success")
    return redirect(url_for("stock.unit_page", unit_id=reservation.stock_unit_id))


# --- Test drives ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarDay:
    day: date
    drives: list[queries.DriveRow]


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=_zone())


@bp.get("/test-drives")
@login_required
async def test_drives() -> Any:
    """Today and the next seven days, per day; filtered to one car or one rep."""
    actor = current_actor()
    actor.require("stock.view")
    unit_id = _id(request.args.get("unit_id"))
    rep_id = _id(request.args.get("rep_id"))
    today = tenant_today()
    starts, ends = _day_start(today), _day_start(today + timedelta(days=CALENDAR_DAYS))
    live_id = runtime().hub.current_id()
    async with runtime().db.read(actor.tenant_id) as session:
        drives = await queries.drive_calendar(session, starts, ends, unit_id=unit_id, rep_id=rep_id)
        units = await queries.bookable_unit_choices(session)
        people = await queries.sales_people(session)
    zone = _zone()
    out_from_before = [drive for drive in drives if drive.starts_at.astimezone(zone).date() < today]
    days = [
        CalendarDay(
            day,
            [drive for drive in drives if drive.starts_at.astimezone(zone).date() == day],
        )
        for day in (today + timedelta(days=offset) for offset in range(CALENDAR_DAYS))
    ]
    context = {
        "days": days,
        "out_from_before": out_from_before,
        "today": today,
        "units": units,
        "people": people,
        "unit_id": unit_id,
        "rep_id": rep_id,
        "filters": {"unit_id": unit_id, "rep_id": rep_id},
        "can_drive": actor.can("test_drive.manage"),
        "live_id": live_id,
        "live_topics": _live_topics(),
        **LABELS,
    }
    if is_htmx():
        fragment = await render_fragment(CALENDAR_TEMPLATE, "drives_live", **context)
        address = url_for("stock.test_drives", unit_id=unit_id, rep_id=rep_id)
        return fragment, 200, _address_for("drives-filter", address)
    return await render_page(CALENDAR_TEMPLATE, **context)


def _next_quarter_hour() -> str:
    now = datetime.now(_zone()).replace(second=0, microsecond=0)
    rounded = now + timedelta(minutes=(15 - now.minute % 15) % 15 or 15)
    return rounded.strftime("%Y-%m-%dT%H:%M")


async def _render_booking(form: dict[str, str], errors: dict[str, str]) -> str:
    actor = current_actor()
    async with runtime().db.read(actor.tenant_id) as session:
        units = await queries.bookable_unit_choices(session)
        leads = await queries.open_lead_choices(session, actor.user_id)
        people = await queries.sales_people(session)
    return await render_page(
        BOOKING_TEMPLATE,
        form=form,
        errors=errors,
        units=units,
        leads=leads,
        people=people,
        lengths=DRIVE_LENGTHS,
        **LABELS,
    )


@bp.get("/test-drives/new")
@login_required
async def new_test_drive() -> Any:
    actor = current_actor()
    actor.require("test_drive.manage")
    form = {
        "unit_id": request.args.get("unit_id", ""),
        "lead_id": request.args.get("lead_id", ""),
        "rep_id": str(actor.user_id or ""),
        "starts_at": _next_quarter_hour(),
        "duration": "30",
    }
    return await _render_booking(form, {})


# The service names the unit's field stock_unit_id and the slot's end ends_at; the form has unit_id
# and a duration.
_BOOKING_FIELDS = {"stock_unit_id": "unit_id", "ends_at": "duration"}


@bp.post("/test-drives", endpoint="book")
@login_required
async def book() -> Any:
    actor = current_actor()
    actor.require("test_drive.manage")
    form = await posted_form()
    errors: dict[str, str] = {}
    unit_id = _id(form.get("unit_id"))
    if unit_id is None:
        errors["unit_id"] = _("Choose the car.")
    lead_id = _id(form.get("lead_id"))
    if lead_id is None:
        errors["lead_id"] = _("Choose the lead.")
    starts_at = _parse_local_datetime(form, "starts_at", errors)
    minutes = _id(form.get("duration"))
    if minutes not in DRIVE_LENGTHS:
        errors["duration"] = _("Choose one of the options.")
    if errors or unit_id is None or starts_at is None or minutes is None:
        return await _render_booking(form, errors), 422
    try:
        async with runtime().db.uow(actor) as uow:
            drive = await book_test_drive(
                uow,
                unit_id,
                lead_id,
                starts_at,
                starts_at + timedelta(minutes=minutes),
                rep_id=_id(form.get("rep_id")),
            )
    except NotFound:
        return await _render_booking(form, {"__all__": _("That car or lead does not exist.")}), 404
    except RuleViolation as violation:
        field = _BOOKING_FIELDS.get(violation.field or "", violation.field or "__all__")
        return await _render_booking(form, {field: str(violation)}), 422
    await flash_message(
        _("Test drive booked for %(start)s.", start=format_datetime(drive.starts_at)), "success"
    )
    return redirect(url_for("stock.drive_page", drive_id=drive.id))


async def _render_drive(
    drive_id: int,
    *,
    forms: dict[str, dict[str, str]] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    block: str | None = None,
) -> str:
    actor = current_actor()
    actor.require("stock.view")
    live_id = runtime().hub.current_id()
    async with runtime().db.read(actor.tenant_id) as session:
        found = await queries.drive(session, drive_id)
    if found is None:
        abort(404)
    context = {
        "drive": found,
        "can_drive": actor.can("test_drive.manage"),
        "started": found.starts_at <= datetime.now(_zone()),
        "forms": forms or {},
        "errors": errors or {},
        "csrf": csrf_token(),
        "live_id": live_id,
        "live_topics": _live_topics(),
        **LABELS,
    }
    if block is not None:
        return await render_fragment(DRIVE_TEMPLATE, block, **context)
    return await render_page(DRIVE_TEMPLATE, **context)


@bp.get("/test-drives/<int:drive_id>", endpoint="drive_page")
@login_required
async def drive_page(drive_id: int) -> Any:
    if is_htmx():
        block = "drive_actions" if request.headers.get("HX-Target") == "drive-actions" else "drive_live"
        return await _render_drive(drive_id, block=block)
    return await _render_drive(drive_id)


async def _drive_action(drive_id: int, form_name: str, action: Any, success: str) -> Any:
    """Run one drive use case; a refusal re-renders the drive page with the message at its field."""
    actor = current_actor()
    actor.require("test_drive.manage")
    form = await posted_form()
    try:
        async with runtime().db.uow(actor) as uow:
            await action(uow, form)
    except NotFound:
        abort(404)
    except RuleViolation as violation:
        field = violation.field if violation.field and violation.field != "status" else "__all__"
        if field not in form and field not in ("licence_checked", "__all__"):
            field = "__all__"
        errors = {form_name: {field: str(violation)}}
        return await _render_drive(drive_id, forms={form_name: form}, errors=errors), 422
    await flash_message(success, "success")
    return redirect(url_for("stock.drive_page", drive_id=drive_id))


@bp.post("/test-drives/<int:drive_id>/check-out", endpoint="check_out")
@login_required
async def check_out(drive_id: int) -> Any:
    async def action(uow: Any, form: dict[str, str]) -> None:
        errors: dict[str, str] = {}
        odometer = _parse_int(form, "odometer_out_km", errors)
        if errors:
            raise RuleViolation(errors["odometer_out_km"], field="odometer_out_km")
        await check_out_test_drive(
            uow,
            drive_id,
            licence_number=form.get("licence_number", ""),
            licence_checked=form.get("licence_checked") == "1",
            odometer_out_km=odometer,
        )

    return await _drive_action(drive_id, "check_out", action, _("Checked out. Have a good drive."))


@bp.post("/test-drives/<int:drive_id>/return", endpoint="return_drive")
@login_required
async def return_drive(drive_id: int) -> Any:
    async def action(uow: Any, form: dict[str, str]) -> None:
        errors: dict[str, str] = {}
        odometer = _parse_int(form, "odometer_in_km", errors)
        if errors:
            raise RuleViolation(errors["odometer_in_km"], field="odometer_in_km")
        await return_test_drive(uow, drive_id, odometer)

    return await _drive_action(drive_id, "return", action, _("The car is back; its mileage is updated."))


@bp.post("/test-drives/<int:drive_id>/cancel", endpoint="cancel")
@login_required
async def cancel(drive_id: int) -> Any:
    async def action(uow: Any, form: dict[str, str]) -> None:
        await cancel_test_drive(uow, drive_id)

    return await _drive_action(drive_id, "cancel", action, _("Test drive cancelled."))


@bp.post("/test-drives/<int:drive_id>/no-show", endpoint="no_show")
@login_required
async def no_show(drive_id: int) -> Any:
    async def action(uow: Any, form: dict[str, str]) -> None:
        await mark_no_show(uow, drive_id)

    return await _drive_action(drive_id, "no_show", action, _("Marked as a no-show."))
