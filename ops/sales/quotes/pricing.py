"""Quote arithmetic: pure functions on Decimal, never float.

Every line (the vehicle, each option, accessory and fee, and the discount as a negative line) is rounded
half-up to the currency's minor unit, and so is its VAT; every total is the sum of rounded lines, so the
printed lines always add up (ops/money.py, the same rule as the workshop's invoices).

Where VAT applies (Swiss practice, MWSTG): on what the dealership supplies, i.e. the vehicle, its
options, accessories and fees, less the discount. The trade-in is the customer's car bought by the
dealership, a separate purchase: it reduces the amount the customer pays, never the VAT base. So

    net           = vehicle + options + accessories + fees - discount
    VAT           = sum of the lines' VAT (the discount line's VAT is negative)
    total         = net + VAT
    net trade-in  = allowance - payoff      (negative when the payoff exceeds the allowance: then it
                                             adds to what the customer pays)
    payable       = total - net trade-in
    financed (P)  = max(0, total - down payment - net trade-in)
    monthly       = P·r / (1 - (1 + r)^-n), r = APR / 100 / 12; P / n when APR is 0; rounded half-up

Gross margin is what the dealership earns on the vehicle as sold: the vehicle and its options less the
discount (the net selling price), minus their cost. Accessories and fees are left out on both sides:
the quote knows no cost for them (fees are passed on at cost), and counting their price as margin would
let a discount hide behind a fee.

The vehicle's cost can be unknown (None): the catalog has a cost per option but none per trim, so a
configured vehicle's cost is what the rep enters from the importer's price list. Without it there is no
margin to show or to check, and `cost_known` is False: the quote cannot pass the margin floor by
pretending the vehicle cost nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

from ops.money import HUNDRED, round_money, vat_of

LINE_KINDS = ("VEHICLE", "OPTION", "ACCESSORY", "FEE", "DISCOUNT")
MONTHS_A_YEAR = Decimal(12)


@dataclass(frozen=True)
class QuoteLine:
    kind: str
    name: str
    net: Decimal
    vat: Decimal

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat


@dataclass(frozen=True)
class QuotePrice:
    lines: list[QuoteLine]
    # The vehicle with its options: the price a discount is measured against.
    vehicle_total: Decimal
    subtotal: Decimal
    discount: Decimal
    net: Decimal
    vat: Decimal
    total: Decimal
    trade_in_net: Decimal
    payable: Decimal
    down_payment: Decimal
    amount_financed: Decimal
    apr_percent: Decimal | None
    term_months: int | None
    monthly_payment: Decimal | None
    selling_price: Decimal
    cost: Decimal
    gross_margin: Decimal
    # False while the vehicle's cost is not entered: `cost` and `gross_margin` then leave it out.
    cost_known: bool = True

    @property
    def discount_percent(self) -> Decimal:
        """The discount as a percentage of the vehicle with its options (0 for a free vehicle)."""
        if self.vehicle_total <= 0:
            return Decimal(0)
        return self.discount * HUNDRED / self.vehicle_total

    @property
    def margin_percent(self) -> Decimal | None:
        """Gross margin as a percentage of the net selling price; None when nothing is sold for money or
        the vehicle's cost is unknown."""
        if self.selling_price <= 0 or not self.cost_known:
            return None
        return self.gross_margin * HUNDRED / self.selling_price


def _line(kind: str, name: str, amount: Decimal, vat_rate_percent: Decimal, currency: str) -> QuoteLine:
    net = round_money(amount, currency)
    return QuoteLine(kind, name, net, vat_of(net, vat_rate_percent, currency))


def monthly_payment(principal: Decimal, apr_percent: Decimal, months: int, currency: str) -> Decimal:
    """The annuity that pays `principal` off in `months` equal payments, rounded half-up."""
    if months < 1:
        raise ValueError("a loan runs for at least one month")
    if principal <= 0:
        return round_money(Decimal(0), currency)
    if apr_percent == 0:
        return round_money(principal / months, currency)
    # Enough digits that (1 + r)^-n over a long term cannot move the rounded cent.
    with localcontext() as context:
        context.prec = 50
        rate = apr_percent / HUNDRED / MONTHS_A_YEAR
        payment = principal * rate / (1 - (1 + rate) ** -months)
    return round_money(payment, currency)


