"""The stock ledger: the only code that changes a part's stock.

Every change is one conditional UPDATE on `parts` whose WHERE clause is the ledger's invariant
(0 <= reserved <= on_hand), followed by a StockMovement row with the levels after it. The UPDATE is
atomic on both backends: on PostgreSQL concurrent changes to a part queue on its row lock and each
re-checks the WHERE clause against the committed levels; SQLite takes the write lock at BEGIN
IMMEDIATE. So two completions racing for the last unit cannot both win, and a refused change writes
nothing.

`reserve_part`, `release_part` and `consume_part` run inside the caller's transaction and never commit;
the calling use case (adding a part line, completing a job) checks the actor's permission. When a use
case changes several parts, it should change them in ascending part id, so that two transactions on
PostgreSQL take the row locks in the same order. The page-level use cases (`create_part`,
`receive_stock`, `adjust_stock`, `return_stock`, `take_erp_stock_level`, `request_purchase`,
`cancel_purchase_request`) check `parts.manage` and commit.

A purchase request is not a movement: it asks the ERP to order, and stock changes only when the goods
are received (here, or in the ERP, which a parts pull brings in), which closes the part's open request.
A request can also be cancelled; every change to a part's requests holds the part's row lock, so a
cancel, a receipt and a new request on one part never interleave.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

from babel.numbers import format_decimal
from sqlalchemy import ColumnElement, func, select, update

from ops.auth.actor import Conflict, NotFound, RuleViolation
from ops.db import UnitOfWork, utcnow
from ops.events import record
from ops.i18n import N_, current_locale, format_datetime
from ops.i18n import gettext as _
from ops.tenants.service import next_number
from ops.workshop.models import (
    Part,
    PurchaseRequest,
    StockMovement,
    WorkOrder,
    format_purchase_request_number,
)

PARTS_TOPIC = "parts"
QUANTUM = Decimal("0.01")
# The largest level the Numeric(10, 2) columns hold.
MAX_LEVEL = Decimal("99999999.99")
ZERO = Decimal("0")
# What the known unit codes read as (a part stores the code, labour is in hours); any other unit was
# typed in by the dealership in its own words and is shown as entered.
# Translators: abbreviations after a quantity: pieces, sets, litres, hours.
UNIT_LABELS = {"pc": N_("pc"), "set": N_("set"), "l": N_("l"), "h": N_("h")}
# Units that come in whole pieces: nobody orders 2.5 brake discs.
COUNTABLE_UNITS = ("pc", "set")
# A typo guard, not a purchasing policy: a larger order is placed in the ERP itself.
MAX_PURCHASE_QUANTITY = Decimal("10000")
# A cancelled purchase request says why in a sentence, as a stock movement does.
CANCEL_REASON_MAX = 200


# Units counted in whole items: half an oil filter or half a set of brake pads is neither fitted, sold
# nor put on the shelf. Litres, kilograms and a dealership's own units keep their decimals.
COUNTED_UNITS = ("pc", "set")


def part_topic(part_id: int) -> str:
    return f"part:{part_id}"


def format_quantity(value: Decimal) -> str:
    """A quantity as people write it in the reader's locale: 2, 1.5, 12'000 (never 2.00)."""
    return format_decimal(value, format="#,##0.##", locale=current_locale.get())


def unit_label(code: str | None) -> str:
    """A unit as the reader writes it after a quantity: 2 Stk, 1 Satz, 4.5 l; a unit of the dealership's
    own (can, m) as it was entered."""
    if not code:
        return ""
    label = UNIT_LABELS.get(code)
    return _(label) if label else code


class StockShortage(RuleViolation):
    """Not enough available stock of one part; the message names the part and how much is missing."""

    def __init__(self, part_id: int, sku: str, name: str, short_by: Decimal) -> None:
        super().__init__(
            _(
                "Not enough %(sku)s %(name)s in stock: %(short_by)s short.",
                sku=sku,
                name=name,
                short_by=format_quantity(short_by),
            ),
            field="quantity",
        )
        self.part_id = part_id
        self.sku = sku
        self.name = name
        self.short_by = short_by


@dataclass(frozen=True)
class StockLevels:
    """A part's levels as one ledger change left them."""

    part_id: int
    sku: str
    name: str
    on_hand: Decimal
    reserved: Decimal
    reorder_point: Decimal

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved

    @property
    def below_reorder_point(self) -> bool:
        # The same rule as Part.below_reorder_point: at the reorder point it is time to order.
        return self.available <= self.reorder_point


