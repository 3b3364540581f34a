"""Building the job: labour and parts lines on a work order. Each use case is one transaction.

Lines may change only while the work is still open (not READY, CLOSED or CANCELLED): completion turns
them into an invoice and consumes the parts, so a line added after it would be neither billed nor
taken from stock. Each use case first takes the work order's row with a conditional UPDATE that checks
the status, so a line change and a completion of the same order queue up instead of interleaving.

Parts lines reserve stock through the parts ledger (ops.workshop.parts.service) in the same
transaction; a line asks for what the job needs and holds what was available, so "short by" is the
difference, shown on the page until stock arrives.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select, update

from ops.auth.actor import NotFound, RuleViolation
from ops.db import UnitOfWork, utcnow
from ops.events import record
from ops.i18n import gettext as _
from ops.tenants.models import Tenant
from ops.workshop.models import Part, WorkOrder, WorkOrderLine, format_work_order_number
from ops.workshop.parts.service import (
    format_quantity,
    refuse_fraction_of_counted,
    release_part,
    reserve_part,
    unit_label,
)
from ops.workshop.service import WORKSHOP_TOPIC, status_label, work_order_topic

# Hours, quantity and price the customer approved are what the invoice bills (it bills every line not
# declined, pending ones included), so a line stays as the customer answered it.
DECIDED_APPROVALS = ("APPROVED", "DECLINED")

# Once the job is ready it has been invoiced and its parts consumed; the lines are history.
LOCKED_STATUSES = ("READY", "CLOSED", "CANCELLED")
MAX_HOURS = Decimal("99.99")
# The largest amounts the columns hold (Numeric(10, 2) quantities, Numeric(12, 2) prices).
MAX_QUANTITY = Decimal("99999999.99")
MAX_PRICE = Decimal("9999999999.99")
DESCRIPTION_MAX_LENGTH = 200
CENT = Decimal("0.01")


def is_editable(status: str) -> bool:
    return status not in LOCKED_STATUSES


def _two_decimals(value: Decimal, field: str) -> Decimal:
    """The value as stored; more than two decimals is refused rather than silently rounded."""
    try:
        if not value.is_finite() or value != value.quantize(CENT):
            raise RuleViolation(_("Use at most two decimals."), field=field)
    except InvalidOperation as error:
        raise RuleViolation(_("Enter a number."), field=field) from error
    return value.quantize(CENT)


def _checked_hours(hours: Decimal, field: str = "hours") -> Decimal:
    hours = _two_decimals(hours, field)
    if hours <= 0 or hours > MAX_HOURS:
        raise RuleViolation(_("Enter hours above 0 and at most %(max)s.", max=MAX_HOURS), field=field)
    return hours


def _checked_quantity(quantity: Decimal, field: str = "quantity") -> Decimal:
    quantity = _two_decimals(quantity, field)
    if quantity <= 0 or quantity > MAX_QUANTITY:
        raise RuleViolation(_("Enter a quantity above 0."), field=field)
    return quantity


def _checked_price(price: Decimal, field: str) -> Decimal:
    price = _two_decimals(price, field)
    if price < 0 or price > MAX_PRICE:
        raise RuleViolation(_("Enter an amount of 0 or more."), field=field)
    return price


def _checked_description(description: str) -> str:
    description = description.strip()
    if not description:
        raise RuleViolation(_("This field is required."), field="description")
    if len(description) > DESCRIPTION_MAX_LENGTH:
        raise RuleViolation(
            _("Use at most %(max)s characters.", max=DESCRIPTION_MAX_LENGTH), field="description"
        )
    return description


async def _open_work_order(uow: UnitOfWork, work_order_id: int) -> WorkOrder:
    """The work order, locked for this transaction, if its lines may still change.

    Looked up before the permission check: another tenant's id is NotFound for every role.
    """
    session = uow.session
    work_order = await session.scalar(select(WorkOrder).where(WorkOrder.id == work_order_id))
    if work_order is None:
        raise NotFound(work_order_id)
    uow.actor.require("work_order.edit_lines")
    # The UPDATE takes the row lock and re-checks the status under it: a completion that got there
    # first has moved the order to READY and this change is refused; one that comes later waits.
    result = await session.execute(
        update(WorkOrder)
        .where(WorkOrder.id == work_order_id, WorkOrder.status.not_in(LOCKED_STATUSES))
        .values(updated_at=utcnow())
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        await session.refresh(work_order)
        raise RuleViolation(
            _(
                "%(number)s is %(status)s; its lines can no longer change.",
                number=work_order.code,
                status=status_label(work_order.status),
            ),
            field="__all__",
        )
    return work_order


async def _next_position(uow: UnitOfWork, work_order_id: int) -> int:
    last = await uow.session.scalar(
        select(func.max(WorkOrderLine.position)).where(WorkOrderLine.work_order_id == work_order_id)
    )
    return int(last or 0) + 1


def _record_line_event(uow: UnitOfWork, type_: str, work_order: WorkOrder, line: WorkOrderLine) -> None:
    record(
        uow,
        type_,
        {
            "id": work_order.id,
            "number": format_work_order_number(work_order.number),
            "line_id": line.id,
            "kind": line.kind,
            "description": line.description,
            "quantity": str(line.quantity),
            "unit_price": str(line.unit_price),
            "reserved_quantity": str(line.reserved_quantity),
        },
        topics=[WORKSHOP_TOPIC, work_order_topic(work_order.id)],
    )


async def add_labour_line(
    uow: UnitOfWork, work_order_id: int, description: str, hours: Decimal, rate: Decimal | None = None
) -> WorkOrderLine:
    """An operation with its estimated hours at `rate`, by default the dealership's labour rate."""
    work_order = await _open_work_order(uow, work_order_id)
    description = _checked_description(description)
    hours = _checked_hours(hours)
    if rate is None:
        tenant = await uow.session.get(Tenant, uow.actor.tenant_id)
        assert tenant is not None
        rate = tenant.labour_rate
    rate = _checked_price(rate, "rate")
    line = WorkOrderLine(
        work_order_id=work_order.id,
        kind="LABOUR",
        description=description,
        quantity=hours,
        unit_price=rate,
        reserved_quantity=Decimal("0"),
        approval="PENDING",
        position=await _next_position(uow, work_order.id),
    )
    uow.session.add(line)
    await uow.session.flush()
    _record_line_event(uow, "work_order.line_added", work_order, line)
    await uow.commit()
    return line