def price_quote(
    *,
    vehicle_price: Decimal,
    options: Sequence[tuple[str, Decimal]],
    accessories: Sequence[tuple[str, Decimal]],
    fees: Sequence[tuple[str, Decimal]],
    discount: Decimal,
    trade_in_allowance: Decimal,
    trade_in_payoff: Decimal,
    vat_rate_percent: Decimal,
    currency: str,
    down_payment: Decimal,
    apr_percent: Decimal | None,
    term_months: int | None,
    vehicle_cost: Decimal | None,
    options_cost: Decimal,
    vehicle_name: str = "",
) -> QuotePrice:
    """Every figure of a quote from its inputs (see the module docstring for the rules)."""
    lines = [_line("VEHICLE", vehicle_name, vehicle_price, vat_rate_percent, currency)]
    lines += [_line("OPTION", name, price, vat_rate_percent, currency) for name, price in options]
    lines += [_line("ACCESSORY", name, price, vat_rate_percent, currency) for name, price in accessories]
    lines += [_line("FEE", name, price, vat_rate_percent, currency) for name, price in fees]
    subtotal = sum((line.net for line in lines), round_money(Decimal(0), currency))
    rounded_discount = round_money(discount, currency)
    if rounded_discount:
        lines.append(_line("DISCOUNT", "", -rounded_discount, vat_rate_percent, currency))
    net = sum((line.net for line in lines), round_money(Decimal(0), currency))
    vat = sum((line.vat for line in lines), round_money(Decimal(0), currency))
    total = net + vat

    trade_in_net = round_money(trade_in_allowance, currency) - round_money(trade_in_payoff, currency)
    down = round_money(down_payment, currency)
    financed = max(total - down - trade_in_net, round_money(Decimal(0), currency))
    payment = None
    if apr_percent is not None and term_months is not None:
        payment = monthly_payment(financed, apr_percent, term_months, currency)

    vehicle_total = sum((line.net for line in lines if line.kind in ("VEHICLE", "OPTION")), Decimal(0))
    selling_price = vehicle_total - rounded_discount
    known_vehicle_cost = Decimal(0) if vehicle_cost is None else vehicle_cost
    cost = round_money(known_vehicle_cost, currency) + round_money(options_cost, currency)
    return QuotePrice(
        lines=lines,
        vehicle_total=vehicle_total,
        subtotal=subtotal,
        discount=rounded_discount,
        net=net,
        vat=vat,
        total=total,
        trade_in_net=trade_in_net,
        payable=total - trade_in_net,
        down_payment=down,
        amount_financed=financed,
        apr_percent=apr_percent,
        term_months=term_months,
        monthly_payment=payment,
        selling_price=selling_price,
        cost=cost,
        gross_margin=selling_price - cost,
        cost_known=vehicle_cost is not None,
    )


@dataclass(frozen=True)
class ApprovalReason:
    """One threshold a quote crosses: `kind` is "discount" or "margin"; `actual` and `limit` are percent."""

    kind: str
    actual: Decimal | None
    limit: Decimal

    @property
    def excess(self) -> Decimal | None:
        """By how many percentage points the threshold is crossed (None: no selling price at all)."""
        if self.actual is None:
            return None
        return self.actual - self.limit if self.kind == "discount" else self.limit - self.actual


def approval_reasons(
    price: QuotePrice, discount_limit_percent: Decimal, margin_floor_percent: Decimal
) -> list[ApprovalReason]:
    """Why a sales manager must approve the quote before it is sent; empty when nobody must.

    A discount exactly at the limit and a margin exactly at the floor need no approval. The comparison
    is made on exact amounts (cross-multiplied), never on rounded percentages. Without the vehicle's
    cost the margin cannot be checked at all: such a quote is refused until the cost is entered
    (ops/sales/quotes/service.py), so no reason here stands for it.
    """
    reasons = []
    if price.discount * HUNDRED > discount_limit_percent * price.vehicle_total:
        reasons.append(ApprovalReason("discount", price.discount_percent, discount_limit_percent))
    if not price.cost_known:
        return reasons
    if price.selling_price <= 0 or price.gross_margin * HUNDRED < margin_floor_percent * price.selling_price:
        reasons.append(ApprovalReason("margin", price.margin_percent, margin_floor_percent))
    return reasons


def encode_reasons(reasons: list[ApprovalReason]) -> str:
    """The reasons as stored with the request (`discount:7.50:5|margin:-:3`), free of any language, so
    every manager reads them in their own."""
    cent = Decimal("0.01")
    return "|".join(
        f"{reason.kind}:{'-' if reason.actual is None else reason.actual.quantize(cent)}:{reason.limit}"
        for reason in reasons
    )


def decode_reasons(stored: str) -> list[ApprovalReason]:
    reasons = []
    for part in stored.split("|"):
        kind, _sep, rest = part.partition(":")
        actual, _sep, limit = rest.partition(":")
        if kind not in ("discount", "margin") or not limit:
            continue
        reasons.append(ApprovalReason(kind, None if actual == "-" else Decimal(actual), Decimal(limit)))
    return reasons
