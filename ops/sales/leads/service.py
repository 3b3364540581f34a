"""Lead use cases: capture a lead, edit it, move it along the pipeline, note a contact; and the lead
score, a pure function of the lead and what is known around it.

Stage moves (`move_lead`) follow the stage order NEW, CONTACTED, QUALIFIED, TEST_DRIVE, QUOTE,
NEGOTIATION:
- forward: to any later open stage (the next one, or skipping ahead: a walk-in who test-drives on the
  spot goes from New straight to Test drive);
- back: exactly one stage (a deal that needs another test drive goes from Quote to Test drive); every
  move, steps back included, is recorded as a LeadStageChange with who and when;
- WON from any open stage, only with an ACCEPTED quote of the lead; LOST from any open stage, only with
  a reason (and a note when the reason is OTHER);
- WON and LOST are final: a customer who comes back after a loss is a new lead, and the old one keeps
  its history.
- sending a quote moves a lead that is not that far yet (New to Test drive) to Quote, in the sending's
  own transaction (`advance_to_quote`); a lead in Quote or Negotiation stays where it is.
Every change carries the version the person saw: a stale one is a Conflict (409), never an overwrite,
and the write itself is one UPDATE guarded by that version, so of two reps moving the same lead at
the same moment exactly one wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.ch import uid as swiss_uid

from ops.auth.actor import Conflict, NotFound, RuleViolation
from ops.auth.models import User
from ops.customers.models import Customer
from ops.db import UnitOfWork, utcnow
from ops.events import record
from ops.i18n import gettext as _
from ops.i18n import ngettext
from ops.sales.models import (
    LEAD_SOURCES,
    LEAD_STAGES,
    LOST_REASONS,
    CatalogTrim,
    Lead,
    LeadStageChange,
    Quote,
    StockUnit,
)
from ops.tenants.models import Tenant

OPEN_STAGES = LEAD_STAGES[:6]
CLOSED_STAGES = ("WON", "LOST")
BOARD_STAGES = OPEN_STAGES + CLOSED_STAGES
# People a lead can belong to.
SALES_ROLES = ("sales_rep", "sales_manager", "admin")
MAX_AMOUNT = Decimal("9999999999.99")

# The lead score's default weights (points), used for every key a tenant has not set in
# Tenant.lead_score_weights (a flat JSON object with these keys; unknown keys are ignored).
# Sources that bring a buyer to the showroom or come recommended score highest. With every positive
# rule met a lead reaches exactly 100; the score is clamped to 0..100 whatever a tenant sets.
DEFAULT_SCORE_WEIGHTS: dict[str, int] = {
    "source_REFERRAL": 20,
    "source_WALK_IN": 15,
    "source_FLEET_TENDER": 15,
    "source_PHONE": 10,
    "source_PARTNER": 10,
    "source_EVENT": 8,
    "source_WEB": 5,
    "source_EMAIL": 5,
    # An AVAILABLE unit (of the lead's unit or trim, if it names one) lists at or under the budget.
    "budget_fits_stock": 15,
    # The lead has a RETURNED test drive.
    "test_drive_done": 20,
    "trade_in_offered": 10,
    "financing_preapproved": 15,
    # Last contact at most `recent_contact_days` ago adds `recent_contact`; more than
    # `stale_contact_days` ago adds `stale_contact` (negative). A lead never contacted: see score_lead.
    "recent_contact": 10,
    "recent_contact_days": 3,
    "stale_contact": -15,
    "stale_contact_days": 14,
    # A BUSINESS or FLEET customer with a checksum-valid Swiss UID.
    "business_uid": 10,
}
BUSINESS_TYPES = ("BUSINESS", "FLEET")


def stage_label(stage: str) -> str:
    return stage_labels().get(stage, stage)


def stage_labels() -> dict[str, str]:
    return {
        "NEW": _("New"),
        "CONTACTED": _("Contacted"),
        "QUALIFIED": _("Qualified"),
        "TEST_DRIVE": _("Test drive"),
        "QUOTE": _("Quote"),
        "NEGOTIATION": _("Negotiation"),
        "WON": _("Won"),
        "LOST": _("Lost"),
    }


def source_labels() -> dict[str, str]:
    return {
        "WALK_IN": _("Walk-in"),
        "PHONE": _("Phone"),
        "WEB": _("Web"),
        "EMAIL": _("Email"),
        "REFERRAL": _("Referral"),
        "PARTNER": _("Partner"),
        "EVENT": _("Event"),
        "FLEET_TENDER": _("Fleet tender"),
    }


def lost_reason_labels() -> dict[str, str]:
    return {
        "PRICE": _("Price"),
        "FINANCING_DECLINED": _("Financing declined"),
        "BOUGHT_ELSEWHERE": _("Bought elsewhere"),
        "NO_RESPONSE": _("No response"),
        "VEHICLE_UNAVAILABLE": _("Vehicle unavailable"),
        "OTHER": _("Other"),
    }


def allowed_moves(stage: str) -> tuple[str, ...]:
    """Where a lead in `stage` may go: later open stages, one stage back, WON and LOST (see module)."""
    if stage not in OPEN_STAGES:
        return ()
    index = OPEN_STAGES.index(stage)
    back = (OPEN_STAGES[index - 1],) if index > 0 else ()
    return back + OPEN_STAGES[index + 1 :] + CLOSED_STAGES


# --- The score ----------------------------------------------------------------------------------------


class ScoredLead(Protocol):
    """What the score reads of a lead: a Lead row or a board card."""

    source: str
    trade_in_offered: bool
    financing_preapproved: bool
    last_contact_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class ScoreContext:
    """What the score needs beyond the lead itself, looked up by the caller."""

    weights: Mapping[str, int]
    now: datetime
    budget_fits_stock: bool = False
    test_drive_done: bool = False
    customer_type: str = "INDIVIDUAL"
    customer_uid: str | None = None


@dataclass(frozen=True)
class ScoreReason:
    """`rule` names the rule (a key of DEFAULT_SCORE_WEIGHTS without the source name); `days` is the
    days since the last contact for the contact rules, or since the lead came in when `contacted` is
    False (nobody has contacted the customer yet)."""

    rule: str
    points: int
    days: int | None = None
    contacted: bool = True

    @property
    def label_key(self) -> str:
        """The key of score_rule_labels() for the card's short label."""
        return self.rule if self.contacted else "not_contacted"


