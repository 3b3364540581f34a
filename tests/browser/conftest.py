"""Headless Chromium (Debian's, driven by Playwright) against the real app on Hypercorn.

One browser for the whole session; every page gets its own context, so two pages are two people with
their own cookies. Run just these with `.venv/bin/pytest -q tests/browser` (both backends) or add
`PITWALL_TEST_BACKENDS=embedded` for one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, BrowserContext, async_playwright, expect

from tests.browser.pages import BoardPage, Cable
from tests.conftest import LiveServer
from tests.factories import TenantFactory, TenantHandle

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Wide enough that all eight columns of the board are on screen at once, as on a wall screen.
WIDE = {"width": 1600, "height": 1000}
PHONE = {"width": 390, "height": 844}

# Two cores shared with other test runs: give the page time rather than fail on a slow moment.
expect.set_options(timeout=15_000)

OpenPage = Callable[..., Awaitable[BoardPage]]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def open_page(browser: Browser, live_server: LiveServer) -> AsyncIterator[OpenPage]:
    """`await open_page()` opens a fresh browser context on the live server (or on `base_url`), with a
    wall screen's viewport or, with `phone=True`, a phone's (touch, and a page wider than the screen
    makes it zoom out as a real phone does)."""
    contexts: list[BrowserContext] = []

    async def open_(*, base_url: str | None = None, phone: bool = False) -> BoardPage:
        context = await browser.new_context(
            base_url=base_url or live_server.url,
            viewport=PHONE if phone else WIDE,
            is_mobile=phone,
            has_touch=phone,
            locale="en-US",
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return await BoardPage.open(await context.new_page())

    yield open_
    for context in contexts:
        await context.close()


@pytest.fixture
async def shop(live_server: LiveServer) -> TenantHandle:
    """A dealership created through the live server's own database, so its events reach its hub."""
    return await TenantFactory(live_server.runtime.db).tenant()


@pytest.fixture
async def cable(live_server: LiveServer) -> AsyncIterator[Cable]:
    """A pluggable connection to the live server: open a page on `cable.url` to be able to cut it."""
    port = urlsplit(live_server.url).port
    assert port is not None
    forwarder = Cable(port)
    await forwarder.plug()
    try:
        yield forwarder
    finally:
        await forwarder.close()
