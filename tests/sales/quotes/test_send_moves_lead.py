"""Sending a quote moves its lead to Quote: a lead still in New to Test drive said "New" after its quote
had gone out. The move happens in the sending's own transaction, is recorded as any move (history and
the board's `lead.moved`), and never takes a lead backwards."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from ops.auth.actor import RuleViolation
from ops.events import Event
from ops.sales.models import Lead, LeadStageChange
from ops.sales.quotes.service import decide_approval, request_approval, send_quote
from tests.sales.quotes.helpers import LINKS, lead_for, showroom, unit_quote, with_terms


async def _lead_in(room, stage: str) -> Lead:  # type: ignore[no-untyped-def]
    lead = await lead_for(room)
    async with room.db.uow(room.shop.admin.actor) as uow:
        await uow.session.execute(update(Lead).where(Lead.id == lead.id).values(stage=stage))
        await uow.commit()
    return lead


async def _send(room, quote):  # type: ignore[no-untyped-def]
    async with room.db.uow(room.rep.actor) as uow:
        return await send_quote(uow, quote.id, quote.version, links=LINKS)


async def _state(room, lead_id: int) -> tuple[str, list[tuple[str | None, str]], list[dict]]:  # type: ignore[no-untyped-def]
    async with room.db.read(room.shop.id) as session:
        stage = await session.scalar(select(Lead.stage).where(Lead.id == lead_id))
        history = (
            await session.execute(
                select(LeadStageChange.from_stage, LeadStageChange.to_stage)
                .where(LeadStageChange.lead_id == lead_id)
                .order_by(LeadStageChange.id)
            )
        ).all()
        moves = (
            await session.scalars(select(Event).where(Event.type == "lead.moved").order_by(Event.id))
        ).all()
    return (
        str(stage),
        [(row[0], row[1]) for row in history],
        [{**event.payload, "topics": event.topics} for event in moves if event.payload["id"] == lead_id],
    )


async def test_an_approved_quote_sent_for_a_new_lead_moves_it_to_quote(factory, runtime):
    room = await showroom(await factory.tenant())
    lead = await _lead_in(room, "NEW")
    quote = await with_terms(room, await unit_quote(room, cost="30000.00", lead=lead), discount="4000")
    async with room.db.uow(room.rep.actor) as uow:
        quote = await request_approval(uow, quote.id, quote.version)
    async with room.db.uow(room.manager.actor) as uow:
        quote = await decide_approval(uow, quote.id, "APPROVED", "", quote.version)

    await _send(room, quote)

    stage, history, moves = await _state(room, lead.id)
    assert stage == "QUOTE"
    assert history == [("NEW", "QUOTE")]
    [move] = moves
    assert (move["from"], move["to"], move["stage"]) == ("NEW", "QUOTE", "QUOTE")
    # The pipeline board listens on `sales`: the card moves there live.
    assert "sales" in move["topics"]


@pytest.mark.parametrize("stage", ["CONTACTED", "QUALIFIED", "TEST_DRIVE"])
async def test_a_lead_before_quote_moves_to_quote(factory, runtime, stage):
    room = await showroom(await factory.tenant())
    lead = await _lead_in(room, stage)

    await _send(room, await unit_quote(room, lead=lead))

    assert (await _state(room, lead.id))[:2] == ("QUOTE", [(stage, "QUOTE")])


@pytest.mark.parametrize("stage", ["QUOTE", "NEGOTIATION"])
async def test_a_lead_in_quote_or_later_stays_where_it_is(factory, runtime, stage):
    room = await showroom(await factory.tenant())
    lead = await _lead_in(room, stage)

    sent = await _send(room, await unit_quote(room, lead=lead))
    await _send(room, sent)

    assert await _state(room, lead.id) == (stage, [], [])


async def test_sending_again_moves_the_lead_once(factory, runtime):
    room = await showroom(await factory.tenant())
    lead = await _lead_in(room, "NEW")

    sent = await _send(room, await unit_quote(room, lead=lead))
    await _send(room, sent)

    stage, history, moves = await _state(room, lead.id)
    assert (stage, history, len(moves)) == ("QUOTE", [("NEW", "QUOTE")], 1)


async def test_a_quote_that_cannot_be_sent_leaves_the_lead_where_it_was(factory, runtime):
    room = await showroom(await factory.tenant())
    lead = await lead_for(room, email=None)
    quote = await unit_quote(room, lead=lead)

    with pytest.raises(RuleViolation):
        await _send(room, quote)

    assert await _state(room, lead.id) == ("QUALIFIED", [], [])
