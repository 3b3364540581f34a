"""Driving the job board in headless Chromium the way a person does, and reading back what it shows."""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from playwright.async_api import Dialog, Locator, Page, Request, expect

from ops.db import Database
from ops.workshop import queries
from tests.factories import PASSWORD

# Installed before any page script runs: records the live messages the page handled and every CSP
# violation, so a test can say exactly what arrived and that nothing was blocked.
RECORDER_SCRIPT = """
window.pitwallTest = { messages: [], violations: [] };
document.addEventListener("htmx:sseMessage", function (event) {
  window.pitwallTest.messages.push({ type: event.detail.type, id: event.detail.lastEventId });
});
document.addEventListener("securitypolicyviolation", function (event) {
  window.pitwallTest.violations.push(event.violatedDirective + " " + event.blockedURI);
});
"""

# Every card id per column, top to bottom, as the page shows them.
READ_COLUMNS_SCRIPT = """
() => Object.fromEntries(Array.from(document.querySelectorAll("#board .cards")).map(
  (list) => [list.dataset.status, Array.from(list.children).map((card) => Number(card.id.slice(3)))]))
"""


@dataclass
class LiveMessage:
    type: str
    id: str


@dataclass
class BoardPage:
    """One person's browser tab on a live server."""

    page: Page
    console_errors: list[str] = field(default_factory=list)

    @classmethod
    async def open(cls, page: Page) -> BoardPage:
        board = cls(page)
        page.on("console", lambda message: board._on_console(message.type, message.text))
        page.on("pageerror", lambda error: board.console_errors.append(f"uncaught: {error}"))
        await page.add_init_script(RECORDER_SCRIPT)
        return board

    def _on_console(self, kind: str, text: str) -> None:
        if kind == "error":
            self.console_errors.append(text)

    async def sign_in(self, email: str, password: str = PASSWORD) -> None:
        """Sign in through the form and wait for the home page: the sales team's pipeline, a
        technician's own jobs, everybody else's job board."""
        await self.page.goto("/login")
        await self.page.get_by_label("Email").fill(email)
        await self.page.get_by_label("Password").fill(password)
        await self.page.get_by_role("button", name="Sign in").click()
        await self.page.wait_for_url(re.compile(r"/(workshop/board|workshop/my-jobs|sales/board)$"))

    async def wait_until_live(self) -> None:
        await expect(self.connection).to_have_attribute("data-connection", "live")

    @property
    def connection(self) -> Locator:
        return self.page.locator("[data-connection]")

    @property
    def presence(self) -> Locator:
        return self.page.locator("[data-presence-topic]")

    @property
    def announcer(self) -> Locator:
        return self.page.locator("#announcer")

    def card(self, work_order_id: int) -> Locator:
        return self.page.locator(f"#wo-{work_order_id}")

    def card_in(self, status: str, work_order_id: int) -> Locator:
        return self.page.locator(f"#cards-{status} > #wo-{work_order_id}")

    def count(self, status: str) -> Locator:
        return self.page.locator(f"#count-{status}")

    def toast(self, kind: str) -> Locator:
        return self.page.locator(f"#toasts .toast-{kind}")

    async def tab_to(self, target: Locator, key: str = "Tab") -> None:
        """Press `key` until `target` has the focus, as a keyboard user would. The bound only stops a
        loop that can never get there; how many stops lie before the target is not the point."""
        for _ in range(150):
            if await target.evaluate("element => element === document.activeElement"):
                return
            await self.page.keyboard.press(key)
        raise AssertionError(f"{key} never reaches {target}")

    async def move_with_menu(self, work_order_id: int, status: str, *, expect_status: int = 200) -> None:
        """Pick the status in the card's move menu and press its Move button."""
        await self.page.select_option(f"#move-{work_order_id}", status)
        async with self.page.expect_response(
            lambda r: f"/work-orders/{work_order_id}/move" in r.url
        ) as answer:
            await self.card(work_order_id).get_by_role("button", name="Move").click()
        assert (await answer.value).status == expect_status

    async def columns(self) -> dict[str, list[int]]:
        return await self.page.evaluate(READ_COLUMNS_SCRIPT)  # type: ignore[no-any-return]

    async def live_messages(self) -> list[LiveMessage]:
        raw = await self.page.evaluate("window.pitwallTest.messages")
        return [LiveMessage(str(m["type"]), str(m["id"])) for m in raw]

    async def csp_violations(self) -> list[str]:
        return await self.page.evaluate("window.pitwallTest.violations")  # type: ignore[no-any-return]


def answer_next_question(page: Page, *, yes: bool, asked: list[str] | None = None) -> None:
    """Answer the next confirm() dialog (a destructive action asks first), noting its question."""

    async def answer(dialog: Dialog) -> None:
        if asked is not None:
            asked.append(dialog.message)
        await (dialog.accept() if yes else dialog.dismiss())

    page.once("dialog", answer)


async def resume_id_of(request: Request) -> str | None:
    """The live position a /live request asks to resume from: the header a browser's own reconnect
    sends, else the query parameter the page (or app.js after an error) put in the URL."""
    header = (await request.all_headers()).get("last-event-id")
    if header:
        return header
    return parse_qs(urlsplit(request.url).query).get("last_event_id", [None])[0]


async def board_in_database(db: Database, tenant_id: int) -> dict[str, list[int]]:
    async with db.read(tenant_id) as session:
        columns = await queries.board_columns(session)
    return {status: [card.id for card in cards] for status, cards in columns.items()}


async def eventually_equal(read_page, read_truth) -> None:  # type: ignore[no-untyped-def]
    """Wait (15 s at least) until the page shows what the database holds; fail with both if it never does."""
    for _attempt in range(150):
        shown, truth = await read_page(), await read_truth()
        if shown == truth:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the page shows {shown}\nbut the database holds {truth}")


class Cable:
    """A TCP forwarder between one browser and the live server that a test can unplug and plug back,
    like a laptop lid closing: open connections drop and new ones are refused until it is plugged."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.BaseTransport] = set()
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def plug(self) -> None:
        self._server = await asyncio.start_server(self._connect, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def unplug(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for transport in list(self._transports):
            transport.abort()

    async def close(self) -> None:
        await self.unplug()
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _connect(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.transport.abort()
            return
        transports = {client_writer.transport, server_writer.transport}
        self._transports |= transports
        pipes = [
            asyncio.create_task(self._pipe(client_reader, server_writer)),
            asyncio.create_task(self._pipe(server_reader, client_writer)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.gather(*pipes, return_exceptions=True)
        finally:
            self._pipes.difference_update(pipes)
            self._transports -= transports

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()
