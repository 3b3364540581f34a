"""Quotes: built from a lead (a stock unit, or a trim with configured options), priced with Decimal,
approved by a sales manager when the discount or the margin crosses the dealership's thresholds, sent
by mail with a signed link, and accepted by the customer on a public page.

Status flow:

    DRAFT -> PENDING_APPROVAL -> APPROVED | REJECTED
    DRAFT (no approval needed) | APPROVED -> SENT -> ACCEPTED | DECLINED | EXPIRED
    editing any quote not yet answered -> DRAFT (a sent link stops working; an approval is void)

Every status change is one UPDATE guarded by the version the change was decided on (and, for the
customer's answer and the expiry timer, by the status it leaves), so of two people acting at once
exactly one wins and the other is told, and nothing happens twice.

The link is signed with the app's secret: {t: tenant, q: quote, n: nonce}. It works until the quote's
`valid_until` day ends (in the dealership's timezone), only inside its own tenant, and only while the
quote keeps the nonce it was sent with: sending again, or editing, voids older links.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import select, update

from ops.auth.actor import Actor, Conflict, NotFound, RuleViolation
from ops.customers.models import Customer
from ops.customers.service import customer_topic
from ops.db import Database, UnitOfWork, utcnow
from ops.events import record
from ops.i18n import N_, format_money, format_number, language_of, locale_for
from ops.i18n import gettext as _
from ops.mail.service import queue_mail, render_mail, valid_address, written_for
from ops.notices import notice_payload, user_topic
from ops.public_links import LinkInvalid, SignedLinks
from ops.sales.leads.service import advance_to_quote
from ops.sales.models import CatalogTrim, Lead, Quote, StockUnit
from ops.sales.quotes import queries
from ops.sales.quotes.configurator import validate_configuration
from ops.sales.quotes.pricing import (
    ApprovalReason,
    QuotePrice,
    approval_reasons,
    encode_reasons,
)
from ops.sales.quotes.queries import PublicQuote
from ops.tenants.models import Tenant
from ops.tenants.service import next_number

SALES_TOPIC = "sales"
APPROVALS_TOPIC = "approvals"
LINK_SALT = "pitwall.quote-link"
# The token's own limit; the quote's `valid_until` ends a link long before (see `open_quote`).
LINK_MAX_AGE = timedelta(days=400)
# A quote may be changed until the customer answered it or it ran out.
EDITABLE = ("DRAFT", "PENDING_APPROVAL", "APPROVED", "REJECTED", "SENT")
ANSWERED = ("ACCEPTED", "DECLINED")
SENDABLE = ("DRAFT", "APPROVED", "SENT")
DECISIONS = ("APPROVED", "REJECTED")
MAX_ROWS = 20
MAX_AMOUNT = Decimal("9999999999.99")
MAX_APR = Decimal("30")
MAX_TERM_MONTHS = 120


def quote_topic(quote_id: int) -> str:
    return f"quote:{quote_id}"


def quote_status_label(status: str) -> str:
    labels = {
        "DRAFT": _("Draft"),
        "PENDING_APPROVAL": _("Waiting for a manager's approval"),
        "APPROVED": _("Approved"),
        "REJECTED": _("Rejected"),
        "SENT": _("Sent"),
        "ACCEPTED": _("Accepted"),
        "DECLINED": _("Declined"),
        "EXPIRED": _("Expired"),
    }
    return labels.get(status, status)


def reason_text(reason: ApprovalReason) -> str:
    """Which threshold a quote crosses and by how much, in the reader's language."""
    limit = format_number(reason.limit)
    if reason.kind == "discount":
        return _(
            "Discount %(actual)s %% of the vehicle price: %(excess)s points above the %(limit)s %% limit",
            actual=format_number(reason.actual or Decimal(0)),
            excess=format_number(reason.excess or Decimal(0)),
            limit=limit,
        )
    if reason.actual is None:
        return _("No selling price left after the discount: the margin floor is %(limit)s %%", limit=limit)
    return _(
        "Gross margin %(actual)s %%: %(excess)s points below the %(limit)s %% floor",
        actual=format_number(reason.actual),
        excess=format_number(reason.excess or Decimal(0)),
        limit=limit,
    )


