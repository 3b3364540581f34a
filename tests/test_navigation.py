"""The top bar: the pages of the area you are in stand in the bar, every other area's pages sit in a menu
under its name, exactly one page is marked as the current one, and nobody is offered what their role may
not open."""

from __future__ import annotations

import re

from tests.web import sign_in


def main_nav(page: str) -> str:
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', page, re.S)
    assert nav, "the page has no main navigation"
    return nav.group(1)


def bar_links(nav: str) -> list[str]:
    """The links standing in the bar itself, not in an area's menu."""
    outside_menus = re.sub(r"<details>.*?</details>", "", nav, flags=re.S)
    return re.findall(r"<a [^>]*>([^<]+)</a>", outside_menus)


def menus(nav: str) -> dict[str, list[str]]:
    return {
        summary: re.findall(r"<a [^>]*>([^<]+)</a>", body)
        for summary, body in re.findall(r"<summary>([^<]+)</summary>(.*?)</details>", nav, re.S)
    }


async def test_an_admin_works_in_one_area_with_the_others_one_click_away(client, factory):
    shop = await factory.tenant()
    admin = await shop.user("admin", locale="en")
    await sign_in(client, admin.email)

    nav = main_nav(await (await client.get("/workshop/board")).get_data(as_text=True))
    assert bar_links(nav)[:2] == ["Job board", "New work order"]
    assert "Pipeline" not in bar_links(nav)
    areas = menus(nav)
    assert list(areas) == ["Sales", "Vehicles", "Settings"]
    assert areas["Sales"][0] == "Pipeline" and "Deals" in areas["Sales"]
    assert "Fleet board" in areas["Vehicles"] and "API tokens" in areas["Settings"]
    assert nav.count('aria-current="page"') == 1
    assert '<a href="/workshop/board" aria-current="page">Job board</a>' in nav

    nav = main_nav(await (await client.get("/sales/board")).get_data(as_text=True))
    assert bar_links(nav)[0] == "Pipeline" and list(menus(nav)) == ["Workshop", "Vehicles", "Settings"]


async def test_a_page_under_two_addresses_marks_only_the_closer_one(client, factory):
    shop = await factory.tenant()
    manager = await shop.user("workshop_manager", locale="en")
    await sign_in(client, manager.email)

    nav = main_nav(await (await client.get("/vehicles/telematics")).get_data(as_text=True))

    assert nav.count('aria-current="page"') == 1
    assert re.search(r'<a href="/vehicles/telematics" aria-current="page">Telematics</a>', nav)


async def test_a_technician_sees_only_the_workshop_and_no_menus(client, factory):
    shop = await factory.tenant()
    technician = await shop.user("technician", locale="en")
    await sign_in(client, technician.email)

    nav = main_nav(await (await client.get("/workshop/board")).get_data(as_text=True))

    assert "My jobs" in bar_links(nav)
    assert list(menus(nav)) == ["Vehicles"]  # the vehicle look-up; no sales, no settings
    assert "Fleet board" not in menus(nav)["Vehicles"]


async def test_an_areas_bare_address_opens_its_first_page_for_that_role(client, factory):
    shop = await factory.tenant()
    viewer = await shop.user("viewer", locale="en")
    await sign_in(client, viewer.email)

    for area, page in (
        ("/workshop", "/workshop/board"),
        ("/sales", "/sales/board"),
        ("/fleet", "/fleet/board"),
    ):
        response = await client.get(area)
        assert (response.status_code, response.headers["Location"]) == (302, page)
    # Nothing under Settings is open to a viewer: the area does not exist for them.
    assert (await client.get("/settings")).status_code == 404


async def test_home_is_the_pipeline_for_sales_my_jobs_for_a_technician_and_the_job_board_for_the_workshop(
    app, factory
):
    """A technician signing in on a phone landed on the whole eight-column board, not their own jobs."""
    shop = await factory.tenant()
    for role, page in (
        ("sales_rep", "/sales/board"),
        ("technician", "/workshop/my-jobs"),
        ("service_advisor", "/workshop/board"),
        ("workshop_manager", "/workshop/board"),
    ):
        user = await shop.user(role, locale="en")
        client = app.test_client()
        await sign_in(client, user.email)
        response = await client.get("/")
        assert response.headers["Location"] == page


async def test_an_area_address_asks_a_stranger_to_sign_in_first(client):
    response = await client.get("/workshop")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
