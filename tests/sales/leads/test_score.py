"""The lead score (ops/sales/leads/service.py score_lead): every rule with its reason, the tenant's
weights, the clamp to 0..100, and the facts the board looks up for it (stock, test drives, UID)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import update

from ops.db import utcnow
from ops.sales.leads import queries
from ops.sales.leads.service import (
    DEFAULT_SCORE_WEIGHTS,
    ScoreContext,
    score_lead,
    score_reason_text,
    score_weights,
)
from ops.tenants.models import Tenant
from tests.sales.leads.helpers import customer, new_lead, returned_drive, set_lead

NOW = datetime(2030, 5, 6, 12, 0, tzinfo=UTC)


@dataclass
class Facts:
    source: str = "WEB"
    trade_in_offered: bool = False
    financing_preapproved: bool = False
    last_contact_at: datetime | None = None
    created_at: datetime = NOW - timedelta(days=5)


def context(**values) -> ScoreContext:  # type: ignore[no-untyped-def]
    return ScoreContext(weights=score_weights(values.pop("weights", {})), now=NOW, **values)


def rules(score) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {reason.rule: reason.points for reason in score.reasons}


def test_every_point_comes_with_its_rule():
    """A rep who cannot see why a lead scores 85 would not trust the number."""
    lead = Facts(source="REFERRAL", trade_in_offered=True, financing_preapproved=True, last_contact_at=NOW)
    score = score_lead(
        lead,
        context(
            budget_fits_stock=True,
            test_drive_done=True,
            customer_type="BUSINESS",
            customer_uid="CHE-116.281.710",
        ),
    )
    assert rules(score) == {
        "source_REFERRAL": 20,
        "budget_fits_stock": 15,
        "test_drive_done": 20,
        "trade_in_offered": 10,
        "financing_preapproved": 15,
        "recent_contact": 10,
        "business_uid": 10,
    }
    assert score.points == 100  # 100 exactly, clamped from nothing
    assert sum(reason.points for reason in score.reasons) == 100


def test_a_rule_not_met_gives_no_points_and_no_reason():
    score = score_lead(Facts(source="WEB"), context())
    assert rules(score) == {"source_WEB": 5}
    assert score.points == 5


def test_recent_contact_adds_and_stale_contact_subtracts():
    recent = score_lead(Facts(last_contact_at=NOW - timedelta(days=3)), context())
    assert rules(recent)["recent_contact"] == 10 and recent.reasons[-1].days == 3
    assert score_reason_text(recent.reasons[-1]) == "Last contact 3 days ago"
    middling = score_lead(Facts(last_contact_at=NOW - timedelta(days=10)), context())
    assert "recent_contact" not in rules(middling) and "stale_contact" not in rules(middling)
    stale = score_lead(Facts(last_contact_at=NOW - timedelta(days=15)), context())
    assert rules(stale)["stale_contact"] == -15 and stale.reasons[-1].days == 15
    assert score_reason_text(stale.reasons[-1]) == "Last contact 15 days ago"
    assert stale.reasons[-1].label_key == "stale_contact"


def test_a_lead_never_contacted_earns_no_contact_points_and_loses_them_once_it_has_waited_too_long():
    """A rep would read "Last contact: never" next to "+10 recent contact" and stop trusting the score:
    a lead nobody has called earns nothing for contact, and one left waiting is called out as such."""
    brand_new = score_lead(Facts(created_at=NOW), context())
    assert rules(brand_new) == {"source_WEB": 5}
    waiting_a_week = score_lead(Facts(created_at=NOW - timedelta(days=7)), context())
    assert rules(waiting_a_week) == {"source_WEB": 5}
    forgotten = score_lead(Facts(created_at=NOW - timedelta(days=40)), context())
    assert rules(forgotten) == {"source_WEB": 5, "stale_contact": -15}
    reason = forgotten.reasons[-1]
    assert (reason.days, reason.contacted, reason.label_key) == (40, False, "not_contacted")
    assert score_reason_text(reason) == "Not contacted yet; created 40 days ago"


def test_the_uid_rule_needs_a_business_and_a_valid_checksum():
    for customer_type, uid, expected in [
        ("BUSINESS", "CHE-116.281.710", True),
        ("FLEET", "CHE116281710", True),
        ("BUSINESS", "CHE-116.281.711", False),  # checksum wrong
        ("BUSINESS", None, False),
        ("INDIVIDUAL", "CHE-116.281.710", False),
    ]:
        score = score_lead(Facts(), context(customer_type=customer_type, customer_uid=uid))
        assert ("business_uid" in rules(score)) is expected, (customer_type, uid)


def test_the_score_is_clamped_between_0_and_100():
    """A tenant's generous or harsh weights must not show 140 or -20 on a card."""
    generous = context(weights={"source_REFERRAL": 90, "trade_in_offered": 50})
    assert score_lead(Facts(source="REFERRAL", trade_in_offered=True), generous).points == 100
    harsh = context(weights={"stale_contact": -80})
    low = score_lead(Facts(source="EMAIL", created_at=NOW - timedelta(days=60)), harsh)
    assert rules(low) == {"source_EMAIL": 5, "stale_contact": -80}
    assert low.points == 0