def validated_quantity(value: Any, field: str = "quantity", *, allow_zero: bool = False) -> Decimal:
    """A positive (or, with allow_zero, non-negative) Decimal with at most two decimal places."""
    if isinstance(value, (float, bool)):
        raise TypeError("quantities are Decimal, never float")
    try:
        quantity = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise RuleViolation(_("Enter a number."), field=field) from None
    if not quantity.is_finite():
        raise RuleViolation(_("Enter a number."), field=field)
    if quantity < 0 or (quantity == 0 and not allow_zero):
        message = _("Enter zero or more.") if allow_zero else _("Enter a quantity greater than zero.")
        raise RuleViolation(message, field=field)
    if quantity != quantity.quantize(QUANTUM):
        raise RuleViolation(_("Use at most two decimal places."), field=field)
    if quantity > MAX_LEVEL:
        raise RuleViolation(_("That is more than a stock level can hold."), field=field)
    return quantity


def refuse_fraction_of_counted(quantity: Decimal, unit: str | None, field: str = "quantity") -> None:
    """Raise RuleViolation when `quantity` of a part counted in whole items (COUNTED_UNITS) has decimals."""
    if unit in COUNTED_UNITS and quantity != quantity.to_integral_value():
        raise RuleViolation(
            _(
                "%(quantity)s %(unit)s: this part is counted in whole items; enter a whole number.",
                quantity=format_quantity(quantity),
                unit=unit_label(unit),
            ),
            field=field,
        )


def _validated_reason(reason: str, *, required: bool) -> str:
    text = (reason or "").strip()
    if required and not text:
        raise RuleViolation(_("Say why the stock changes."), field="reason")
    if len(text) > 200:
        raise RuleViolation(_("Use at most %(max)s characters.", max=200), field="reason")
    return text


def _invariant(on_hand_change: Decimal, reserved_change: Decimal) -> list[ColumnElement[bool]]:
    """The WHERE clause that keeps 0 <= reserved <= on_hand <= MAX_LEVEL after the change.

    Rounded to the columns' two places: SQLite computes with floats, where 0.3 - 0.1 - 0.2 is not 0.
    """
    conditions = [func.round(Part.on_hand + on_hand_change - Part.reserved - reserved_change, 2) >= 0]
    if reserved_change < 0:
        conditions.append(func.round(Part.reserved + reserved_change, 2) >= 0)
    if on_hand_change > 0:
        conditions.append(func.round(Part.on_hand + on_hand_change, 2) <= MAX_LEVEL)
    return conditions


async def _change_stock(
    uow: UnitOfWork,
    part_id: int,
    kind: str,
    *,
    on_hand_change: Decimal = ZERO,
    reserved_change: Decimal = ZERO,
    reason: str = "",
    work_order_id: int | None = None,
) -> StockLevels | None:
    """Apply one change with one conditional UPDATE; None when the invariant refuses it (nothing written)."""
    result = await uow.session.execute(
        update(Part)
        .where(Part.id == part_id, *_invariant(on_hand_change, reserved_change))
        .values(
            on_hand=func.round(Part.on_hand + on_hand_change, 2),
            reserved=func.round(Part.reserved + reserved_change, 2),
        )
        .returning(Part.sku, Part.name, Part.on_hand, Part.reserved, Part.reorder_point)
    )
    row = result.one_or_none()
    if row is None:
        return None
    after = StockLevels(part_id, row.sku, row.name, row.on_hand, row.reserved, row.reorder_point)
    actor = uow.actor
    uow.session.add(
        StockMovement(
            part_id=part_id,
            kind=kind,
            on_hand_change=on_hand_change,
            reserved_change=reserved_change,
            on_hand_after=after.on_hand,
            reserved_after=after.reserved,
            reason=reason,
            work_order_id=work_order_id,
            actor_id=actor.user_id,
            actor_name=actor.name,
            created_at=utcnow(),
        )
    )
    _record_stock_change(uow, kind, after, on_hand_change, reserved_change, work_order_id)
    return after