async def add_part_line(
    uow: UnitOfWork,
    work_order_id: int,
    part_id: int,
    quantity: Decimal,
    unit_price: Decimal | None = None,
    *,
    short_ok: bool = True,
) -> WorkOrderLine:
    """A part from stock; reserves what is available now (possibly less than asked, possibly none).
    With `short_ok` false, asking for more than is available is refused (field `short_ok`), so the
    person confirms it: a slip of the finger (999 for 9) would otherwise wait for parts nobody needs."""
    work_order = await _open_work_order(uow, work_order_id)
    quantity = _checked_quantity(quantity)
    part = await uow.session.scalar(select(Part).where(Part.id == part_id))
    if part is None:
        raise RuleViolation(_("Choose a part from stock."), field="part_id")
    refuse_fraction_of_counted(quantity, part.unit)
    available = max(part.on_hand - part.reserved, Decimal(0))
    if not short_ok and quantity > available:
        raise RuleViolation(
            _(
                "Only %(available)s %(unit)s in stock, %(short)s %(unit)s short of %(quantity)s. Check the "
                "quantity, or add it anyway and the job waits for the rest.",
                available=format_quantity(available),
                short=format_quantity(quantity - available),
                quantity=format_quantity(quantity),
                unit=unit_label(part.unit),
            ),
            field="short_ok",
        )
    unit_price = _checked_price(part.price if unit_price is None else unit_price, "unit_price")
    # Reserve before the line exists: inserting a row that references the part takes a share lock on
    # it, and two jobs holding that while both wait for the part's row lock would deadlock.
    reserved = await reserve_part(uow, part.id, quantity, work_order.id)
    line = WorkOrderLine(
        work_order_id=work_order.id,
        kind="PART",
        description=part.name,
        part_id=part.id,
        quantity=quantity,
        unit_price=unit_price,
        reserved_quantity=reserved,
        approval="PENDING",
        position=await _next_position(uow, work_order.id),
    )
    uow.session.add(line)
    await uow.session.flush()
    _record_line_event(uow, "work_order.line_added", work_order, line)
    await uow.commit()
    return line


async def _line_of_open_order(
    uow: UnitOfWork, line_id: int, work_order_id: int | None
) -> tuple[WorkOrder, WorkOrderLine]:
    line = await uow.session.scalar(select(WorkOrderLine).where(WorkOrderLine.id == line_id))
    if line is None or (work_order_id is not None and line.work_order_id != work_order_id):
        raise NotFound(line_id)
    work_order = await _open_work_order(uow, line.work_order_id)
    return work_order, line


async def remove_line(uow: UnitOfWork, line_id: int, *, work_order_id: int | None = None) -> WorkOrder:
    """Take a line off the job; a part line gives its reserved stock back. Returns the work order.

    With `work_order_id` (the page the request came from) a line of another order is NotFound."""
    work_order, line = await _line_of_open_order(uow, line_id, work_order_id)
    if line.part_id is not None and line.reserved_quantity > 0:
        await release_part(
            uow,
            line.part_id,
            line.reserved_quantity,
            work_order.id,
            _("Line removed from %(number)s", number=work_order.code),
        )
    _record_line_event(uow, "work_order.line_removed", work_order, line)
    await uow.session.delete(line)
    await uow.commit()
    return work_order


async def change_line_quantity(
    uow: UnitOfWork, line_id: int, quantity: Decimal, *, work_order_id: int | None = None
) -> WorkOrderLine:
    """New hours for a labour line or a new quantity for a part line, reserving or releasing the
    difference: more asks the stock for the extra; less gives back what the line no longer needs.

    A line the customer has answered is refused: back at PENDING it would be billed at the new figure
    without the customer's approval. More work is a new line, sent in a new estimate."""
    work_order, line = await _line_of_open_order(uow, line_id, work_order_id)
    if line.approval in DECIDED_APPROVALS:
        raise RuleViolation(
            _(
                "The customer has answered the estimate for %(line)s, so it stays as they approved or "
                "declined it. For more or other work, add a new line and send the estimate for it.",
                line=line.description,
            ),
            field="quantity",
        )
    if line.kind == "LABOUR":
        quantity = _checked_hours(quantity, field="quantity")
    else:
        quantity = _checked_quantity(quantity)
    if line.part_id is not None:
        refuse_fraction_of_counted(
            quantity, await uow.session.scalar(select(Part.unit).where(Part.id == line.part_id))
        )
        if quantity > line.reserved_quantity:
            line.reserved_quantity += await reserve_part(
                uow, line.part_id, quantity - line.reserved_quantity, work_order.id
            )
        elif quantity < line.reserved_quantity:
            await release_part(
                uow,
                line.part_id,
                line.reserved_quantity - quantity,
                work_order.id,
                _("Quantity lowered on %(number)s", number=work_order.code),
            )
            line.reserved_quantity = quantity
    line.quantity = quantity
    await uow.session.flush()
    _record_line_event(uow, "work_order.line_changed", work_order, line)
    await uow.commit()
    return line