# --- Input ----------------------------------------------------------------------------------------------


class QuoteInvalid(RuleViolation):
    """One or more fields are not valid; `errors` has a message per field. Nothing was saved.

    `unchecked` names the fields whose rules were not reached for want of the others: a field can only
    be said to be right again when it is neither in `errors` nor in `unchecked`."""

    def __init__(self, errors: dict[str, str], unchecked: tuple[str, ...] = ()) -> None:
        first = next(iter(errors))
        super().__init__(errors[first], field=first)
        self.errors = errors
        self.unchecked = unchecked


# The fields the priced figures' rules are about (check_figures): they are checked only once every field
# reads, since the figures need them all.
FIGURE_FIELDS = ("discount", "down_payment")


@dataclass
class QuoteTerms:
    """What the rep typed on the quote form, as text; validated by `update_quote`.

    `accessories` and `fees` are (name, price) rows; a row left empty is ignored. `vehicle_cost` is
    only asked for a configured vehicle (a stock unit has its own cost); None keeps the stored one,
    empty leaves it unknown.
    """

    accessories: list[tuple[str, str]] = field(default_factory=list)
    fees: list[tuple[str, str]] = field(default_factory=list)
    discount: str = ""
    trade_in_allowance: str = ""
    trade_in_payoff: str = ""
    down_payment: str = ""
    apr_percent: str = ""
    term_months: str = ""
    vehicle_cost: str | None = None


def parse_amount(text: str | None) -> Decimal | None:
    """A typed amount: `1'250.50`, `1 250,50`, `1250`; None when it is not a number."""
    cleaned = "".join((text or "").split()).replace("'", "").replace("\u2019", "")
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _money(errors: dict[str, str], name: str, text: str | None, *, required: bool = False) -> Decimal:
    if not (text or "").strip():
        if required:
            errors[name] = _("This field is required.")
        return Decimal("0.00")
    value = parse_amount(text)
    if value is None:
        errors[name] = _("Enter an amount, for example 1250.50.")
        return Decimal("0.00")
    if value < 0:
        errors[name] = _("Enter an amount of zero or more.")
    elif value > MAX_AMOUNT:
        errors[name] = _("This amount is too large.")
    elif value != value.quantize(Decimal("0.01")):
        errors[name] = _("Use at most two decimal places.")
    return value


def _rows(errors: dict[str, str], prefix: str, rows: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    kept: list[dict[str, str]] = []
    for index, (raw_name, raw_price) in enumerate(rows):
        name, price_text = (raw_name or "").strip(), (raw_price or "").strip()
        if not name and not price_text:
            continue
        if not name:
            errors[f"{prefix}-{index}-name"] = _("Name what this price is for.")
        elif len(name) > 80:
            errors[f"{prefix}-{index}-name"] = _("Use at most %(max)s characters.", max=80)
        price = _money(errors, f"{prefix}-{index}-price", price_text, required=True)
        kept.append({"name": name, "price": str(price.quantize(Decimal("0.01")))})
    if len(kept) > MAX_ROWS:
        errors[prefix] = _("At most %(max)s rows.", max=MAX_ROWS)
    return kept


def _validated_terms(terms: QuoteTerms) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "accessories": _rows(errors, "accessory", terms.accessories),
        "fees": _rows(errors, "fee", terms.fees),
        "discount": _money(errors, "discount", terms.discount),
        "trade_in_allowance": _money(errors, "trade_in_allowance", terms.trade_in_allowance),
        "trade_in_payoff": _money(errors, "trade_in_payoff", terms.trade_in_payoff),
        "down_payment": _money(errors, "down_payment", terms.down_payment),
    }
    if terms.vehicle_cost is not None:
        # Left empty, the cost stays unknown and the quote cannot go out (`_require_cost`); a typed cost
        # is the real one, and a vehicle never costs the dealership nothing.
        cost = _money(errors, "vehicle_cost", terms.vehicle_cost)
        if terms.vehicle_cost.strip() and cost == 0 and "vehicle_cost" not in errors:
            errors["vehicle_cost"] = _(
                "Enter what the vehicle costs the dealership, or leave the field empty until you know it."
            )
        values["vehicle_cost"] = cost if terms.vehicle_cost.strip() else None
    apr_text, term_text = terms.apr_percent.strip(), terms.term_months.strip()
    apr: Decimal | None = None
    term: int | None = None
    if apr_text:
        apr = parse_amount(apr_text)
        if apr is None:
            errors["apr_percent"] = _("Enter a rate, for example 3.9.")
        elif not Decimal(0) <= apr <= MAX_APR:
            errors["apr_percent"] = _("Enter a rate from 0 to %(max)s %%.", max=MAX_APR)
        elif apr != apr.quantize(Decimal("0.001")):
            errors["apr_percent"] = _("Use at most three decimal places.")
    if term_text:
        if not term_text.isdigit() or not 1 <= int(term_text) <= MAX_TERM_MONTHS:
            errors["term_months"] = _("Enter a term from 1 to %(max)s months.", max=MAX_TERM_MONTHS)
        else:
            term = int(term_text)
    if apr_text and not term_text:
        errors["term_months"] = _("Enter the term too, or leave the rate empty for a cash sale.")
    if term_text and not apr_text:
        errors["apr_percent"] = _("Enter the rate too (0 for interest-free), or leave the term empty.")
    values["apr_percent"], values["term_months"] = apr, term
    if errors:
        raise QuoteInvalid(errors, unchecked=FIGURE_FIELDS)
    return values