@dataclass(frozen=True)
class Score:
    points: int
    reasons: tuple[ScoreReason, ...]


def score_weights(tenant_weights: Mapping[str, Any] | None) -> dict[str, int]:
    """The defaults overridden by the tenant's whole-number settings (anything else is ignored)."""
    weights = dict(DEFAULT_SCORE_WEIGHTS)
    for key, value in (tenant_weights or {}).items():
        if key in weights and isinstance(value, int) and not isinstance(value, bool):
            weights[key] = value
    return weights


def valid_uid(uid: str | None) -> bool:
    return bool(uid) and bool(swiss_uid.is_valid(uid or ""))


def score_lead(lead: ScoredLead, context: ScoreContext) -> Score:
    """The lead's score 0..100 and every non-zero rule that made it, in the order of the rules."""
    weights = context.weights
    reasons: list[ScoreReason] = []

    def add(rule: str, points: int, days: int | None = None, *, contacted: bool = True) -> None:
        if points:
            reasons.append(ScoreReason(rule, points, days, contacted))

    add(f"source_{lead.source}", weights.get(f"source_{lead.source}", 0))
    if context.budget_fits_stock:
        add("budget_fits_stock", weights["budget_fits_stock"])
    if context.test_drive_done:
        add("test_drive_done", weights["test_drive_done"])
    if lead.trade_in_offered:
        add("trade_in_offered", weights["trade_in_offered"])
    if lead.financing_preapproved:
        add("financing_preapproved", weights["financing_preapproved"])
    # DOMAIN.md scores the days since the last contact. A lead nobody has contacted has no last
    # contact, so it earns nothing for recent contact; but once it has waited more than
    # `stale_contact_days` since it came in, it has gone at least that long without contact and loses
    # the stale points like a lead whose last contact is that old.
    if lead.last_contact_at is None:
        waiting = max(0, (context.now - lead.created_at).days)
        if waiting > weights["stale_contact_days"]:
            add("stale_contact", weights["stale_contact"], waiting, contacted=False)
    else:
        days = max(0, (context.now - lead.last_contact_at).days)
        if days <= weights["recent_contact_days"]:
            add("recent_contact", weights["recent_contact"], days)
        elif days > weights["stale_contact_days"]:
            add("stale_contact", weights["stale_contact"], days)
    if context.customer_type in BUSINESS_TYPES and valid_uid(context.customer_uid):
        add("business_uid", weights["business_uid"])
    total = sum(reason.points for reason in reasons)
    return Score(max(0, min(100, total)), tuple(reasons))


