"""Deal use cases: from an accepted quote to the car handed over, or to a cancelled sale. The only code
that changes deals and their payments.

A deal moves OPEN -> DEPOSIT_PAID -> (FINANCING_APPROVED when financed) -> READY_FOR_DELIVERY ->
DELIVERED; it can be CANCELLED at any point before delivery. Rules decided by the database, not by a
read followed by a write:
- one deal per quote: `deals.quote_id` is unique, and the quote's row is locked while its deal is made,
  so of two reps turning the same quote into a deal exactly one wins and the other is told which deal
  it became;
- the unit goes to the deal through ops/sales/stock's `mark_unit_sold` (one conditional UPDATE), so a
  unit in a deal cannot be held, test-driven or sold again;
- every status change is one UPDATE guarded by the version the change was decided on: two clicks (or
  two people) move a deal once, and a stale page gets a Conflict (409) with the deal as it is now.

A deposit is recorded by hand (method MANUAL: cash, card terminal, bank transfer) or arrives through
the payment provider (method CARD, ops/payments: `take_card_deposit` inside the transaction of the
provider's event). Cancelling refunds a manual deposit at the desk and owes a card deposit back through
the provider: a pending refund is written in the cancelling transaction and sent after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from ops.auth.actor import Conflict, NotFound, RuleViolation
from ops.db import UnitOfWork, utcnow
from ops.events import record
from ops.i18n import N_, format_money
from ops.i18n import gettext as _
from ops.notices import notice_payload, user_topic
from ops.payments import service as payments  # a module import: the two services use each other
from ops.sales.leads.service import move_lead
from ops.sales.models import CatalogTrim, Deal, DealPayment, Lead, Quote, Reservation, StockUnit
from ops.sales.stock.service import keep_hold, mark_unit_delivered, mark_unit_sold, release_unit

# The tenant's gap-free counters: the workshop's numbering is the one sequence helper there is.
from ops.tenants.service import next_number
from ops.vehicles.service import HandedOverCar, Vehicle, vehicle_for_buyer

SALES_TOPIC = "sales"
KPI_TOPIC = "kpi"
# Without a down payment on the quote, the deposit asked for is this share of the total, in whole
# currency units (the customer pays CHF 3,989, not CHF 3,988.89).
DEPOSIT_SHARE = Decimal("0.10")
MAX_REFERENCE = 120
MAX_REASON = 200
OPEN_STATUSES = ("OPEN", "DEPOSIT_PAID", "FINANCING_APPROVED", "READY_FOR_DELIVERY")


def deal_status_label(status: str) -> str:
    labels = {
        "OPEN": _("Open"),
        "DEPOSIT_PAID": _("Deposit paid"),
        "FINANCING_APPROVED": _("Financing approved"),
        "READY_FOR_DELIVERY": _("Ready for delivery"),
        "DELIVERED": _("Delivered"),
        "CANCELLED": _("Cancelled"),
    }
    return labels.get(status, status)


def format_deal_number(number: int) -> str:
    return f"D-{number:06d}"


# --- Refusals that name what is in the way -------------------------------------------------------------


class DealExists(RuleViolation):
    """The quote already became a deal; the message names it."""

    def __init__(self, deal_id: int, number: int) -> None:
        super().__init__(
            _("This quote is already deal %(deal)s.", deal=format_deal_number(number)), field="quote_id"
        )
        self.deal_id = deal_id
        self.deal_code = format_deal_number(number)


def _wrong_status(deal: Deal, action: str) -> RuleViolation:
    return RuleViolation(
        _(
            "Deal %(deal)s is %(status)s, so it cannot be %(action)s.",
            deal=deal.code,
            status=deal_status_label(deal.status).lower(),
            action=action,
        ),
        field="status",
    )


# --- Reading and writing one deal ----------------------------------------------------------------------


async def _deal(uow: UnitOfWork, deal_id: int, permission: str) -> Deal:
    """The deal a change is about: 404 for another tenant's (before the permission check, so never 403)."""
    deal = (
        await uow.session.execute(
            select(Deal).where(Deal.id == deal_id).execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if deal is None:
        raise NotFound(deal_id)
    uow.actor.require(permission)
    return deal


def _stale(uow: UnitOfWork, deal: Deal) -> Conflict:
    """A Conflict carrying the deal as it is now, detached so that the rollback leaves it readable."""
    uow.session.expunge(deal)
    return Conflict(_("This deal was changed by someone else in the meantime."), current=deal)


def _check_version(uow: UnitOfWork, deal: Deal, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != deal.version:
        raise _stale(uow, deal)


async def _write(uow: UnitOfWork, deal: Deal, **values: Any) -> None:
    """One UPDATE guarded by the version the change was decided on; the loser of two writers matches
    no row and is told so."""
    written = (
        await uow.session.execute(
            update(Deal)
            .where(Deal.id == deal.id, Deal.version == deal.version)
            .values(**values, version=deal.version + 1)
            .returning(Deal.id)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if written is None:
        await uow.session.refresh(deal)
        raise _stale(uow, deal)
    await uow.session.refresh(deal)


def _topics(deal: Deal) -> list[str]:
    topics = [SALES_TOPIC, f"customer:{deal.customer_id}"]
    if deal.rep_id is not None:
        topics.append(user_topic(deal.rep_id))
    topics.append(KPI_TOPIC)
    return topics


def _payload(deal: Deal, **extra: Any) -> dict[str, Any]:
    return {
        "deal_id": deal.id,
        "number": deal.number,
        "customer_id": deal.customer_id,
        "unit_id": deal.stock_unit_id,
        "rep_id": deal.rep_id,
        "status": deal.status,
        "version": deal.version,
        **extra,
    }


def _tell_the_rep(uow: UnitOfWork, deal: Deal, payload: dict[str, Any], message: str, **values: Any) -> None:
    """When someone else acts on a rep's deal, the rep hears it at once (a toast on their pages)."""
    if deal.rep_id is not None and deal.rep_id != uow.actor.user_id:
        payload |= notice_payload(message, who=uow.actor.name, deal=deal.code, **values)


# --- Creating a deal -----------------------------------------------------------------------------------


def deposit_due_for(quote: Quote) -> Decimal:
    """The quote's down payment, or else a tenth of its total in whole currency units."""
    if quote.down_payment > 0:
        return quote.down_payment
    return (quote.total * DEPOSIT_SHARE).quantize(Decimal("1"), rounding=ROUND_HALF_UP)


def is_financed(quote: Quote) -> bool:
    return quote.amount_financed > 0 and bool(quote.term_months)


async def create_deal(uow: UnitOfWork, quote_id: int) -> Deal:
    """Turn an accepted quote into a deal: number D-000001 on, the quote's unit sold to it, the lead won."""
    actor = uow.actor
    quote = (
        await uow.session.execute(
            select(Quote)
            .where(Quote.id == quote_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if quote is None:
        raise NotFound(quote_id)
    actor.require("deal.edit")
    existing = (
        await uow.session.execute(select(Deal.id, Deal.number).where(Deal.quote_id == quote.id))
    ).one_or_none()
    if existing is not None:
        raise DealExists(existing.id, existing.number)
    if quote.status != "ACCEPTED":
        raise RuleViolation(
            _(
                "Only a quote the customer accepted becomes a deal; %(quote)s is not accepted.",
                quote=quote.code,
            ),
            field="quote_id",
        )
    if quote.stock_unit_id is None and quote.trim_id is None:
        raise RuleViolation(
            _("%(quote)s names no car: neither a stock unit nor a configured trim.", quote=quote.code),
            field="quote_id",
        )
    lead = (
        await uow.session.execute(
            select(Lead).where(Lead.id == quote.lead_id).execution_options(populate_existing=True)
        )
    ).scalar_one()
    if lead.stage == "LOST":
        raise RuleViolation(
            _(
                "The lead of %(quote)s was closed as lost; capture a new lead for the customer.",
                quote=quote.code,
            ),
            field="quote_id",
        )
    now = utcnow()
    deal = Deal(
        number=await next_number(uow, "deal"),
        quote_id=quote.id,
        lead_id=lead.id,
        customer_id=quote.customer_id,
        stock_unit_id=quote.stock_unit_id,
        rep_id=lead.owner_id or quote.created_by_id or actor.user_id,
        status="OPEN",
        total=quote.total,
        gross_profit=quote.gross_margin,
        deposit_due=deposit_due_for(quote),
        financed=is_financed(quote),
        version=1,
        created_at=now,
    )
    try:
        async with uow.session.begin_nested():
            uow.session.add(deal)
    except IntegrityError:
        # Another rep made the deal a moment ago (the unique quote_id decided it).
        existing = (
            await uow.session.execute(select(Deal.id, Deal.number).where(Deal.quote_id == quote.id))
        ).one()
        raise DealExists(existing.id, existing.number) from None
    if quote.stock_unit_id is not None:
        await mark_unit_sold(uow, quote.stock_unit_id, deal.id)
    # A configured (factory) order has no car yet: one of its trim is assigned when it arrives.
    record(uow, "deal.created", _payload(deal, quote_id=quote.id, total=str(deal.total)), _topics(deal))
    if lead.stage != "WON":
        # The lead's own move (history, event) commits the whole deal with it: one transaction.
        await move_lead(uow, lead.id, "WON", lead.version)
    else:
        await uow.commit()
    return deal


# --- Money -----------------------------------------------------------------------------------------------


def parse_amount(text: str | Decimal | None) -> Decimal | None:
    """An amount as people type it (1'234.50, 1234,5); None when it is not a number."""
    if isinstance(text, Decimal):
        return text if text.is_finite() else None
    cleaned = (text or "").strip().replace("'", "").replace("\u2019", "").replace(" ", "")
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


async def _paid_in(uow: UnitOfWork, deal_id: int) -> dict[str, Decimal]:
    """Per method (MANUAL, CARD): deposits taken minus what was refunded already."""
    rows = await uow.session.execute(
        select(DealPayment.method, DealPayment.kind, func.sum(DealPayment.amount))
        .where(DealPayment.deal_id == deal_id)
        .group_by(DealPayment.method, DealPayment.kind)
    )
    held: dict[str, Decimal] = {}
    for method, kind, amount in rows:
        value = Decimal(str(amount or 0))
        held[method] = held.get(method, Decimal(0)) + (value if kind == "DEPOSIT" else -value)
    return held


async def _hold_of(uow: UnitOfWork, deal: Deal) -> int | None:
    """The lead's hold on the deal's unit, if the unit was held before it was sold."""
    return await uow.session.scalar(
        select(Reservation.id)
        .where(
            Reservation.stock_unit_id == deal.stock_unit_id,
            Reservation.lead_id == deal.lead_id,
            Reservation.status.in_(("ACTIVE", "CONVERTED")),
        )
        .order_by(Reservation.id.desc())
        .limit(1)
    )


async def record_deposit(
    uow: UnitOfWork,
    deal_id: int,
    amount: Decimal | str | None,
    reference: str,
    *,
    expected_version: int | None = None,
) -> DealPayment:
    """The customer paid the deposit (recorded by hand: cash, card terminal, bank transfer); the unit's
    hold no longer expires."""
    deal = await _deal(uow, deal_id, "deal.edit")
    _check_version(uow, deal, expected_version)
    if deal.status != "OPEN":
        raise _wrong_status(deal, _("given a deposit"))
    value = parse_amount(amount) if amount is not None else None
    if value is None:
        raise RuleViolation(_("Enter the amount received."), field="amount")
    if value != value.quantize(Decimal("0.01")):
        raise RuleViolation(_("Use at most two decimal places."), field="amount")
    if value <= 0:
        raise RuleViolation(_("Enter an amount above zero."), field="amount")
    if value < deal.deposit_due:
        raise RuleViolation(
            _("The deposit due is %(due)s; record at least that.", due=format_money(deal.deposit_due)),
            field="amount",
        )
    if value > deal.total:
        raise RuleViolation(
            _("That is more than the deal's total of %(total)s.", total=format_money(deal.total)),
            field="amount",
        )
    text = (reference or "").strip()
    if not text:
        raise RuleViolation(_("Enter the payment's reference (receipt or transfer)."), field="reference")
    if len(text) > MAX_REFERENCE:
        raise RuleViolation(_("Use at most %(max)s characters.", max=MAX_REFERENCE), field="reference")
    payment = await _book_deposit(
        uow, deal, value, "MANUAL", text, N_("%(who)s recorded the deposit of %(amount)s on %(deal)s.")
    )
    await uow.commit()
    return payment


async def _book_deposit(
    uow: UnitOfWork, deal: Deal, value: Decimal, method: str, reference: str, notice: str
) -> DealPayment:
    """The deposit's row, the unit's hold kept, the deal DEPOSIT_PAID and its event; no commit."""
    payment = DealPayment(
        deal_id=deal.id,
        kind="DEPOSIT",
        amount=value,
        method=method,
        reference=reference[:MAX_REFERENCE],
        recorded_by_id=uow.actor.user_id,
        at=utcnow(),
    )
    uow.session.add(payment)
    await uow.session.flush()
    hold = await _hold_of(uow, deal)
    if hold is not None:
        await keep_hold(uow, hold)
    await _write(uow, deal, status="DEPOSIT_PAID")
    payload = _payload(deal, payment_id=payment.id, amount=str(value), method=method)
    _tell_the_rep(uow, deal, payload, notice, amount=format_money(value))
    record(uow, "deal.deposit_recorded", payload, _topics(deal))
    return payment


async def take_card_deposit(
    uow: UnitOfWork, deal_id: int, amount: Decimal, intent_id: str
) -> DealPayment | None:
    """The provider reports the card deposit paid: the deal becomes DEPOSIT_PAID in the caller's
    transaction (the provider event's). None when the deal no longer takes a deposit (paid by hand
    meanwhile, or cancelled): the caller owes the money back."""
    deal = await _deal(uow, deal_id, "deal.edit")
    if deal.status != "OPEN":
        return None
    return await _book_deposit(
        uow, deal, amount, "CARD", intent_id, N_("The card deposit of %(amount)s on %(deal)s was paid.")
    )


async def record_card_refund(uow: UnitOfWork, deal_id: int, amount: Decimal, reference: str) -> DealPayment:
    """Money given back through the provider outside a cancellation (a refund made in Stripe's
    dashboard); in the caller's transaction."""
    deal = await _deal(uow, deal_id, "deal.edit")
    payment = DealPayment(
        deal_id=deal.id,
        kind="REFUND",
        amount=amount,
        method="CARD",
        reference=reference[:MAX_REFERENCE],
        recorded_by_id=uow.actor.user_id,
        at=utcnow(),
    )
    uow.session.add(payment)
    await uow.session.flush()
    return payment


# --- Financing and delivery ------------------------------------------------------------------------------


def _ready_for_delivery(deal: Deal) -> bool:
    """Paid (and, when financed, the financing approved): the car may be prepared and handed over."""
    return deal.status == ("FINANCING_APPROVED" if deal.financed else "DEPOSIT_PAID")


async def approve_financing(uow: UnitOfWork, deal_id: int, *, expected_version: int | None = None) -> Deal:
    """The lender approved the loan of a financed deal."""
    deal = await _deal(uow, deal_id, "deal.edit")
    _check_version(uow, deal, expected_version)
    if not deal.financed:
        raise RuleViolation(
            _("This deal is paid without financing; there is nothing to approve."), field="status"
        )
    if deal.status != "DEPOSIT_PAID":
        if deal.status == "OPEN":
            raise RuleViolation(_("Record the deposit first."), field="status")
        raise _wrong_status(deal, _("approved for financing"))
    await _write(uow, deal, status="FINANCING_APPROVED")
    record(uow, "deal.financing_approved", _payload(deal), _topics(deal))
    await uow.commit()
    return deal


def _require_car(deal: Deal) -> None:
    if deal.stock_unit_id is None:
        raise RuleViolation(
            _("Assign the car first: this deal was made on a configured order."), field="stock_unit_id"
        )


async def assign_unit(
    uow: UnitOfWork, deal_id: int, unit_id: int, *, expected_version: int | None = None
) -> Deal:
    """The car of a configured order: a stock unit of the quoted trim, free or held for this deal's
    lead, becomes the deal's (sold to it, as a unit quote's car is when the deal is made)."""
    deal = await _deal(uow, deal_id, "deal.edit")
    _check_version(uow, deal, expected_version)
    if deal.status not in OPEN_STATUSES:
        raise _wrong_status(deal, _("given a car"))
    if deal.stock_unit_id is not None:
        raise RuleViolation(_("This deal has its car already."), field="stock_unit_id")
    trim_id = await uow.session.scalar(select(Quote.trim_id).where(Quote.id == deal.quote_id))
    unit_trim = await uow.session.scalar(select(StockUnit.trim_id).where(StockUnit.id == unit_id))
    if unit_trim is None:
        raise NotFound(unit_id)
    if unit_trim != trim_id:
        raise RuleViolation(
            _("This unit is another model or trim than the one the customer ordered."), field="stock_unit_id"
        )
    await mark_unit_sold(uow, unit_id, deal.id)
    await _write(uow, deal, stock_unit_id=unit_id)
    record(uow, "deal.unit_assigned", _payload(deal), _topics(deal))
    await uow.commit()
    return deal


def _refuse_not_ready(deal: Deal, action: str) -> None:
    if deal.status == "OPEN":
        raise RuleViolation(_("Record the deposit first."), field="status")
    if deal.status == "DEPOSIT_PAID" and deal.financed:
        raise RuleViolation(_("The financing is not approved yet."), field="status")
    raise _wrong_status(deal, action)


async def mark_ready_for_delivery(
    uow: UnitOfWork, deal_id: int, *, expected_version: int | None = None
) -> Deal:
    """Paid (and financed): the car is being prepared for the customer."""
    deal = await _deal(uow, deal_id, "deal.edit")
    _check_version(uow, deal, expected_version)
    if not _ready_for_delivery(deal):
        _refuse_not_ready(deal, _("made ready for delivery"))
    _require_car(deal)
    await _write(uow, deal, status="READY_FOR_DELIVERY")
    record(uow, "deal.ready_for_delivery", _payload(deal), _topics(deal))
    await uow.commit()
    return deal


async def schedule_delivery(
    uow: UnitOfWork, deal_id: int, when: datetime | None, *, expected_version: int | None = None
) -> Deal:
    """Book the hand-over; a paid deal becomes ready for delivery with it, a ready one is rebooked."""
    deal = await _deal(uow, deal_id, "deal.edit")
    _check_version(uow, deal, expected_version)
    if deal.status != "READY_FOR_DELIVERY" and not _ready_for_delivery(deal):
        _refuse_not_ready(deal, _("scheduled for delivery"))
    _require_car(deal)
    if when is None:
        raise RuleViolation(_("Enter the day and time of the hand-over."), field="delivery_at")
    if when.tzinfo is None:
        raise ValueError("naive delivery time")
    if when <= utcnow():
        raise RuleViolation(_("Choose a time that has not passed."), field="delivery_at")
    if deal.status == "READY_FOR_DELIVERY" and deal.delivery_scheduled_at == when:
        return deal  # booked for that time already: nothing changes, nothing goes in the history
    await _write(uow, deal, status="READY_FOR_DELIVERY", delivery_scheduled_at=when)
    record(uow, "deal.delivery_scheduled", _payload(deal, delivery_at=when.isoformat()), _topics(deal))
    await uow.commit()
    return deal


@dataclass(frozen=True)
class Delivery:
    deal: Deal
    vehicle: Vehicle
    # True when the car was already known by its VIN (a trade-in resold, a car serviced before).
    linked: bool


async def _buyers_vehicle(uow: UnitOfWork, deal: Deal, unit: StockUnit) -> tuple[Vehicle, bool]:
    """The buyer's vehicle profile for the unit (ops/vehicles/service.py: known by its VIN, or new)."""
    trim = (await uow.session.execute(select(CatalogTrim).where(CatalogTrim.id == unit.trim_id))).scalar_one()
    car = HandedOverCar(
        vin=unit.vin,
        make=trim.make,
        model=trim.model,
        year=trim.year,
        fuel_type=trim.fuel_type,
        colour=unit.colour or None,
        odometer_km=unit.mileage_km,
    )
    return await vehicle_for_buyer(uow, car, deal.customer_id, utcnow().date())


async def complete_delivery(
    uow: UnitOfWork, deal_id: int, *, expected_version: int | None = None
) -> Delivery:
    """The customer drives the car away: the unit is delivered and the buyer has its vehicle profile."""
    deal = await _deal(uow, deal_id, "deal.edit")
    _check_version(uow, deal, expected_version)
    if deal.status != "READY_FOR_DELIVERY":
        if _ready_for_delivery(deal):
            raise RuleViolation(
                _("Mark the deal ready for delivery (or schedule the hand-over) first."), field="status"
            )
        _refuse_not_ready(deal, _("delivered"))
    _require_car(deal)
    assert deal.stock_unit_id is not None
    unit = await mark_unit_delivered(uow, deal.stock_unit_id)
    vehicle, linked = await _buyers_vehicle(uow, deal, unit)
    await _write(uow, deal, status="DELIVERED", delivered_at=utcnow(), vehicle_id=vehicle.id)
    record(
        uow,
        "deal.delivered",
        _payload(deal, vehicle_id=vehicle.id, vin=vehicle.vin, vehicle_linked=linked),
        _topics(deal),
    )
    await uow.commit()
    return Delivery(deal, vehicle, linked)


# --- Cancelling --------------------------------------------------------------------------------------------


async def cancel_deal(
    uow: UnitOfWork, deal_id: int, reason: str, *, expected_version: int | None = None
) -> Deal:
    """Call the sale off before delivery: the unit goes back to stock and the deposit is refunded in full."""
    deal = await _deal(uow, deal_id, "deal.cancel")
    _check_version(uow, deal, expected_version)
    if deal.status not in OPEN_STATUSES:
        raise _wrong_status(deal, _("cancelled"))
    text = (reason or "").strip()
    if not text:
        raise RuleViolation(_("Say why the deal is cancelled."), field="reason")
    if len(text) > MAX_REASON:
        raise RuleViolation(_("Use at most %(max)s characters.", max=MAX_REASON), field="reason")
    if deal.stock_unit_id is not None:
        await release_unit(uow, deal.stock_unit_id)
    held = await _paid_in(uow, deal.id)
    now = utcnow()
    for method, amount in sorted(held.items()):
        if amount <= 0:
            continue
        if method == "CARD":
            await payments.owe_deposit_refunds(uow, deal.id, text)
        uow.session.add(
            DealPayment(
                deal_id=deal.id,
                kind="REFUND",
                amount=amount,
                method=method,
                reference=_("Refund of the deposit of %(deal)s", deal=deal.code)[:MAX_REFERENCE],
                recorded_by_id=uow.actor.user_id,
                at=now,
                note=text,
            )
        )
    refund = sum((amount for amount in held.values() if amount > 0), Decimal(0))
    await _write(uow, deal, status="CANCELLED", cancelled_at=now, cancel_reason=text)
    payload = _payload(deal, reason=text, refund=str(refund))
    _tell_the_rep(uow, deal, payload, N_("%(who)s cancelled %(deal)s: %(reason)s"), reason=text)
    record(uow, "deal.cancelled", payload, _topics(deal))
    await uow.commit()
    return deal
