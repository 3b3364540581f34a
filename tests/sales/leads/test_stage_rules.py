"""Lead stage moves (ops/sales/leads/service.py move_lead): forward by one or more stages, back by one
and recorded, Won only with an accepted quote, Lost only with a reason, closed leads final, stale
versions refused, and two reps moving the same lead at once."""

from __future__ import annotations

import asyncio

import pytest

from ops.auth.actor import Conflict, NotFound, PermissionDenied, RuleViolation
from ops.sales.leads.service import allowed_moves, move_lead
from tests.sales.leads.helpers import accepted_quote, events_of, history, new_lead, stored_lead


async def _move(shop, user, lead_id, stage, version, **extra):  # type: ignore[no-untyped-def]
    async with shop.db.uow(user.actor) as uow:
        return await move_lead(uow, lead_id, stage, version, **extra)


def test_the_allowed_moves_are_later_stages_one_step_back_won_and_lost():
    assert allowed_moves("NEW") == (
        "CONTACTED",
        "QUALIFIED",
        "TEST_DRIVE",
        "QUOTE",
        "NEGOTIATION",
        "WON",
        "LOST",
    )
    assert allowed_moves("QUOTE") == ("TEST_DRIVE", "NEGOTIATION", "WON", "LOST")
    assert allowed_moves("NEGOTIATION") == ("QUOTE", "WON", "LOST")
    assert allowed_moves("WON") == allowed_moves("LOST") == ()


async def test_a_lead_moves_to_the_next_stage_or_skips_ahead_and_each_move_is_recorded(factory):
    """A walk-in who test-drives on the spot would otherwise be clicked through every stage."""
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", name="Lea Frei")
    lead = await new_lead(shop, rep)

    lead = await _move(shop, rep, lead.id, "CONTACTED", lead.version)
    lead = await _move(shop, rep, lead.id, "TEST_DRIVE", lead.version)

    stored = await stored_lead(shop.db, shop.id, lead.id)
    assert (stored.stage, stored.version, stored.closed_at) == ("TEST_DRIVE", 3, None)
    moves = [
        (c.from_stage, c.to_stage, c.actor_name, c.actor_id) for c in await history(shop.db, shop.id, lead.id)
    ]
    assert moves == [
        (None, "NEW", "Lea Frei", rep.actor.user_id),
        ("NEW", "CONTACTED", "Lea Frei", rep.actor.user_id),
        ("CONTACTED", "TEST_DRIVE", "Lea Frei", rep.actor.user_id),
    ]
    moved = await events_of(shop.db, shop.id, "lead.moved")
    assert [(e.payload["from"], e.payload["to"]) for e in moved] == [
        ("NEW", "CONTACTED"),
        ("CONTACTED", "TEST_DRIVE"),
    ]
    assert moved[-1].topics == ["sales", f"customer:{lead.customer_id}"]
    assert moved[-1].payload["version"] == 3


async def test_a_step_back_is_allowed_and_recorded_but_only_one_stage(factory):
    """A deal that needs another test drive goes back a stage; jumping back to New would lose the trail."""
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    lead = await new_lead(shop, rep, stage="QUOTE")

    lead = await _move(shop, rep, lead.id, "TEST_DRIVE", lead.version)
    assert (await history(shop.db, shop.id, lead.id))[-1].from_stage == "QUOTE"
    assert (await history(shop.db, shop.id, lead.id))[-1].to_stage == "TEST_DRIVE"

    with pytest.raises(RuleViolation, match="back one stage at a time: from Test drive only to Qualified"):
        await _move(shop, rep, lead.id, "CONTACTED", lead.version)
    assert (await stored_lead(shop.db, shop.id, lead.id)).stage == "TEST_DRIVE"
    assert len(await history(shop.db, shop.id, lead.id)) == 3


async def test_won_needs_an_accepted_quote_of_the_lead(factory):
    """A lead counted as won without a customer's yes would inflate the conversion rate."""
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    lead = await new_lead(shop, rep, stage="NEGOTIATION")
    other = await new_lead(shop, rep, stage="QUOTE")
    await accepted_quote(shop, lead, status="SENT")
    await accepted_quote(shop, other)  # another lead's accepted quote does not count

    with pytest.raises(RuleViolation, match="won with an accepted quote") as refused:
        await _move(shop, rep, lead.id, "WON", lead.version)
    assert refused.value.field == "stage"
    assert (await stored_lead(shop.db, shop.id, lead.id)).stage == "NEGOTIATION"

    await accepted_quote(shop, lead)
    await _move(shop, rep, lead.id, "WON", lead.version)

    stored = await stored_lead(shop.db, shop.id, lead.id)
    assert stored.stage == "WON" and stored.closed_at is not None