def score_rule_labels() -> dict[str, str]:
    """Short labels for the card, by rule; sources by their name."""
    labels = {f"source_{source}": label for source, label in source_labels().items()}
    labels.update(
        {
            "budget_fits_stock": _("Budget fits stock"),
            "test_drive_done": _("Test drive done"),
            "trade_in_offered": _("Trade-in offered"),
            "financing_preapproved": _("Financing pre-approved"),
            "recent_contact": _("Recent contact"),
            "stale_contact": _("No recent contact"),
            "not_contacted": _("Not contacted yet"),
            "business_uid": _("Business with valid UID"),
        }
    )
    return labels


def score_reason_text(reason: ScoreReason) -> str:
    """The full sentence for the lead page."""
    if reason.rule.startswith("source_"):
        source = source_labels().get(reason.rule.removeprefix("source_"), reason.rule)
        return _("Source: %(source)s", source=source)
    if not reason.contacted:
        if reason.days == 0:
            return _("Not contacted yet; created today")
        return ngettext(
            "Not contacted yet; created %(num)d day ago",
            "Not contacted yet; created %(num)d days ago",
            reason.days or 0,
        )
    if reason.rule in ("recent_contact", "stale_contact"):
        if reason.days == 0:
            return _("Last contact today")
        return ngettext("Last contact %(num)d day ago", "Last contact %(num)d days ago", reason.days or 0)
    return score_rule_labels().get(reason.rule, reason.rule)


def score_rules_text(weights: Mapping[str, int]) -> list[str]:
    """The rules as sentences with the tenant's weights, for the page that explains a score."""
    sources = ", ".join(
        f"{label} {weights[f'source_{source}']:+d}" for source, label in source_labels().items()
    )
    return [
        _("Source: %(points)s.", points=sources),
        _(
            "Budget fits stock %(points)+d: an available unit (the lead's unit or trim, if it names one) "
            "lists at or under the budget.",
            points=weights["budget_fits_stock"],
        ),
        _(
            "Test drive done %(points)+d: the lead has a returned test drive.",
            points=weights["test_drive_done"],
        ),
        _("Trade-in offered %(points)+d.", points=weights["trade_in_offered"]),
        _("Financing pre-approved %(points)+d.", points=weights["financing_preapproved"]),
        _(
            "Contact: %(recent)+d when the last contact is at most %(recent_days)s days ago, %(stale)+d "
            "when it is more than %(stale_days)s days ago. A lead not contacted yet gets no contact points "
            "until it came in more than %(stale_days)s days ago, then %(stale)+d.",
            recent=weights["recent_contact"],
            recent_days=weights["recent_contact_days"],
            stale=weights["stale_contact"],
            stale_days=weights["stale_contact_days"],
        ),
        _(
            "Business or fleet customer with a valid UID %(points)+d.",
            points=weights["business_uid"],
        ),
        _("The total is kept between 0 and 100."),
    ]


async def tenant_score_weights(session: AsyncSession) -> dict[str, int]:
    tenant_id = session.info.get("tenant_id")
    settings = await session.scalar(select(Tenant.lead_score_weights).where(Tenant.id == tenant_id))
    return score_weights(settings)


# --- Input ----------------------------------------------------------------------------------------------


class InvalidLead(RuleViolation):
    """One or more fields are not valid; `errors` has a message per field. Nothing was saved."""

    def __init__(self, errors: dict[str, str]) -> None:
        first = next(iter(errors))
        super().__init__(errors[first], field=first)
        self.errors = errors


@dataclass
class LeadData:
    """What a person typed (or another area passes in); validated by `create_lead` / `update_lead`."""

    customer_id: Any = None
    interest_trim_id: Any = None
    interest_unit_id: Any = None
    interest_note: Any = ""
    source: Any = ""
    budget: Any = None
    owner_id: Any = None
    trade_in_offered: Any = False
    financing_preapproved: Any = False
    next_action: Any = ""
    next_action_on: Any = None

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> LeadData:
        names = {item.name for item in fields(cls)}
        data = cls(**{key: value for key, value in values.items() if key in names})
        # Unticked checkboxes are not sent at all.
        data.trade_in_offered = _flag(values.get("trade_in_offered"))
        data.financing_preapproved = _flag(values.get("financing_preapproved"))
        return data


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in ("1", "on", "true", "yes")


