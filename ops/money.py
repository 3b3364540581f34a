"""Money: Decimal end to end, rounded half-up to the currency's minor unit at each line.

A line's net amount is quantity x unit price, rounded; its VAT is the rounded net x the rate, rounded
again at the line; totals are sums of rounded lines, so the printed lines always add up to the total.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import get_currency_precision

HUNDRED = Decimal(100)


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of a currency: 0.01 for CHF, 1 for JPY."""
    return Decimal(1).scaleb(-get_currency_precision(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be Decimal, not {type(amount).__name__}")
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def line_net(quantity: Decimal, unit_price: Decimal, currency: str) -> Decimal:
    return round_money(quantity * unit_price, currency)


def vat_of(net: Decimal, vat_rate_percent: Decimal, currency: str) -> Decimal:
    return round_money(net * vat_rate_percent / HUNDRED, currency)


@dataclass(frozen=True)
class PricedLine:
    kind: str  # LABOUR | PART
    quantity: Decimal
    unit_price: Decimal


@dataclass(frozen=True)
class Totals:
    labour: Decimal
    parts: Decimal
    net: Decimal
    vat: Decimal
    total: Decimal


def totals(lines: Iterable[PricedLine], vat_rate_percent: Decimal, currency: str) -> Totals:
    """Labour and parts net, VAT and the total of the given (already chosen) lines."""
    zero = round_money(Decimal(0), currency)
    labour = parts = vat = zero
    for line in lines:
        net = line_net(line.quantity, line.unit_price, currency)
        if line.kind == "LABOUR":
            labour += net
        else:
            parts += net
        vat += vat_of(net, vat_rate_percent, currency)
    net_total = labour + parts
    return Totals(labour=labour, parts=parts, net=net_total, vat=vat, total=net_total + vat)
