"""Who may see and change leads, and that another dealership's lead answers 404 everywhere."""

from __future__ import annotations

from tests.sales.leads.helpers import BOARD, columns_of, new_lead, sign_in, stored_lead


async def test_another_dealerships_lead_is_not_found_on_every_route(client, factory):
    shop, other = await factory.tenant(), await factory.tenant()
    lead = await new_lead(shop)
    stranger = await other.user("sales_manager", locale="en")
    csrf = await sign_in(client, stranger.email)

    for path in (f"/sales/leads/{lead.id}", f"/sales/leads/{lead.id}/edit"):
        assert (await client.get(path)).status_code == 404, path
    for path, form in (
        (f"/sales/leads/{lead.id}/move", {"stage": "CONTACTED", "version": "1"}),
        (f"/sales/leads/{lead.id}/move", {"stage": "LOST", "version": "1"}),
        (f"/sales/leads/{lead.id}/edit", {"source": "WEB", "version": "1"}),
        (f"/sales/leads/{lead.id}/contacted", {}),
    ):
        response = await client.post(path, form={"csrf_token": csrf, **form})
        assert response.status_code == 404, path
    shown = columns_of(await (await client.get(BOARD)).get_data(as_text=True))
    assert all(lead.id not in ids for ids in shown.values())
    stored = await stored_lead(shop.db, shop.id, lead.id)
    assert (stored.stage, stored.version) == ("NEW", 1)


async def test_a_viewer_sees_the_board_and_leads_but_cannot_change_them(client, factory):
    shop = await factory.tenant()
    lead = await new_lead(shop)
    viewer = await shop.user("viewer", locale="en")
    csrf = await sign_in(client, viewer.email)

    board = await (await client.get(BOARD)).get_data(as_text=True)
    assert columns_of(board)["NEW"] == [lead.id]
    assert 'name="stage"' not in board and "can-move" not in board and "lost-dialog" not in board
    page = await client.get(f"/sales/leads/{lead.id}")
    assert page.status_code == 200 and "Edit lead" not in await page.get_data(as_text=True)

    assert (await client.get("/sales/leads/new")).status_code == 403
    assert (await client.get(f"/sales/leads/{lead.id}/edit")).status_code == 403
    move = await client.post(
        f"/sales/leads/{lead.id}/move", form={"csrf_token": csrf, "stage": "CONTACTED", "version": "1"}
    )
    assert move.status_code == 403
    created = await client.post("/sales/leads", form={"csrf_token": csrf, "source": "WEB"})
    assert created.status_code == 403
    assert (await stored_lead(shop.db, shop.id, lead.id)).stage == "NEW"


async def test_workshop_staff_do_not_see_the_pipeline(app, factory):
    shop = await factory.tenant()
    lead = await new_lead(shop)
    for role in ("technician", "service_advisor", "workshop_manager"):
        user = await shop.user(role, locale="en")
        client = app.test_client()
        await sign_in(client, user.email)
        assert (await client.get(BOARD)).status_code == 403, role
        assert (await client.get(f"/sales/leads/{lead.id}")).status_code == 403, role
        page = await (await client.get("/workshop/board")).get_data(as_text=True)
        assert 'href="/sales/board"' not in page, role


async def test_the_navigation_offers_the_pipeline_to_sales_and_viewers_only(client, factory):
    shop = await factory.tenant()
    rep = await shop.user("sales_rep", locale="en")
    await sign_in(client, rep.email)
    page = await (await client.get(BOARD)).get_data(as_text=True)
    assert '<a href="/sales/board" aria-current="page">Pipeline</a>' in page
