"""Settings > Users in Chromium while another administrator works on the same dealership's users: the
list follows their changes without a reload, but never under the hands of someone choosing a role."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import expect

from ops.auth.service import change_role, set_user_active

pytestmark = pytest.mark.browser


async def test_the_list_follows_another_admins_changes_but_not_while_a_role_is_being_chosen(
    open_page, shop, tmp_path
):
    nina = await shop.user("technician", locale="en", name="Nina Brunner")
    await shop.user("technician", locale="en", name="Luca Rossi")
    boss = await shop.user("admin", locale="en", name="Martina Keller")
    admin = await open_page()
    await admin.sign_in(boss.email)
    await admin.page.goto("/settings/users")
    await admin.wait_until_live()
    nina_row = admin.page.get_by_role("row", name="Nina Brunner")
    luca_role = admin.page.get_by_label("Role of Luca Rossi", exact=True)

    async with shop.db.uow(shop.admin.actor) as uow:
        await set_user_active(uow, nina.actor.user_id, False)

    await expect(nina_row).to_contain_text("Deactivated")
    await expect(nina_row.get_by_role("button", name="Reactivate Nina Brunner")).to_be_visible()
    await expect(admin.page.locator(".seats")).to_contain_text("3 of")
    await admin.page.screenshot(path=str(tmp_path / "users-live.png"), full_page=True)

    # Choosing a role for Luca, not yet saved, while someone else reactivates Nina.
    await luca_role.select_option("service_advisor")
    async with shop.db.uow(shop.admin.actor) as uow:
        await set_user_active(uow, nina.actor.user_id, True)
    await asyncio.sleep(1.5)
    await expect(luca_role).to_have_value("service_advisor")
    await expect(nina_row).to_contain_text("Deactivated")

    # Done choosing: saving reloads the page, which shows both changes.
    await admin.page.get_by_role("button", name="Save the role of Luca Rossi").click()
    await expect(admin.page.get_by_label("Role of Luca Rossi", exact=True)).to_have_value("service_advisor")
    await expect(nina_row).not_to_contain_text("Deactivated")

    # With nothing being chosen, a change that comes while the focus is elsewhere shows at once.
    async with shop.db.uow(shop.admin.actor) as uow:
        await change_role(uow, nina.actor.user_id, "viewer")
    await expect(admin.page.get_by_label("Role of Nina Brunner", exact=True)).to_have_value("viewer")
    assert admin.console_errors == []