def check_figures(price: QuotePrice, currency: str) -> None:
    """Rules on the priced quote: a discount within the vehicle's price, a down payment within what
    there is to pay. The messages write the limit in the dealership's currency."""
    errors: dict[str, str] = {}
    if price.discount > price.vehicle_total:
        errors["discount"] = _(
            "The discount cannot be more than the vehicle's price with its options (%(price)s).",
            price=format_money(price.vehicle_total, currency),
        )
    payable = max(price.payable, Decimal(0))
    if price.down_payment > payable:
        errors["down_payment"] = _(
            "The down payment is more than there is to pay after the trade-in (%(payable)s).",
            payable=format_money(payable, currency),
        )
    if errors:
        raise QuoteInvalid(errors)


def preview_terms(
    quote: Quote,
    terms: QuoteTerms,
    options: list[queries.OptionRow],
    currency: str,
    vat_rate: Decimal,
    vehicle_name: str = "",
) -> QuotePrice:
    """The figures the quote would have with these terms, priced but not saved; raises QuoteInvalid."""
    values = _validated_terms(terms)
    candidate = Quote(**{**_snapshot(quote), **values, "vat_rate": vat_rate})
    price = queries.price_of(candidate, options, currency, vehicle_name)
    check_figures(price, currency)
    return price


# --- Loading ----------------------------------------------------------------------------------------


def _snapshot(quote: Quote) -> dict[str, Any]:
    """The quote's columns as they are now: a Conflict outlives the transaction that loaded the row."""
    return {column.key: getattr(quote, column.key) for column in Quote.__table__.columns}


async def _quote(uow: UnitOfWork, quote_id: int, permission: str, expected_version: int | None) -> Quote:
    """The quote a change is about: 404 for another tenant's (before the permission check, so never a
    403), a missing version refused, a stale one a Conflict carrying the quote as it is now."""
    quote = await uow.session.scalar(select(Quote).where(Quote.id == quote_id))
    if quote is None:
        raise NotFound(quote_id)
    uow.actor.require(permission)
    if expected_version is None:
        raise RuleViolation(_("The quote's version is missing; reload the page."), field="version")
    if quote.version != expected_version:
        raise Conflict(
            _("%(number)s was changed by someone else in the meantime.", number=quote.code),
            current=_snapshot(quote),
        )
    return quote