def _record_stock_change(
    uow: UnitOfWork,
    kind: str,
    after: StockLevels,
    on_hand_change: Decimal,
    reserved_change: Decimal,
    work_order_id: int | None,
) -> None:
    topics = [PARTS_TOPIC, part_topic(after.part_id)]
    record(
        uow,
        "part.stock_changed",
        {
            "id": after.part_id,
            "sku": after.sku,
            "kind": kind,
            "on_hand": str(after.on_hand),
            "reserved": str(after.reserved),
            "available": str(after.available),
            "below_reorder_point": after.below_reorder_point,
            "work_order_id": work_order_id,
        },
        topics=topics,
    )
    available_before = after.available - on_hand_change + reserved_change
    if after.below_reorder_point and available_before > after.reorder_point:
        _record_below_reorder_point(uow, after)


def _record_below_reorder_point(uow: UnitOfWork, after: StockLevels) -> None:
    record(
        uow,
        "part.below_reorder_point",
        {
            "id": after.part_id,
            "sku": after.sku,
            "name": after.name,
            "available": str(after.available),
            "reorder_point": str(after.reorder_point),
        },
        topics=[PARTS_TOPIC, part_topic(after.part_id)],
    )


async def _current(uow: UnitOfWork, part_id: int, *, lock: bool = False) -> Part:
    """The part as committed now; with lock, held against concurrent changes until the transaction ends
    (PostgreSQL; on SQLite the transaction already holds the database's write lock)."""
    query = select(Part).where(Part.id == part_id).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    part = await uow.session.scalar(query)
    if part is None:
        raise NotFound(part_id)
    return part


# --- Inside the caller's transaction -----------------------------------------------------------------


async def reserve_part(uow: UnitOfWork, part_id: int, quantity: Decimal, work_order_id: int) -> Decimal:
    """Hold up to `quantity` for a job; returns how much was reserved (less, or 0, when short)."""
    wanted = validated_quantity(quantity)
    part = await _current(uow, part_id, lock=True)
    amount = min(wanted, part.available)
    if amount <= 0:
        return ZERO
    after = await _change_stock(uow, part_id, "RESERVE", reserved_change=amount, work_order_id=work_order_id)
    if after is None:  # Unreachable while the row lock is held; never reserve what is not there.
        raise StockShortage(part.id, part.sku, part.name, wanted)
    return amount


async def release_part(
    uow: UnitOfWork, part_id: int, quantity: Decimal, work_order_id: int | None, reason: str
) -> None:
    """Give a job's reservation back to the shelf (line removed, job cancelled)."""
    amount = validated_quantity(quantity)
    text = _validated_reason(reason, required=False)
    after = await _change_stock(
        uow, part_id, "RELEASE", reserved_change=-amount, reason=text, work_order_id=work_order_id
    )
    if after is None:
        part = await _current(uow, part_id)
        raise RuleViolation(
            _(
                "Only %(reserved)s of %(sku)s %(name)s are reserved; %(quantity)s cannot be released.",
                reserved=format_quantity(part.reserved),
                sku=part.sku,
                name=part.name,
                quantity=format_quantity(amount),
            ),
            field="quantity",
        )


async def consume_part(
    uow: UnitOfWork, part_id: int, quantity: Decimal, reserved_quantity: Decimal, work_order_id: int
) -> None:
    """Take `quantity` off the shelf for a job, `reserved_quantity` of it from the job's own reservation.

    The rest must come from available stock: other jobs' reservations are never eaten, and when there
    is not enough, StockShortage names the part and nothing changes.
    """
    amount = validated_quantity(quantity)
    from_reservation = validated_quantity(reserved_quantity, "reserved_quantity", allow_zero=True)
    if from_reservation > amount:
        raise RuleViolation(
            _("A job cannot use less than it has reserved; release the rest first."),
            field="reserved_quantity",
        )
    after = await _change_stock(
        uow,
        part_id,
        "CONSUME",
        on_hand_change=-amount,
        reserved_change=-from_reservation,
        work_order_id=work_order_id,
    )
    if after is not None:
        return
    part = await _current(uow, part_id)
    if part.reserved < from_reservation:
        raise RuleViolation(
            _(
                "Only %(reserved)s of %(sku)s %(name)s are reserved, not %(quantity)s.",
                reserved=format_quantity(part.reserved),
                sku=part.sku,
                name=part.name,
                quantity=format_quantity(from_reservation),
            ),
            field="reserved_quantity",
        )
    raise StockShortage(part.id, part.sku, part.name, amount - from_reservation - part.available)