def _id_or_none(value: Any, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise RuleViolation(_("Choose one of the options."), name) from None
    if not 0 < number < 2**63:
        raise RuleViolation(_("Choose one of the options."), name)
    return number


def _amount(value: Any, name: str) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float):
        raise TypeError("amounts are Decimal, never float")
    cleaned = str(value).strip().replace("'", "").replace(" ", "")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise RuleViolation(_("Enter an amount, like 45000."), name) from None
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        raise RuleViolation(_("Enter an amount of zero or more."), name)
    if amount != amount.quantize(Decimal("0.01")):
        raise RuleViolation(_("Use at most two decimal places."), name)
    return amount


def _text(value: Any, name: str, max_length: int) -> str:
    cleaned = " ".join(str(value or "").split())
    if len(cleaned) > max_length:
        raise RuleViolation(_("Use at most %(max)s characters.", max=max_length), name)
    return cleaned


def _day(value: Any, name: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise RuleViolation(_("Enter a date."), name) from None


async def _validated(uow: UnitOfWork, data: LeadData, *, creating: bool) -> dict[str, Any]:
    """Every field checked, all problems at once so the form can mark each; values ready to store."""
    session = uow.session
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}

    def check(name: str, run: Any) -> None:
        try:
            values[name] = run()
        except RuleViolation as violation:
            errors[violation.field or name] = str(violation)

    check("customer_id", lambda: _id_or_none(data.customer_id, "customer_id"))
    check("interest_trim_id", lambda: _id_or_none(data.interest_trim_id, "interest_trim_id"))
    check("interest_unit_id", lambda: _id_or_none(data.interest_unit_id, "interest_unit_id"))
    check("interest_note", lambda: _text(data.interest_note, "interest_note", 200))
    check("budget", lambda: _amount(data.budget, "budget"))
    check("owner_id", lambda: _id_or_none(data.owner_id, "owner_id"))
    check("next_action", lambda: _text(data.next_action, "next_action", 200))
    check("next_action_on", lambda: _day(data.next_action_on, "next_action_on"))
    source = str(data.source or "").strip()
    if source in LEAD_SOURCES:
        values["source"] = source
    else:
        errors["source"] = _("Choose where the lead came from.")
    values["trade_in_offered"] = _flag(data.trade_in_offered)
    values["financing_preapproved"] = _flag(data.financing_preapproved)

    if "customer_id" not in errors:
        if values["customer_id"] is None:
            errors["customer_id"] = _("Choose the customer.")
        else:
            customer = await session.scalar(select(Customer).where(Customer.id == values["customer_id"]))
            if customer is None:
                errors["customer_id"] = _("Choose the customer.")
            elif customer.erased_at is not None:
                errors["customer_id"] = _(
                    "This customer's data was erased; capture the lead for a new customer."
                )
    if "interest_unit_id" not in errors and values["interest_unit_id"] is not None:
        unit_trim = await session.scalar(
            select(StockUnit.trim_id).where(StockUnit.id == values["interest_unit_id"])
        )
        if unit_trim is None:
            errors["interest_unit_id"] = _("Choose one of the options.")
        elif values.get("interest_trim_id") not in (None, unit_trim):
            errors["interest_unit_id"] = _("This unit is not of the chosen trim.")
        else:
            values["interest_trim_id"] = unit_trim
    if "interest_trim_id" not in errors and values.get("interest_trim_id") is not None:
        found = await session.scalar(
            select(CatalogTrim.id).where(CatalogTrim.id == values["interest_trim_id"])
        )
        if found is None:
            errors["interest_trim_id"] = _("Choose one of the options.")
    interest_fields = ("interest_trim_id", "interest_unit_id", "interest_note")
    if not any(name in errors for name in interest_fields) and not any(
        values[name] for name in interest_fields
    ):
        errors["interest_note"] = _("Say what the customer is interested in: a trim, a unit or a few words.")
    if "owner_id" not in errors:
        if (
            values["owner_id"] is None
            and creating
            and uow.actor.role in SALES_ROLES
            and uow.actor.kind == "user"
        ):
            values["owner_id"] = uow.actor.user_id
        elif values["owner_id"] is not None:
            owner = await session.scalar(
                select(User.id).where(
                    User.id == values["owner_id"], User.active.is_(True), User.role.in_(SALES_ROLES)
                )
            )
            if owner is None:
                errors["owner_id"] = _("Choose a sales person.")
    if values.get("next_action_on") is not None and not values.get("next_action"):
        errors.setdefault("next_action", _("Say what the next action is."))
    if errors:
        raise InvalidLead(errors)
    return values