def test_tenant_weights_override_the_defaults_and_nonsense_is_ignored():
    weights = score_weights(
        {"source_WEB": 12, "recent_contact_days": 7, "unknown": 5, "trade_in_offered": "lots"}
    )
    assert weights["source_WEB"] == 12 and weights["recent_contact_days"] == 7
    assert weights["trade_in_offered"] == DEFAULT_SCORE_WEIGHTS["trade_in_offered"]
    assert "unknown" not in weights
    assert score_weights({}) == DEFAULT_SCORE_WEIGHTS


async def _card(shop, lead_id):  # type: ignore[no-untyped-def]
    async with shop.db.read(shop.id) as session:
        return (await queries.cards_by_id(session, [lead_id], utcnow()))[lead_id]


async def test_the_board_scores_with_the_tenants_weights_and_the_facts_around_the_lead(factory):
    """The card would show a score the dealership did not configure, or miss a test drive done."""
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    trim = await shop.trim()
    other_trim = await shop.trim(model="Kodiaq")
    await shop.stock_unit(trim=trim, list_price="36900.00")
    await shop.stock_unit(trim=trim, list_price="29900.00", status="RESERVED")  # not available: ignored
    business = await customer(shop, type="BUSINESS", company_name="Muster AG", uid="CHE-116.281.710")
    lead = await new_lead(
        shop,
        rep,
        customer_id=business.id,
        source="PHONE",
        budget="37000",
        interest_trim_id=trim.id,
        trade_in_offered=True,
    )

    card = await _card(shop, lead.id)
    assert {r.rule: r.points for r in card.score.reasons} == {
        "source_PHONE": 10,
        "budget_fits_stock": 15,
        "trade_in_offered": 10,
        "business_uid": 10,
    }
    assert card.score.points == 45

    # The tenant weighs phone leads and trade-ins differently.
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(
            update(Tenant)
            .where(Tenant.id == shop.id)
            .values(lead_score_weights={"source_PHONE": 25, "trade_in_offered": 0})
        )
        await uow.commit()
    card = await _card(shop, lead.id)
    assert {r.rule: r.points for r in card.score.reasons} == {
        "source_PHONE": 25,
        "budget_fits_stock": 15,
        "business_uid": 10,
    }

    # A returned test drive counts; a scheduled one does not.
    unit = await shop.stock_unit(trim=trim, status="DEMO")
    await returned_drive(shop, lead, unit, status="SCHEDULED")
    assert "test_drive_done" not in {r.rule for r in (await _card(shop, lead.id)).score.reasons}
    await returned_drive(shop, lead, unit)
    assert {r.rule for r in (await _card(shop, lead.id)).score.reasons} >= {"test_drive_done"}

    # The budget no longer fits once it is under the cheapest available unit of the trim ...
    await set_lead(shop, lead.id, budget=Decimal("30000"))
    assert "budget_fits_stock" not in {r.rule for r in (await _card(shop, lead.id)).score.reasons}
    # ... or when the trim has no available unit at all.
    await set_lead(shop, lead.id, budget=Decimal("90000"), interest_trim_id=other_trim.id)
    assert "budget_fits_stock" not in {r.rule for r in (await _card(shop, lead.id)).score.reasons}
    # Without a trim or unit, any available unit in budget will do.
    await set_lead(shop, lead.id, interest_trim_id=None)
    assert "budget_fits_stock" in {r.rule for r in (await _card(shop, lead.id)).score.reasons}


async def test_a_named_unit_must_itself_be_available_and_in_budget(factory):
    shop = await factory.tenant()
    unit = await shop.stock_unit(list_price="41000.00")
    await shop.stock_unit(list_price="20000.00")
    lead = await new_lead(shop, budget="42000", interest_unit_id=unit.id)
    assert "budget_fits_stock" in {r.rule for r in (await _card(shop, lead.id)).score.reasons}
    await set_lead(shop, lead.id, budget=Decimal("40000"))
    assert "budget_fits_stock" not in {r.rule for r in (await _card(shop, lead.id)).score.reasons}