async def _write(uow: UnitOfWork, quote: Quote, values: dict[str, Any]) -> None:
    """One UPDATE guarded by the version the change was decided on; bumps the version."""
    result = await uow.session.execute(
        update(Quote)
        .where(Quote.id == quote.id, Quote.version == quote.version)
        .values(version=quote.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise Conflict(_("%(number)s was changed by someone else in the meantime.", number=quote.code))
    await uow.session.refresh(quote)


async def _tenant(uow: UnitOfWork) -> Tenant:
    tenant = await uow.session.scalar(select(Tenant).where(Tenant.id == uow.actor.tenant_id))
    assert tenant is not None
    return tenant


def _payload(quote: Quote, **extra: Any) -> dict[str, Any]:
    return {
        "id": quote.id,
        "number": quote.code,
        "lead_id": quote.lead_id,
        "customer_id": quote.customer_id,
        "status": quote.status,
        "version": quote.version,
        "total": str(quote.total),
        **extra,
    }


def _topics(quote: Quote, *extra: str) -> list[str]:
    return [SALES_TOPIC, customer_topic(quote.customer_id), quote_topic(quote.id), *extra]


def _priced_values(price: QuotePrice) -> dict[str, Any]:
    return {
        "net": price.net,
        "vat": price.vat,
        "total": price.total,
        "amount_financed": price.amount_financed,
        "monthly_payment": price.monthly_payment,
        "gross_margin": price.gross_margin,
    }


# --- Creating and editing ---------------------------------------------------------------------------


async def _open_lead(uow: UnitOfWork, lead_id: int) -> Lead:
    lead = await uow.session.scalar(select(Lead).where(Lead.id == lead_id))
    if lead is None:
        raise NotFound(lead_id)
    if lead.stage in ("WON", "LOST"):
        raise RuleViolation(_("This lead is closed; a quote needs an open lead."), field="lead_id")
    return lead


async def _configured_options(uow: UnitOfWork, trim_id: int, option_codes: Iterable[str]) -> list[str]:
    """The chosen codes in catalog order, refused with every rule they break."""
    found = await queries.catalog(uow.session, trim_id)
    if found is None:
        raise NotFound(trim_id)
    codes = list(dict.fromkeys(option_codes))
    violations = validate_configuration(found.groups, found.options, codes)
    if violations:
        raise QuoteInvalid({"options": "; ".join(violation.message for violation in violations)})
    return [option.code for option in found.options if option.code in set(codes)]


async def create_quote(
    uow: UnitOfWork,
    lead_id: int,
    *,
    stock_unit_id: int | None = None,
    trim_id: int | None = None,
    option_codes: Iterable[str] = (),
) -> Quote:
    """A DRAFT quote for the lead: a unit in stock at its list price, or a trim at its MSRP with the
    options chosen in the configurator. Terms (discount, trade-in, financing) come with `update_quote`."""
    uow.actor.require("quote.edit")
    if (stock_unit_id is None) == (trim_id is None):
        raise RuleViolation(_("Choose a unit in stock or a vehicle to configure."), field="vehicle")
    lead = await _open_lead(uow, lead_id)
    session = uow.session
    codes: list[str] = []
    if stock_unit_id is not None:
        unit = await session.scalar(select(StockUnit).where(StockUnit.id == stock_unit_id))
        if unit is None:
            raise NotFound(stock_unit_id)
        if unit.status not in queries.QUOTABLE_UNIT_STATUSES or unit.deal_id is not None:
            raise RuleViolation(_("This unit is sold; it cannot be quoted."), field="stock_unit_id")
        vehicle_price, vehicle_cost = unit.list_price, unit.cost
    else:
        assert trim_id is not None
        trim = await session.scalar(select(CatalogTrim).where(CatalogTrim.id == trim_id))
        if trim is None:
            raise NotFound(trim_id)
        codes = await _configured_options(uow, trim_id, option_codes)
        # The catalog knows no dealer cost of a trim: the rep enters it before the quote can go out.
        vehicle_price, vehicle_cost = trim.msrp, None
    tenant = await _tenant(uow)
    now = utcnow()
    quote = Quote(
        number=await next_number(uow, "quote"),
        lead_id=lead.id,
        customer_id=lead.customer_id,
        stock_unit_id=stock_unit_id,
        trim_id=trim_id,
        status="DRAFT",
        vehicle_price=vehicle_price,
        vehicle_cost=vehicle_cost,
        option_codes=codes,
        accessories=[],
        fees=[],
        discount=Decimal("0.00"),
        trade_in_allowance=Decimal("0.00"),
        trade_in_payoff=Decimal("0.00"),
        down_payment=Decimal("0.00"),
        vat_rate=tenant.vat_rate,
        created_by_id=uow.actor.user_id,
        version=1,
        created_at=now,
    )
    price = queries.price_of(quote, await queries.options_for(session, quote), tenant.currency)
    for name, value in _priced_values(price).items():
        setattr(quote, name, value)
    session.add(quote)
    await session.flush()
    record(uow, "quote.created", _payload(quote), _topics(quote))
    await uow.commit()
    return quote


async def update_quote(
    uow: UnitOfWork,
    quote_id: int,
    terms: QuoteTerms,
    expected_version: int | None,
    *,
    option_codes: Iterable[str] | None = None,
) -> Quote:
    """Change a quote's terms (and, for a configured vehicle, its options). Any change sends the quote
    back to DRAFT: an approval covered the figures it saw, a sent link the offer it showed."""
    quote = await _quote(uow, quote_id, "quote.edit", expected_version)
    if quote.status not in EDITABLE:
        raise RuleViolation(
            _(
                "%(number)s is %(status)s and can no longer be changed.",
                number=quote.code,
                status=quote_status_label(quote.status),
            ),
            field="__all__",
        )
    if quote.stock_unit_id is not None:
        terms.vehicle_cost = None
    values = _validated_terms(terms)
    if option_codes is not None:
        if quote.trim_id is None:
            raise RuleViolation(
                _("A unit in stock comes as it is built; it has no options to choose."), field="options"
            )
        values["option_codes"] = await _configured_options(uow, quote.trim_id, option_codes)
    tenant = await _tenant(uow)
    candidate = Quote(**{**_snapshot(quote), **values, "vat_rate": tenant.vat_rate})
    price = queries.price_of(candidate, await queries.options_for(uow.session, candidate), tenant.currency)
    check_figures(price, tenant.currency)
    from_status = quote.status
    values.update(_priced_values(price))
    values.update(
        status="DRAFT",
        vat_rate=tenant.vat_rate,
        link_nonce=None,
        approval_reason="",
        decided_by_id=None,
        decision_comment="",
    )
    await _write(uow, quote, values)
    # A quote withdrawn from the queue leaves the managers' screens.
    extra = (APPROVALS_TOPIC,) if from_status == "PENDING_APPROVAL" else ()
    record(
        uow, "quote.updated", _payload(quote, **{"from": from_status, "to": "DRAFT"}), _topics(quote, *extra)
    )
    await uow.commit()
    return quote


# --- Approval ---------------------------------------------------------------------------------------


async def _reasons_now(uow: UnitOfWork, quote: Quote, tenant: Tenant) -> list[ApprovalReason]:
    price = queries.price_of(quote, await queries.options_for(uow.session, quote), tenant.currency)
    return approval_reasons(price, tenant.discount_approval_percent, tenant.margin_floor_percent)


def _require_cost(quote: Quote) -> None:
    """A quote whose vehicle cost is unknown goes nowhere, not even to a manager: its margin is a guess,
    and approving a guess would let it past the floor unseen. The rep enters the cost from the
    importer's price list, as the stock unit's cost was entered when it arrived."""
    if quote.vehicle_cost is None:
        raise RuleViolation(
            _("Enter the vehicle's cost first: the margin is checked against it."), field="vehicle_cost"
        )


async def request_approval(uow: UnitOfWork, quote_id: int, expected_version: int | None) -> Quote:
    """Put a DRAFT quote whose figures cross a threshold in the managers' queue, with the reasons."""
    quote = await _quote(uow, quote_id, "quote.edit", expected_version)
    if quote.status != "DRAFT":
        raise RuleViolation(
            _(
                "Only a draft can be put up for approval; %(number)s is %(status)s.",
                number=quote.code,
                status=quote_status_label(quote.status),
            ),
            field="__all__",
        )
    _require_cost(quote)
    tenant = await _tenant(uow)
    reasons = await _reasons_now(uow, quote, tenant)
    if not reasons:
        raise RuleViolation(
            _(
                "%(number)s is within the discount and margin limits; send it without approval.",
                number=quote.code,
            ),
            field="__all__",
        )
    await _write(
        uow,
        quote,
        {
            "status": "PENDING_APPROVAL",
            "approval_reason": encode_reasons(reasons),
            "approval_requested_by_id": uow.actor.user_id,
            "decided_by_id": None,
            "decision_comment": "",
        },
    )
    rep_topics = (user_topic(uow.actor.user_id),) if uow.actor.user_id is not None else ()
    record(
        uow,
        "quote.approval_requested",
        _payload(quote, **{"from": "DRAFT", "to": "PENDING_APPROVAL", "reason": quote.approval_reason}),
        [APPROVALS_TOPIC, *_topics(quote, *rep_topics)],
    )
    await uow.commit()
    return quote


async def decide_approval(
    uow: UnitOfWork, quote_id: int, decision: str, comment: str, expected_version: int | None
) -> Quote:
    """A sales manager approves or rejects a waiting quote; the rep who asked is told live."""
    quote = await _quote(uow, quote_id, "quote.approve", expected_version)
    comment = " ".join(comment.split())
    if decision not in DECISIONS:
        raise QuoteInvalid({"decision": _("Choose approve or reject.")})
    if quote.status != "PENDING_APPROVAL":
        raise RuleViolation(
            _(
                "%(number)s is not waiting for approval (it is %(status)s).",
                number=quote.code,
                status=quote_status_label(quote.status),
            ),
            field="__all__",
        )
    if decision == "REJECTED" and not comment:
        raise QuoteInvalid({"comment": _("Say why, so the rep knows what to change.")})
    if len(comment) > 500:
        raise QuoteInvalid({"comment": _("Use at most %(max)s characters.", max=500)})
    await _write(
        uow, quote, {"status": decision, "decided_by_id": uow.actor.user_id, "decision_comment": comment}
    )
    manager = uow.actor.name
    if decision == "APPROVED":
        notice = notice_payload(
            N_("%(number)s was approved by %(manager)s."), "success", number=quote.code, manager=manager
        )
    else:
        notice = notice_payload(
            N_("%(number)s was rejected by %(manager)s: %(comment)s"),
            "error",
            number=quote.code,
            manager=manager,
            comment=comment,
        )
    requester = quote.approval_requested_by_id
    rep_topics = (user_topic(requester),) if requester is not None else ()
    record(
        uow,
        "quote.approval_decided",
        _payload(quote, **{"from": "PENDING_APPROVAL", "to": decision, "comment": comment}, **notice),
        [APPROVALS_TOPIC, *_topics(quote, *rep_topics)],
    )
    await uow.commit()
    return quote


# --- Sending and the signed link --------------------------------------------------------------------


@dataclass(frozen=True)
class QuoteLink:
    tenant_id: int
    quote_id: int
    nonce: str


class QuoteLinks:
    """Issues and reads the signed links of quotes (the app's secret; the public address for the mail)."""

    def __init__(self, secret_key: str, base_url: str = "") -> None:
        self._links = SignedLinks(
            secret_key, salt=LINK_SALT, path="/quote", max_age=LINK_MAX_AGE, base_url=base_url
        )

    def token_for(self, link: QuoteLink) -> str:
        return self._links.token_for({"t": link.tenant_id, "q": link.quote_id, "n": link.nonce})

    def url_for(self, token: str) -> str:
        return self._links.url_for(token)

    def read(self, token: str) -> QuoteLink:
        """Raises LinkInvalid (404) or LinkExpired (410)."""
        data = self._links.read(token)
        try:
            return QuoteLink(tenant_id=int(data["t"]), quote_id=int(data["q"]), nonce=str(data["n"]))
        except (KeyError, TypeError, ValueError) as error:
            raise LinkInvalid() from error


class QuoteSuperseded(Exception):
    """The quote was sent again or changed since this link went out (410)."""


class QuoteExpired(Exception):
    """The quote's validity ended (410)."""


class QuoteAlreadyAnswered(Exception):
    """The customer already accepted or declined this quote (409)."""


def tenant_day(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


def customer_locale(quote: PublicQuote) -> str:
    """The customer's language with the dealership's formats."""
    return locale_for(quote.customer_language, quote.country)


def long_date(day: date, locale: str) -> str:
    """A date as the customer writes it (6 December 2026, 6. Dezember 2026)."""
    return format_date(day, format="long", locale=locale)


async def send_quote(
    uow: UnitOfWork, quote_id: int, expected_version: int | None, *, links: QuoteLinks
) -> Quote:
    """Mail the quote to the customer with a new link, valid for the dealership's quote validity.

    Sent again, the new mail replaces the old one: its link is the only one that works. A lead not yet
    in Quote moves there with the sending (`advance_to_quote`)."""
    quote = await _quote(uow, quote_id, "quote.edit", expected_version)
    session = uow.session
    if quote.status not in SENDABLE:
        raise RuleViolation(
            _(
                "%(number)s is %(status)s and cannot be sent.",
                number=quote.code,
                status=quote_status_label(quote.status),
            ),
            field="__all__",
        )
    _require_cost(quote)
    tenant = await _tenant(uow)
    if quote.status == "DRAFT" and await _reasons_now(uow, quote, tenant):
        raise RuleViolation(
            _("%(number)s needs a sales manager's approval before it can be sent.", number=quote.code),
            field="__all__",
        )
    customer = await session.scalar(select(Customer).where(Customer.id == quote.customer_id))
    assert customer is not None
    recipient = valid_address(customer.email)
    if recipient is None or customer.erased_at is not None:
        raise RuleViolation(
            _("The customer has no valid email address to send the quote to."), field="__all__"
        )
    if customer.do_not_contact:
        raise RuleViolation(
            _("The customer asked not to be contacted; hand the quote over in person."), field="__all__"
        )

    now = utcnow()
    nonce = secrets.token_hex(16)
    valid_until = tenant_day(now, tenant.timezone) + timedelta(days=tenant.quote_valid_days)
    from_status = quote.status
    await _write(
        uow, quote, {"status": "SENT", "link_nonce": nonce, "sent_at": now, "valid_until": valid_until}
    )

    shown = await queries.public_quote(session, quote.id)
    assert shown is not None
    token = links.token_for(QuoteLink(uow.actor.tenant_id, quote.id, nonce))
    locale = customer_locale(shown)
    with written_for(locale, shown.timezone, shown.currency):
        subject = _(
            "Your offer %(number)s for a %(vehicle)s from %(dealership)s",
            number=shown.code,
            vehicle=shown.model,
            dealership=shown.dealership,
        )
        text, html = render_mail(
            "quote",
            quote=shown,
            url=links.url_for(token),
            valid_until=long_date(valid_until, locale),
            lang=language_of(locale),
        )
    mail = queue_mail(uow, recipient, subject, text, html, language=language_of(locale))
    await session.flush()
    record(
        uow,
        "quote.sent",
        _payload(
            quote,
            **{"from": from_status, "to": "SENT", "mail_id": mail.id, "valid_until": valid_until.isoformat()},
        ),
        _topics(quote),
    )
    await advance_to_quote(uow, quote.lead_id)
    await uow.commit()
    return quote


async def open_quote(db: Database, link: QuoteLink) -> PublicQuote:
    """The quote a link points to, as the customer may see it; raises when the link no longer counts.

    An answered quote is still shown (read only)."""
    async with db.read(link.tenant_id) as session:
        shown = await queries.public_quote(session, link.quote_id)
    if shown is None:
        raise LinkInvalid()
    if shown.nonce != link.nonce:
        raise QuoteSuperseded()
    if shown.status in ANSWERED:
        return shown
    if shown.status == "EXPIRED" or _past(shown.valid_until, shown.timezone):
        raise QuoteExpired()
    if shown.status != "SENT":
        raise QuoteSuperseded()
    return shown


def _past(valid_until: date | None, timezone: str) -> bool:
    return valid_until is None or tenant_day(utcnow(), timezone) > valid_until


async def answer_quote(db: Database, token: str, answer: str, *, links: QuoteLinks) -> PublicQuote:
    """The customer accepts (ACCEPTED) or declines (DECLINED) the quote behind the link, once."""
    if answer not in ANSWERED:
        raise ValueError(f"not an answer: {answer!r}")
    link = links.read(token)
    shown = await open_quote(db, link)
    # The customer acts through the link: attributed to them by name, with no permissions of staff.
    actor = Actor(
        tenant_id=link.tenant_id, user_id=None, name=shown.customer_name, role="customer", kind="customer"
    )
    async with db.uow(actor) as uow:
        now = utcnow()
        result = await uow.session.execute(
            update(Quote)
            .where(
                Quote.id == link.quote_id,
                Quote.status == "SENT",
                Quote.link_nonce == link.nonce,
                Quote.valid_until >= tenant_day(now, shown.timezone),
            )
            .values(
                status=answer,
                accepted_at=now if answer == "ACCEPTED" else None,
                version=Quote.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            # Someone was quicker (a second click, the rep editing, the expiry timer): say which.
            current = await open_quote(db, link)
            if current.status in ANSWERED:
                raise QuoteAlreadyAnswered()
            raise QuoteSuperseded()
        quote = (await uow.session.execute(select(Quote).where(Quote.id == link.quote_id))).scalar_one()
        if answer == "ACCEPTED":
            notice = notice_payload(
                N_("%(customer)s accepted %(number)s."),
                "success",
                customer=shown.customer_name,
                number=quote.code,
            )
        else:
            notice = notice_payload(
                N_("%(customer)s declined %(number)s."),
                "info",
                customer=shown.customer_name,
                number=quote.code,
            )
        rep_topics = (user_topic(quote.created_by_id),) if quote.created_by_id is not None else ()
        record(
            uow,
            "quote.accepted" if answer == "ACCEPTED" else "quote.declined",
            _payload(quote, **{"from": "SENT", "to": answer}, **notice),
            _topics(quote, *rep_topics),
        )
        await uow.commit()
    return await open_quote(db, link)


async def accept_quote(db: Database, token: str, *, links: QuoteLinks) -> PublicQuote:
    return await answer_quote(db, token, "ACCEPTED", links=links)


# --- Expiry (the worker's timer) --------------------------------------------------------------------


async def expire_quotes(db: Database, now: datetime, *, batch: int = 100) -> int:
    """Mark SENT quotes whose last valid day (in their dealership's timezone) is over EXPIRED; the rep
    is told live. Returns how many expired."""
    # Asked on a reading connection first: most passes find nothing. A day ahead of UTC covers every
    # timezone; each candidate is then checked against its own dealership's day.
    async with db.system() as session:
        candidates = (
            await session.execute(
                select(Quote.id, Quote.tenant_id, Quote.valid_until, Tenant.timezone)
                .join(Tenant, Tenant.id == Quote.tenant_id)
                .where(Quote.status == "SENT", Quote.valid_until < (now + timedelta(days=1)).date())
                .order_by(Quote.valid_until, Quote.id)
                .limit(batch)
            )
        ).all()
    expired = 0
    for quote_id, tenant_id, valid_until, timezone in candidates:
        today = tenant_day(now, timezone)
        if valid_until is None or valid_until >= today:
            continue
        async with db.uow(Actor.system(tenant_id, name="quote expiry")) as uow:
            result = await uow.session.execute(
                update(Quote)
                .where(Quote.id == quote_id, Quote.status == "SENT", Quote.valid_until < today)
                .values(status="EXPIRED", version=Quote.version + 1)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                continue  # answered or changed a moment ago
            quote = (await uow.session.execute(select(Quote).where(Quote.id == quote_id))).scalar_one()
            notice = notice_payload(
                N_("%(number)s expired without an answer from the customer."), "info", number=quote.code
            )
            rep_topics = (user_topic(quote.created_by_id),) if quote.created_by_id is not None else ()
            record(
                uow,
                "quote.expired",
                _payload(quote, **{"from": "SENT", "to": "EXPIRED"}, **notice),
                _topics(quote, *rep_topics),
            )
            await uow.commit()
            expired += 1
    return expired