def _topics(lead: Lead) -> list[str]:
    return ["sales", f"customer:{lead.customer_id}"]


def _payload(lead: Lead, **extra: Any) -> dict[str, Any]:
    return {
        "id": lead.id,
        "customer_id": lead.customer_id,
        "stage": lead.stage,
        "version": lead.version,
        **extra,
    }


# --- Use cases -----------------------------------------------------------------------------------------


async def create_lead(uow: UnitOfWork, data: LeadData | Mapping[str, Any]) -> Lead:
    """Capture a lead in stage NEW; owned by the rep capturing it unless another is chosen."""
    uow.actor.require("lead.edit")
    lead_data = data if isinstance(data, LeadData) else LeadData.from_mapping(data)
    values = await _validated(uow, lead_data, creating=True)
    now = utcnow()
    lead = Lead(stage="NEW", version=1, created_at=now, stage_changed_at=now, **values)
    uow.session.add(lead)
    await uow.session.flush()
    _add_history(uow, lead, None, "NEW", now)
    record(uow, "lead.created", _payload(lead, source=lead.source), _topics(lead))
    await uow.commit()
    return lead


async def _lead(uow: UnitOfWork, lead_id: int, permission: str, expected_version: int | None) -> Lead:
    """The lead a change is about: 404 for another tenant's (before the permission check, so never a
    403), a missing version refused, a stale one a Conflict carrying the lead as it is now."""
    lead = await uow.session.scalar(select(Lead).where(Lead.id == lead_id))
    if lead is None:
        raise NotFound(lead_id)
    uow.actor.require(permission)
    if expected_version is None:
        raise RuleViolation(_("The lead's version is missing; reload the page."), field="version")
    if lead.version != expected_version:
        raise Conflict(_("This lead was changed by someone else in the meantime."), current=_snapshot(lead))
    return lead


def _snapshot(lead: Lead) -> dict[str, Any]:
    """The lead's columns as they are now: a Conflict outlives the transaction that loaded the row."""
    return {column.key: getattr(lead, column.key) for column in Lead.__table__.columns}


async def _write(uow: UnitOfWork, lead: Lead, values: dict[str, Any]) -> None:
    """One UPDATE guarded by the version the change was decided on; bumps the version. The loser of
    two simultaneous writers matches no row (PostgreSQL re-reads the version after the winner's
    commit; SQLite serialises writers), and is told so."""
    if not await uow.update_versioned(lead, values):
        raise Conflict(_("This lead was changed by someone else in the meantime."))


async def update_lead(
    uow: UnitOfWork, lead_id: int, data: LeadData | Mapping[str, Any], expected_version: int | None
) -> Lead:
    """Edit what the lead is about (not its stage: that is `move_lead`)."""
    lead = await _lead(uow, lead_id, "lead.edit", expected_version)
    lead_data = data if isinstance(data, LeadData) else LeadData.from_mapping(data)
    values = await _validated(uow, lead_data, creating=False)
    changed = sorted(name for name, value in values.items() if getattr(lead, name) != value)
    if values["customer_id"] != lead.customer_id:
        # The customer pages follow their own leads: the old one loses it, the new one gains it.
        topics = [*_topics(lead), f"customer:{values['customer_id']}"]
    else:
        topics = _topics(lead)
    await _write(uow, lead, values)
    record(uow, "lead.updated", _payload(lead, changed=changed), topics)
    await uow.commit()
    return lead


def refuse_forbidden_move(lead: Lead, to_stage: str) -> None:
    if to_stage not in LEAD_STAGES:
        raise RuleViolation(_("Unknown stage."), field="stage")
    if to_stage == lead.stage:
        raise RuleViolation(
            _("The lead is already in %(stage)s.", stage=stage_label(to_stage)), field="stage"
        )
    if lead.stage in CLOSED_STAGES:
        raise RuleViolation(
            _(
                "The lead is %(stage)s, which is final. If the customer comes back, capture a new lead.",
                stage=stage_label(lead.stage),
            ),
            field="stage",
        )
    if to_stage not in allowed_moves(lead.stage):
        raise RuleViolation(
            _(
                "A lead goes back one stage at a time: from %(from)s only to %(back)s.",
                back=stage_label(OPEN_STAGES[OPEN_STAGES.index(lead.stage) - 1]),
                **{"from": stage_label(lead.stage)},
            ),
            field="stage",
        )


