"""The bay view: GET /workshop/bays, what is on each bay now and what comes next."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import update

from ops.db import utcnow
from ops.workshop.bays.service import create_bay, update_bay
from ops.workshop.models import WorkOrder
from tests.web import sign_in


def bay_section(page: str, name: str) -> str:
    match = re.search(
        r'<section class="bay[^"]*"[^>]*>\s*<h2[^>]*><span>' + re.escape(name) + r"</span>.*?</section>",
        page,
        re.S,
    )
    assert match, f"bay {name} is not on the page"
    return match.group(0)


def text(markup: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", markup).split())


async def _place(shop, work_order_id: int, **values) -> None:  # type: ignore[no-untyped-def]
    async with shop.db.uow(shop.admin.actor) as uow:
        await uow.session.execute(update(WorkOrder).where(WorkOrder.id == work_order_id).values(**values))
        await uow.commit()


async def test_each_bay_shows_the_job_on_it_now_and_the_next_ones_by_start(client, factory):
    """A manager glancing at the wall must see which lift is busy with what, and what comes next."""
    shop = await factory.tenant()
    manager = await shop.user("workshop_manager", locale="en")
    technician = await shop.user("technician", name="Nina Brunner")
    async with shop.db.uow(manager.actor) as uow:
        lift = await create_bay(uow, name="Hebebühne 1", kind="LIFT")
    async with shop.db.uow(manager.actor) as uow:
        ev = await create_bay(uow, name="EV-Platz", kind="EV")
    async with shop.db.uow(manager.actor) as uow:
        retired = await create_bay(uow, name="Alte Grube", kind="LIFT")
    async with shop.db.uow(manager.actor) as uow:
        await update_bay(uow, retired.id, name="Alte Grube", kind="LIFT", active=False)
    now = utcnow()
    on_lift = await shop.work_order(status="IN_PROGRESS")
    await _place(
        shop,
        on_lift.id,
        bay_id=lift.id,
        occupied_bay_id=lift.id,
        technician_id=technician.actor.user_id,
        checked_in_at=now - timedelta(minutes=65),
    )
    later, sooner, done = [await shop.work_order(status="SCHEDULED") for _ in range(3)]
    await _place(shop, later.id, bay_id=lift.id, scheduled_start=now + timedelta(hours=3))
    await _place(shop, sooner.id, bay_id=lift.id, scheduled_start=now + timedelta(hours=1))
    # A job that is ready has left the bay's queue even though it was booked on it.
    done_ready = await shop.work_order(status="READY")
    await _place(shop, done_ready.id, bay_id=lift.id, scheduled_start=now + timedelta(minutes=30))
    await _place(shop, done.id, bay_id=ev.id, scheduled_start=now + timedelta(hours=2))
    await sign_in(client, manager.email)

    page = await (await client.get("/workshop/bays")).get_data(as_text=True)

    lift_text = text(bay_section(page, "Hebebühne 1"))
    now_part, next_part = lift_text.split(" Next ")
    assert on_lift.code in now_part and "In progress" in now_part
    assert "Nina Brunner" in now_part and "1 h 5 min" in now_part
    assert next_part.index(sooner.code) < next_part.index(later.code)
    assert done_ready.code not in lift_text
    ev_text = text(bay_section(page, "EV-Platz"))
    assert "Free" in ev_text and done.code in ev_text
    assert "Alte Grube" not in page
    # Live: the page listens to the workshop topic and re-reads its fragment.
    assert re.search(r'sse-connect="/live\?topic=workshop[^"]*"', page)
    assert 'hx-trigger="sse:update delay:300ms, sse:reset, every 60s"' in page


async def test_the_fragment_is_the_same_block_as_the_page(client, factory):
    shop = await factory.tenant()
    async with shop.db.uow(shop.admin.actor) as uow:
        await create_bay(uow, name="Waschplatz", kind="WASH")
    await sign_in(client, (await shop.user("admin", locale="en")).email)

    fragment = await (await client.get("/workshop/bays", headers={"HX-Request": "true"})).get_data(
        as_text=True
    )

    assert fragment.lstrip().startswith('<div id="bay-view"')
    assert "Waschplatz" in fragment and "<html" not in fragment


async def test_no_bays_is_an_empty_state_that_offers_to_add_one(client, factory):
    shop = await factory.tenant()
    manager = await shop.user("workshop_manager", locale="en")
    await sign_in(client, manager.email)

    page = await (await client.get("/workshop/bays")).get_data(as_text=True)

    assert "No bays in use." in page and "/workshop/bays/new" in page


async def test_sales_staff_do_not_see_the_bay_view(client, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    await sign_in(client, rep.email)

    assert (await client.get("/workshop/bays")).status_code == 403