async def test_lost_needs_a_reason_and_other_needs_a_note(factory):
    """Without a reason nobody can tell later why leads are lost."""
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    lead = await new_lead(shop, rep, stage="CONTACTED")

    with pytest.raises(RuleViolation, match="Choose why the lead was lost") as refused:
        await _move(shop, rep, lead.id, "LOST", lead.version)
    assert refused.value.field == "lost_reason"
    with pytest.raises(RuleViolation, match="Choose why"):
        await _move(shop, rep, lead.id, "LOST", lead.version, lost_reason="BORED")
    with pytest.raises(RuleViolation, match="in a few words") as refused:
        await _move(shop, rep, lead.id, "LOST", lead.version, lost_reason="OTHER", lost_note="  ")
    assert refused.value.field == "lost_note"
    assert (await stored_lead(shop.db, shop.id, lead.id)).stage == "CONTACTED"

    await _move(
        shop, rep, lead.id, "LOST", lead.version, lost_reason="BOUGHT_ELSEWHERE", lost_note="Went to AMAG"
    )

    stored = await stored_lead(shop.db, shop.id, lead.id)
    assert (stored.stage, stored.lost_reason, stored.lost_note) == (
        "LOST",
        "BOUGHT_ELSEWHERE",
        "Went to AMAG",
    )
    assert stored.closed_at is not None
    moved = (await events_of(shop.db, shop.id, "lead.moved"))[-1]
    assert moved.payload["lost_reason"] == "BOUGHT_ELSEWHERE"


async def test_a_closed_lead_is_final(factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep")
    lead = await new_lead(shop, rep)
    lead = await _move(shop, rep, lead.id, "LOST", lead.version, lost_reason="NO_RESPONSE")

    with pytest.raises(RuleViolation, match="final"):
        await _move(shop, rep, lead.id, "NEGOTIATION", lead.version)
    with pytest.raises(RuleViolation, match="Unknown stage"):
        await _move(shop, rep, lead.id, "ARCHIVED", lead.version)


async def test_a_stale_version_is_a_conflict_and_changes_nothing(factory):
    """The second rep would silently undo the first one's move."""
    shop = await factory.tenant()
    first, second = await shop.user("sales_rep"), await shop.user("sales_manager")
    lead = await new_lead(shop, first)
    await _move(shop, first, lead.id, "CONTACTED", lead.version)

    with pytest.raises(Conflict) as stale:
        await _move(shop, second, lead.id, "QUALIFIED", lead.version)
    assert stale.value.current["stage"] == "CONTACTED"
    with pytest.raises(RuleViolation, match="version is missing"):
        await _move(shop, second, lead.id, "QUALIFIED", None)
    stored = await stored_lead(shop.db, shop.id, lead.id)
    assert (stored.stage, stored.version) == ("CONTACTED", 2)


async def test_two_reps_moving_the_same_lead_at_once_one_wins_the_other_gets_a_conflict(factory):
    shop = await factory.tenant()
    first, second = await shop.user("sales_rep"), await shop.user("sales_rep")
    for _round in range(3):
        lead = await new_lead(shop, first)
        results = await asyncio.gather(
            _move(shop, first, lead.id, "CONTACTED", lead.version),
            _move(shop, second, lead.id, "QUALIFIED", lead.version),
            return_exceptions=True,
        )
        winners = [result for result in results if not isinstance(result, Exception)]
        losers = [result for result in results if isinstance(result, Exception)]
        assert len(winners) == 1 and len(losers) == 1, results
        assert isinstance(losers[0], Conflict)
        stored = await stored_lead(shop.db, shop.id, lead.id)
        assert stored.stage == winners[0].stage and stored.version == 2
        assert [c.to_stage for c in await history(shop.db, shop.id, lead.id)] == ["NEW", stored.stage]


async def test_only_sales_people_move_leads_and_another_tenants_lead_is_not_found(factory):
    shop, other = await factory.tenant(), await factory.tenant()
    lead = await new_lead(shop)
    viewer = await shop.user("viewer")
    advisor = await shop.user("service_advisor")
    stranger = await other.user("sales_manager")

    for user in (viewer, advisor):
        with pytest.raises(PermissionDenied):
            await _move(shop, user, lead.id, "CONTACTED", lead.version)
    with pytest.raises(NotFound):
        await _move(other, stranger, lead.id, "CONTACTED", lead.version)
    assert (await stored_lead(shop.db, shop.id, lead.id)).stage == "NEW"