# --- Page-level use cases: each one transaction that commits ------------------------------------------


@dataclass(frozen=True)
class NewPart:
    sku: str
    name: str
    unit: str = "pc"
    reorder_point: Decimal = ZERO
    cost: Decimal = ZERO
    price: Decimal = ZERO
    supplier: str | None = None
    opening_stock: Decimal = ZERO


def _validated_text(value: str | None, field: str, max_length: int, *, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise RuleViolation(_("This field is required."), field=field)
    if len(text) > max_length:
        raise RuleViolation(_("Use at most %(max)s characters.", max=max_length), field=field)
    return text


def _validated_description(
    data: NewPart | PartChanges,
) -> tuple[str, str, str | None, Decimal, Decimal, Decimal]:
    """Name, unit, supplier, reorder point, cost and price, checked in the order the form shows them."""
    name = _validated_text(data.name, "name", 120)
    unit = _validated_text(data.unit, "unit", 10, required=False) or "pc"
    supplier = _validated_text(data.supplier, "supplier", 120, required=False) or None
    reorder_point = validated_quantity(data.reorder_point, "reorder_point", allow_zero=True)
    cost = validated_quantity(data.cost, "cost", allow_zero=True)
    price = validated_quantity(data.price, "price", allow_zero=True)
    return name, unit, supplier, reorder_point, cost, price


async def create_part(uow: UnitOfWork, data: NewPart) -> Part:
    """A new part in the catalogue; an opening stock is received as the part's first movement."""
    uow.actor.require("parts.manage")
    sku = _validated_text(data.sku, "sku", 40)
    name, unit, supplier, reorder_point, cost, price = _validated_description(data)
    opening_stock = validated_quantity(data.opening_stock, "opening_stock", allow_zero=True)
    refuse_fraction_of_counted(opening_stock, unit, "opening_stock")
    # Case-insensitive, so that "bp-1" and "BP-1" cannot become two parts on the same shelf.
    taken = await uow.session.scalar(select(Part.id).where(func.lower(Part.sku) == sku.lower()))
    if taken is not None:
        raise RuleViolation(_("A part with this SKU exists already."), field="sku")

    part = Part(
        sku=sku,
        name=name,
        unit=unit,
        on_hand=ZERO,
        reserved=ZERO,
        reorder_point=reorder_point,
        cost=cost,
        price=price,
        supplier=supplier,
    )
    uow.session.add(part)
    await uow.session.flush()
    record(
        uow,
        "part.created",
        {"id": part.id, "sku": sku, "name": name, "reorder_point": str(reorder_point)},
        topics=[PARTS_TOPIC, part_topic(part.id)],
    )
    if opening_stock > 0:
        await _change_stock(uow, part.id, "RECEIVE", on_hand_change=opening_stock, reason=_("Opening stock"))
        # The UPDATE changed the row behind the object's back; the caller sees the levels it left.
        await uow.session.refresh(part)
    await uow.commit()
    return part


@dataclass(frozen=True)
class PartChanges:
    """What the edit form changes; the SKU stays, since work orders and suppliers know the part by it."""

    name: str
    reorder_point: Decimal
    cost: Decimal
    price: Decimal
    unit: str = "pc"
    supplier: str | None = None


async def update_part(
    uow: UnitOfWork, part_id: int, changes: PartChanges, expected_version: int | None
) -> StockLevels:
    """Change a part's description, prices and reorder point; a stale version raises Conflict."""
    part = await _current(uow, part_id)
    # Looked up before the permission check: another tenant's id is NotFound for every role, never a 403.
    uow.actor.require("parts.manage")
    if expected_version is None:
        raise RuleViolation(_("The form's version is missing; reload the page."), field="version")
    name, unit, supplier, reorder_point, cost, price = _validated_description(changes)
    stale = _("%(sku)s was changed by someone else in the meantime.", sku=part.sku)
    if part.version != expected_version:
        raise Conflict(stale)
    was_below = part.below_reorder_point
    result = await uow.session.execute(
        update(Part)
        .where(Part.id == part_id, Part.version == expected_version)
        .values(
            name=name,
            unit=unit,
            supplier=supplier,
            reorder_point=reorder_point,
            cost=cost,
            price=price,
            version=Part.version + 1,
        )
        .returning(Part.sku, Part.name, Part.on_hand, Part.reserved, Part.reorder_point)
    )
    row = result.one_or_none()
    if row is None:
        raise Conflict(stale)
    after = StockLevels(part_id, row.sku, row.name, row.on_hand, row.reserved, row.reorder_point)
    topics = [PARTS_TOPIC, part_topic(part_id)]
    record(
        uow,
        "part.updated",
        {
            "id": part_id,
            "sku": after.sku,
            "name": name,
            "unit": unit,
            "supplier": supplier,
            "reorder_point": str(reorder_point),
            "cost": str(cost),
            "price": str(price),
            "below_reorder_point": after.below_reorder_point,
            "version": expected_version + 1,
        },
        topics=topics,
    )
    # Raising the reorder point above what is available is the same moment to reorder as a sale.
    if after.below_reorder_point and not was_below:
        _record_below_reorder_point(uow, after)
    await uow.commit()
    return after


async def receive_stock(uow: UnitOfWork, part_id: int, quantity: Decimal, reason: str = "") -> StockLevels:
    """Goods in from a supplier; they close the part's open purchase request."""
    uow.actor.require("parts.manage")
    amount = validated_quantity(quantity)
    text = _validated_reason(reason, required=False)
    refuse_fraction_of_counted(amount, (await _current(uow, part_id)).unit)
    after = await _change_stock(uow, part_id, "RECEIVE", on_hand_change=amount, reason=text)
    if after is None:
        await _current(uow, part_id)
        raise RuleViolation(_("That is more than a stock level can hold."), field="quantity")
    await _close_purchase_request(uow, after)
    await uow.commit()
    return after


async def return_stock(
    uow: UnitOfWork, part_id: int, quantity: Decimal, reason: str = "", work_order_id: int | None = None
) -> StockLevels:
    """A part that came back from a job (not fitted, wrong part) goes back on the shelf."""
    uow.actor.require("parts.manage")
    amount = validated_quantity(quantity)
    text = _validated_reason(reason, required=False)
    refuse_fraction_of_counted(amount, (await _current(uow, part_id)).unit)
    if work_order_id is not None:
        found = await uow.session.scalar(select(WorkOrder.id).where(WorkOrder.id == work_order_id))
        if found is None:
            raise RuleViolation(_("Choose a work order of this dealership."), field="work_order")
    after = await _change_stock(
        uow, part_id, "RETURN", on_hand_change=amount, reason=text, work_order_id=work_order_id
    )
    if after is None:
        await _current(uow, part_id)
        raise RuleViolation(_("That is more than a stock level can hold."), field="quantity")
    await uow.commit()
    return after


async def adjust_stock(
    uow: UnitOfWork,
    part_id: int,
    *,
    reason: str,
    counted: Decimal | None = None,
    change: Decimal | None = None,
) -> StockLevels:
    """Correct the stock on hand to what was counted on the shelf, or by a signed change; a reason is
    mandatory. Stock never goes below zero, nor below what open jobs have reserved."""
    uow.actor.require("parts.manage")
    after = await _adjust(uow, part_id, reason=reason, counted=counted, change=change)
    await uow.commit()
    return after


async def take_erp_stock_level(uow: UnitOfWork, part_id: int, on_hand: Decimal, reason: str) -> StockLevels:
    """The ERP's stock on hand becomes ours (an adjustment with `reason`). A rise while the part has an
    open purchase request is that request's goods, received in the ERP: it closes the request as a
    receipt here does. A fall or no change leaves the request open."""
    uow.actor.require("parts.manage")
    before = (await _current(uow, part_id, lock=True)).on_hand
    after = await _adjust(uow, part_id, reason=reason, counted=on_hand)
    if after.on_hand > before:
        await _close_purchase_request(uow, after)
    await uow.commit()
    return after


async def _adjust(
    uow: UnitOfWork,
    part_id: int,
    *,
    reason: str,
    counted: Decimal | None = None,
    change: Decimal | None = None,
) -> StockLevels:
    """`adjust_stock` inside the caller's transaction."""
    if (counted is None) == (change is None):
        raise RuleViolation(_("Enter either the counted stock or a change."), field="counted")
    field = "counted" if counted is not None else "change"
    text = _validated_reason(reason, required=True)
    if counted is not None:
        level = validated_quantity(counted, "counted", allow_zero=True)
        part = await _current(uow, part_id, lock=True)
        refuse_fraction_of_counted(level, part.unit, "counted")
        delta = level - part.on_hand
        if delta == 0:
            raise RuleViolation(
                _("%(count)s is already the stock on hand; nothing to adjust.", count=format_quantity(level)),
                field="counted",
            )
    else:
        if isinstance(change, float):
            raise TypeError("quantities are Decimal, never float")
        try:
            delta = Decimal(change)  # type: ignore[arg-type]
        except (InvalidOperation, TypeError, ValueError):
            raise RuleViolation(_("Enter a number."), field="change") from None
        if delta == 0 or not delta.is_finite():
            raise RuleViolation(_("Enter a change other than zero."), field="change")
        validated_quantity(abs(delta), "change")
        refuse_fraction_of_counted(delta, (await _current(uow, part_id)).unit, "change")
    after = await _change_stock(uow, part_id, "ADJUST", on_hand_change=delta, reason=text)
    if after is None:
        part = await _current(uow, part_id)
        raise _refused_adjustment(part, part.on_hand + delta, field)
    return after


def _refused_adjustment(part: Part, new_on_hand: Decimal, field: str) -> RuleViolation:
    if new_on_hand < 0:
        return RuleViolation(
            _(
                "Stock cannot go below zero: %(on_hand)s of %(sku)s on hand.",
                on_hand=format_quantity(part.on_hand),
                sku=part.sku,
            ),
            field=field,
        )
    if new_on_hand < part.reserved:
        return RuleViolation(
            _(
                "%(reserved)s of %(sku)s are reserved for open jobs; remove those lines before "
                "counting less than that.",
                reserved=format_quantity(part.reserved),
                sku=part.sku,
            ),
            field=field,
        )
    return RuleViolation(_("That is more than a stock level can hold."), field=field)


# --- Purchase requests ----------------------------------------------------------------------------------


def suggested_purchase_quantity(available: Decimal, reorder_point: Decimal, unit: str) -> Decimal:
    """Enough to bring available stock back above the reorder point: twice the reorder point less what
    is available, at least one unit, in whole pieces for countable units."""
    wanted = max(reorder_point * 2 - available, Decimal(1))
    step = Decimal(1) if unit in COUNTABLE_UNITS else QUANTUM
    rounded = (wanted / step).to_integral_value(ROUND_CEILING) * step
    return min(rounded, MAX_PURCHASE_QUANTITY)


def validated_purchase_quantity(value: Any, unit: str) -> Decimal:
    quantity = validated_quantity(value)
    if quantity > MAX_PURCHASE_QUANTITY:
        raise RuleViolation(
            _(
                "Request at most %(max)s at once; place a larger order in the ERP.",
                max=format_quantity(MAX_PURCHASE_QUANTITY),
            ),
            field="quantity",
        )
    if unit in COUNTABLE_UNITS and quantity != quantity.to_integral_value():
        raise RuleViolation(_("This part comes in whole pieces; enter a whole number."), field="quantity")
    return quantity


def purchase_request_is_open_message(
    number: str, quantity: Decimal, unit: str, sku: str, requested_by: str, requested_at: datetime
) -> str:
    """What the part page says of its open request, and why a second one is refused."""
    return _(
        "%(number)s for %(quantity)s %(unit)s of %(sku)s is still open (requested by %(name)s, "
        "%(when)s); it closes when the goods are received.",
        number=number,
        quantity=format_quantity(quantity),
        unit=unit_label(unit),
        sku=sku,
        name=requested_by or "—",
        when=format_datetime(requested_at),
    )


async def request_purchase(uow: UnitOfWork, part_id: int, quantity: Decimal) -> PurchaseRequest:
    """Ask the ERP to reorder a part that is at or below its reorder point.

    The part's row lock makes a second manager's click wait for the first one's commit, after which
    it finds the open request and is refused with it (Conflict): one open request per part.
    """
    part = await _current(uow, part_id, lock=True)
    # Looked up before the permission check: another tenant's id is NotFound for every role, never a 403.
    uow.actor.require("parts.manage")
    amount = validated_purchase_quantity(quantity, part.unit)
    session = uow.session
    open_request = await session.scalar(
        select(PurchaseRequest).where(PurchaseRequest.part_id == part_id, PurchaseRequest.status == "OPEN")
    )
    if open_request is not None:
        message = purchase_request_is_open_message(
            format_purchase_request_number(open_request.number),
            open_request.quantity,
            part.unit,
            part.sku,
            open_request.requested_by_name,
            open_request.requested_at,
        )
        raise Conflict(message, open_request)
    if not part.below_reorder_point:
        raise RuleViolation(
            _("%(sku)s is above its reorder point; there is nothing to reorder.", sku=part.sku),
            field="quantity",
        )
    actor = uow.actor
    request = PurchaseRequest(
        number=await next_number(uow, "purchase_request"),
        part_id=part_id,
        quantity=amount,
        status="OPEN",
        requested_by_id=actor.user_id,
        requested_by_name=actor.name,
        requested_at=utcnow(),
    )
    session.add(request)
    await session.flush()
    record(
        uow,
        "part.purchase_requested",
        {
            "id": part_id,
            "sku": part.sku,
            "request_id": request.id,
            "number": format_purchase_request_number(request.number),
            "quantity": str(amount),
            "available": str(part.available),
            "reorder_point": str(part.reorder_point),
        },
        topics=[PARTS_TOPIC, part_topic(part_id)],
    )
    await uow.commit()
    return request


def purchase_request_closed_message(request: PurchaseRequest) -> str:
    """Why a request that is no longer open cannot be cancelled: what became of it, and when."""
    number = format_purchase_request_number(request.number)
    if request.status == "CANCELLED":
        return _(
            "%(number)s was already cancelled by %(name)s, %(when)s: %(reason)s",
            number=number,
            name=request.cancelled_by_name or "—",
            when=format_datetime(request.cancelled_at),
            reason=request.cancel_reason or "—",
        )
    return _(
        "%(number)s was received %(when)s; there is nothing left to cancel.",
        number=number,
        when=format_datetime(request.received_at),
    )


async def cancel_purchase_request(
    uow: UnitOfWork, part_id: int, request_id: int, reason: str
) -> PurchaseRequest:
    """Withdraw a part's open purchase request (the supplier dropped the part, it was raised by
    mistake), saying why; the part may be reordered at once, and the ERP hears of it from the outbox.

    The part's row lock queues a second manager's cancel, and a receipt, behind this one; whichever
    comes second finds the request closed and is refused with what became of it (Conflict).
    """
    part = await _current(uow, part_id, lock=True)
    request = await uow.session.scalar(
        select(PurchaseRequest)
        .where(PurchaseRequest.id == request_id, PurchaseRequest.part_id == part_id)
        .execution_options(populate_existing=True)
    )
    if request is None:
        raise NotFound(request_id)
    # Looked up before the permission check: another tenant's id is NotFound for every role, never a 403.
    uow.actor.require("parts.manage")
    if request.status != "OPEN":
        raise Conflict(purchase_request_closed_message(request), request)
    text = _validated_text(reason, "reason", CANCEL_REASON_MAX, required=False)
    if not text:
        raise RuleViolation(_("Say why the request is cancelled."), field="reason")
    actor = uow.actor
    request.status = "CANCELLED"
    request.cancelled_at = utcnow()
    request.cancelled_by_id = actor.user_id
    request.cancelled_by_name = actor.name
    request.cancel_reason = text
    record(
        uow,
        "part.purchase_request_cancelled",
        {
            "id": part_id,
            "sku": part.sku,
            "request_id": request.id,
            "number": format_purchase_request_number(request.number),
            "quantity": str(request.quantity),
            "reason": text,
        },
        topics=[PARTS_TOPIC, part_topic(part_id)],
    )
    await uow.commit()
    return request


async def _close_purchase_request(uow: UnitOfWork, after: StockLevels) -> None:
    """Goods in close the part's open purchase request: the ERP ordered them and the shelf has them."""
    result = await uow.session.execute(
        update(PurchaseRequest)
        .where(PurchaseRequest.part_id == after.part_id, PurchaseRequest.status == "OPEN")
        .values(status="RECEIVED", received_at=utcnow())
        .returning(PurchaseRequest.id, PurchaseRequest.number)
    )
    closed = result.one_or_none()
    if closed is None:
        return
    record(
        uow,
        "part.purchase_request_received",
        {
            "id": after.part_id,
            "sku": after.sku,
            "request_id": closed.id,
            "number": format_purchase_request_number(closed.number),
        },
        topics=[PARTS_TOPIC, part_topic(after.part_id)],
    )