async def has_accepted_quote(session: AsyncSession, lead_id: int) -> bool:
    found = await session.scalar(
        select(Quote.id).where(Quote.lead_id == lead_id, Quote.status == "ACCEPTED").limit(1)
    )
    return found is not None


async def move_lead(
    uow: UnitOfWork,
    lead_id: int,
    to_stage: str,
    expected_version: int | None,
    lost_reason: str | None = None,
    lost_note: str = "",
) -> Lead:
    """Move a lead to another stage by the rules of this module's docstring; recorded with who and when."""
    lead = await _lead(uow, lead_id, "lead.edit", expected_version)
    refuse_forbidden_move(lead, to_stage)
    now = utcnow()
    values: dict[str, Any] = {"stage": to_stage, "stage_changed_at": now}
    if to_stage == "LOST":
        if lost_reason not in LOST_REASONS:
            raise RuleViolation(_("Choose why the lead was lost."), field="lost_reason")
        note = _text(lost_note, "lost_note", 200)
        if lost_reason == "OTHER" and not note:
            raise RuleViolation(_("Say in a few words why the lead was lost."), field="lost_note")
        values.update(lost_reason=lost_reason, lost_note=note, closed_at=now)
    elif to_stage == "WON":
        if not await has_accepted_quote(uow.session, lead.id):
            raise RuleViolation(
                _("A lead is won with an accepted quote, and this lead has none yet."), field="stage"
            )
        values["closed_at"] = now
    from_stage = lead.stage
    await _write(uow, lead, values)
    _add_history(uow, lead, from_stage, to_stage, now)
    payload = _payload(lead, **{"from": from_stage, "to": to_stage})
    if to_stage == "LOST":
        payload["lost_reason"] = lost_reason
    record(uow, "lead.moved", payload, _topics(lead))
    await uow.commit()
    return lead


async def advance_to_quote(uow: UnitOfWork, lead_id: int) -> Lead:
    """A quote was sent for the lead: a lead before Quote moves to Quote, recorded as any move is (its
    history, and the board's `lead.moved`); one in Quote or later stays. The caller commits: the move
    belongs to the sending."""
    lead = await uow.session.scalar(select(Lead).where(Lead.id == lead_id))
    if lead is None:
        raise NotFound(lead_id)
    if lead.stage not in OPEN_STAGES or OPEN_STAGES.index(lead.stage) >= OPEN_STAGES.index("QUOTE"):
        return lead
    now = utcnow()
    from_stage = lead.stage
    await _write(uow, lead, {"stage": "QUOTE", "stage_changed_at": now})
    _add_history(uow, lead, from_stage, "QUOTE", now)
    record(uow, "lead.moved", _payload(lead, **{"from": from_stage, "to": "QUOTE"}), _topics(lead))
    return lead


async def touch_lead_contact(uow: UnitOfWork, lead_id: int, *, commit: bool = True) -> Lead:
    """Note that the customer was contacted now (the score's contact rule). With `commit=False` it
    joins the caller's transaction (logging a call on the lead, say) and the caller commits."""
    lead = await uow.session.scalar(select(Lead).where(Lead.id == lead_id))
    if lead is None:
        raise NotFound(lead_id)
    uow.actor.require("lead.edit")
    await _write(uow, lead, {"last_contact_at": utcnow()})
    record(uow, "lead.updated", _payload(lead, changed=["last_contact_at"]), _topics(lead))
    if commit:
        await uow.commit()
    return lead


def _add_history(uow: UnitOfWork, lead: Lead, from_stage: str | None, to_stage: str, at: datetime) -> None:
    actor = uow.actor
    uow.session.add(
        LeadStageChange(
            lead_id=lead.id,
            from_stage=from_stage,
            to_stage=to_stage,
            actor_id=actor.user_id,
            actor_name=actor.name,
            at=at,
        )
    )


def closed_since(now: datetime) -> datetime:
    """Won and lost leads stay on the board for 30 days after they closed."""
    return now - timedelta(days=30)
