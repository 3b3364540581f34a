"""Quote arithmetic: exact figures a customer would check by hand, and properties over many inputs."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ops.sales.quotes.pricing import (
    ApprovalReason,
    approval_reasons,
    decode_reasons,
    encode_reasons,
    monthly_payment,
    price_quote,
)

CENT = Decimal("0.01")


def _price(**overrides):  # type: ignore[no-untyped-def]
    values = {
        "vehicle_price": Decimal("38500.00"),
        "options": [("Metallic paint", Decimal("950.00")), ("Winter wheels", Decimal("1890.00"))],
        "accessories": [("Floor mats", Decimal("189.90"))],
        "fees": [("Delivery and registration", Decimal("450.00"))],
        "discount": Decimal("1500.00"),
        "trade_in_allowance": Decimal("0"),
        "trade_in_payoff": Decimal("0"),
        "vat_rate_percent": Decimal("8.1"),
        "currency": "CHF",
        "down_payment": Decimal("0"),
        "apr_percent": None,
        "term_months": None,
        "vehicle_cost": Decimal("33000.00"),
        "options_cost": Decimal("1900.00"),
    }
    values.update(overrides)
    return price_quote(**values)


def _vat(net: str) -> Decimal:
    return (Decimal(net) * Decimal("0.081")).quantize(CENT, rounding=ROUND_HALF_UP)


def test_a_swiss_quote_with_a_discount_adds_vat_line_by_line():
    price = _price()

    # VAT 8.1 % on each line, rounded half-up at the line: 3118.50, 76.95, 153.09, 15.38 (15.3819),
    # 36.45, and -121.50 on the discount.
    assert [line.vat for line in price.lines] == [
        Decimal("3118.50"),
        Decimal("76.95"),
        Decimal("153.09"),
        Decimal("15.38"),
        Decimal("36.45"),
        Decimal("-121.50"),
    ]
    assert [line.kind for line in price.lines] == [
        "VEHICLE",
        "OPTION",
        "OPTION",
        "ACCESSORY",
        "FEE",
        "DISCOUNT",
    ]
    assert price.subtotal == Decimal("41979.90")
    assert price.discount == Decimal("1500.00")
    assert price.net == Decimal("40479.90")
    assert price.vat == Decimal("3278.87")
    assert price.total == Decimal("43758.77")
    # No trade-in, no down payment: everything is financed (or paid in cash).
    assert price.amount_financed == price.total == price.payable
    assert price.monthly_payment is None
    # Margin on the vehicle as sold: 38500 + 950 + 1890 - 1500 = 39840 against 34900 of cost.
    assert price.selling_price == Decimal("39840.00")
    assert price.gross_margin == Decimal("4940.00")
    assert price.discount_percent == Decimal("1500") * 100 / Decimal("41340")


def test_rounding_at_the_line_differs_from_rounding_the_sum():
    # Three lines of 0.05: each line's VAT 0.00405 rounds to 0.00, so the printed VAT is 0.00; VAT on
    # the sum (0.15 -> 0.01215) would print 0.01 that no line shows.
    price = _price(
        vehicle_price=Decimal("0.05"),
        options=[("a", Decimal("0.05")), ("b", Decimal("0.05"))],
        accessories=[],
        fees=[],
        discount=Decimal("0"),
    )
    assert price.vat == Decimal("0.00")
    assert price.total == Decimal("0.15")


def test_a_trade_in_reduces_what_is_paid_not_the_vat():
    without = _price()
    price = _price(trade_in_allowance=Decimal("12000.00"), trade_in_payoff=Decimal("4000.00"))

    assert price.vat == without.vat
    assert price.total == without.total
    assert price.trade_in_net == Decimal("8000.00")
    assert price.payable == Decimal("35758.77")
    assert price.amount_financed == Decimal("35758.77")


def test_a_payoff_above_the_allowance_adds_to_what_is_paid():
    price = _price(
        trade_in_allowance=Decimal("8000.00"),
        trade_in_payoff=Decimal("9500.00"),
        down_payment=Decimal("5000.00"),
    )

    assert price.trade_in_net == Decimal("-1500.00")
    assert price.payable == Decimal("45258.77")
    # 43758.77 - 5000.00 - (-1500.00)
    assert price.amount_financed == Decimal("40258.77")


def test_interest_free_financing_is_the_amount_over_the_months():
    price = _price(
        trade_in_allowance=Decimal("8000.00"),
        trade_in_payoff=Decimal("9500.00"),
        down_payment=Decimal("5000.00"),
        apr_percent=Decimal("0"),
        term_months=48,
    )

    # 40258.77 / 48 = 838.724375 -> 838.72
    assert price.monthly_payment == Decimal("838.72")


def test_financing_at_3_9_percent_over_48_months_is_the_annuity():
    price = _price(
        trade_in_allowance=Decimal("8000.00"),
        trade_in_payoff=Decimal("9500.00"),
        down_payment=Decimal("5000.00"),
        apr_percent=Decimal("3.9"),
        term_months=48,
    )

    principal = Decimal("40258.77")
    with localcontext() as context:
        context.prec = 40
        rate = Decimal("3.9") / 100 / 12  # 0.00325 a month
        by_hand = principal * rate / (1 - (1 + rate) ** -48)
    assert by_hand.quantize(CENT, rounding=ROUND_HALF_UP) == Decimal("907.20")
    assert price.monthly_payment == Decimal("907.20")
    # The figure a bank's calculator shows for 30,000 at 3.9 % over 48 months.
    assert monthly_payment(Decimal("30000"), Decimal("3.9"), 48, "CHF") == Decimal("676.03")


def test_a_down_payment_above_the_total_finances_nothing():
    price = _price(down_payment=Decimal("50000.00"), apr_percent=Decimal("3.9"), term_months=24)

    assert price.amount_financed == Decimal("0.00")
    assert price.monthly_payment == Decimal("0.00")


def test_a_term_of_no_months_is_refused():
    with pytest.raises(ValueError):
        monthly_payment(Decimal("1000"), Decimal("1"), 0, "CHF")


def test_money_must_be_decimal():
    with pytest.raises(TypeError):
        _price(discount=1500.0)


# --- Approval thresholds ----------------------------------------------------------------------------


def _plain(vehicle: str, discount: str, cost: str):  # type: ignore[no-untyped-def]
    return _price(
        vehicle_price=Decimal(vehicle),
        options=[],
        accessories=[],
        fees=[],
        discount=Decimal(discount),
        vehicle_cost=Decimal(cost),
        options_cost=Decimal("0"),
    )


def test_a_discount_at_the_limit_needs_no_approval_and_a_cent_more_does():
    at_limit = _plain("40000.00", "2000.00", "30000.00")  # exactly 5 %
    above = _plain("40000.00", "2000.01", "30000.00")

    assert approval_reasons(at_limit, Decimal("5"), Decimal("3")) == []
    [reason] = approval_reasons(above, Decimal("5"), Decimal("3"))
    assert reason.kind == "discount"
    assert reason.limit == Decimal("5")
    assert reason.excess is not None and Decimal("0") < reason.excess < Decimal("0.001")


def test_a_margin_at_the_floor_needs_no_approval_and_below_it_does():
    # Selling 40000: a 3 % margin is 1200, so a cost of 38800 is exactly at the floor.
    at_floor = _plain("40000.00", "0", "38800.00")
    below = _plain("40000.00", "0", "38800.01")

    assert approval_reasons(at_floor, Decimal("5"), Decimal("3")) == []
    [reason] = approval_reasons(below, Decimal("5"), Decimal("3"))
    assert reason.kind == "margin"
    assert reason.actual is not None and reason.actual < Decimal("3")


def test_both_thresholds_at_once_name_both_reasons():
    price = _plain("40000.00", "4000.00", "35500.00")  # 10 % discount, margin 500 / 36000 = 1.39 %

    kinds = [reason.kind for reason in approval_reasons(price, Decimal("5"), Decimal("3"))]
    assert kinds == ["discount", "margin"]


def test_the_reasons_survive_being_stored():
    reasons = [
        ApprovalReason("discount", Decimal("7.5"), Decimal("5")),
        ApprovalReason("margin", None, Decimal("3")),
    ]

    decoded = decode_reasons(encode_reasons(reasons))

    assert decoded == [
        ApprovalReason("discount", Decimal("7.50"), Decimal("5")),
        ApprovalReason("margin", None, Decimal("3")),
    ]


# --- Properties -------------------------------------------------------------------------------------

amounts = st.decimals(min_value=Decimal("0"), max_value=Decimal("250000"), places=2, allow_nan=False)
small_amounts = st.decimals(min_value=Decimal("0"), max_value=Decimal("5000"), places=2, allow_nan=False)
rates = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("25"), places=3, allow_nan=False)
terms = st.integers(min_value=1, max_value=120)
rows = st.lists(st.tuples(st.just("x"), small_amounts), max_size=4)


def _balance_after(principal: Decimal, rate: Decimal, payment: Decimal, months: int) -> Decimal:
    """What is left owing after paying `payment` each month, interest added monthly, exactly."""
    with localcontext() as context:
        context.prec = 60
        balance = principal
        for _month in range(months):
            balance = balance * (1 + rate) - payment
    return balance


@settings(max_examples=200, deadline=None)
@given(principal=amounts, months=terms)
def test_interest_free_payments_add_up_to_the_principal_within_a_cent_a_month(principal, months):
    payment = monthly_payment(principal, Decimal("0"), months, "CHF")

    assert abs(payment * months - principal) <= CENT * months


@settings(max_examples=200, deadline=None)
@given(
    principal=st.decimals(min_value=Decimal("100"), max_value=Decimal("250000"), places=2),
    apr=rates,
    months=terms,
)
def test_the_payment_amortises_the_loan_to_within_a_cent(principal, apr, months):
    payment = monthly_payment(principal, apr, months, "CHF")
    rate = apr / 100 / 12

    # Simulated month by month: the rounded payment leaves less than a cent's worth of payments
    # either way, so one cent less would leave a debt and one cent more would overpay.
    assert _balance_after(principal, rate, payment - CENT, months) > 0
    assert _balance_after(principal, rate, payment + CENT, months) < 0


@settings(max_examples=300, deadline=None)
@given(
    vehicle=amounts,
    options=rows,
    accessories=rows,
    fees=rows,
    discount=small_amounts,
    allowance=amounts,
    payoff=amounts,
    down=amounts,
    vat=st.decimals(min_value=Decimal("0"), max_value=Decimal("25"), places=2),
)
def test_totals_are_sums_of_rounded_lines_and_nothing_negative_is_financed(
    vehicle, options, accessories, fees, discount, allowance, payoff, down, vat
):
    price = _price(
        vehicle_price=vehicle,
        options=options,
        accessories=accessories,
        fees=fees,
        discount=discount,
        trade_in_allowance=allowance,
        trade_in_payoff=payoff,
        down_payment=down,
        vat_rate_percent=vat,
        apr_percent=Decimal("4.5"),
        term_months=36,
    )

    for line in price.lines:
        assert line.net == line.net.quantize(CENT)
        assert line.vat == line.vat.quantize(CENT)
    assert price.net == sum(line.net for line in price.lines)
    assert price.vat == sum(line.vat for line in price.lines)
    assert price.total == price.net + price.vat
    assert price.subtotal - price.discount == price.net
    assert price.amount_financed >= 0
    assert price.amount_financed == max(price.total - price.down_payment - price.trade_in_net, Decimal(0))
    assert price.monthly_payment is not None and price.monthly_payment >= 0
