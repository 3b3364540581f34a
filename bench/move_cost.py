"""What one card move costs the web process, in process: its statements and its CPU.

    .venv/bin/python bench/move_cost.py --backends embedded,postgres

bench/live_fanout.py's 50 moves/s target is a CPU budget: the moves' requests and the hub's fan-out
share one core. This measures the move's own part, without sockets or watchers: the job board's
writer (WRITER_EMAIL) moves the same cycling cards between New and Scheduled through Quart's test
client, with the headers the board's move menu sends, so the answer is the card and both column
counts. Reported per backend: the SQL statements one move runs (total, and by kind in the second
table), and CPU and wall time per move, the best of three rounds of `--moves`. The hub runs too (the
move's event is published), but with nobody watching it renders and writes nothing. The test client
adds a little of its own CPU to each request (GET /healthz: about 0.9 ms here).

Each backend gets a throw-away deployment made with bench/live_fanout.py's functions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from collections import Counter
from typing import Any

from live_fanout import (
    NEXT_STATUS,
    WRITER_EMAIL,
    Card,
    _create_deployment,
    _cycling_cards,
    _remove_deployment,
)
from sqlalchemy import event
from workshop_board import _table

from ops.app import create_app
from ops.config import load_settings
from ops.seed import DEMO_PASSWORD

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
WARM_UP_MOVES = 50


class StatementCounter:
    """Counts the statements the given engines run while `counting` is set, by verb and table."""

    def __init__(self, engines: list[Any]) -> None:
        self.counting = False
        self.kinds: Counter[str] = Counter()
        for engine in engines:
            event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.counting:
            self.kinds[_kind(statement)] += 1


def _kind(statement: str) -> str:
    """`SELECT ... FROM work_orders ...` as `SELECT work_orders`, `INSERT INTO events` as `INSERT events`."""
    words = statement.replace("(", " ").split()
    verb = words[0].upper()
    table = next((words[i + 1] for i, word in enumerate(words[:-1]) if word.upper() in ("FROM", "INTO")), "")
    return f"{verb} {words[1] if verb == 'UPDATE' else table}"


async def measure(backend: str, moves: int) -> tuple[list[str], list[list[str]]]:
    deployment = await _create_deployment(backend)
    try:
        os.environ.update(deployment.env)
        app = create_app(load_settings())
        async with app.test_app():
            runtime = app.extensions["pitwall"]
            db = runtime.db
            # On PostgreSQL the write engine is the read engine with options: its statements reach
            # the read engine's listeners too, so it gets none of its own.
            separate = db.write_engine.pool is not db.engine.pool
            counter = StatementCounter(
                [db.engine.sync_engine, *([db.write_engine.sync_engine] if separate else [])]
            )
            client = app.test_client()
            page = await client.get("/login")
            token = CSRF_META.search(await page.get_data(as_text=True))
            assert token, "the sign-in page has no CSRF token"
            form = {"email": WRITER_EMAIL, "password": DEMO_PASSWORD, "csrf_token": token.group(1)}
            assert (await client.post("/login", form=form)).status_code == 302
            token = CSRF_META.search(await (await client.get("/workshop/board")).get_data(as_text=True))
            assert token, "the board has no CSRF token"
            headers = {"X-CSRF-Token": token.group(1), "HX-Request": "true"}
            cards = await _cycling_cards(runtime.db, deployment.tenant_id)
            turn = 0

            async def move() -> None:
                nonlocal turn
                card: Card = cards[turn % len(cards)]
                turn += 1
                target = NEXT_STATUS[card.status]
                response = await client.post(
                    f"/workshop/work-orders/{card.id}/move",
                    form={"status": target, "version": str(card.version)},
                    headers=headers,
                )
                assert response.status_code == 200, response.status_code
                card.status, card.version = target, card.version + 1

            for _ in range(WARM_UP_MOVES):
                await move()
            counter.counting = True
            await move()
            counter.counting = False
            rounds = []
            for _ in range(3):
                cpu, wall = time.process_time(), time.perf_counter()
                for _ in range(moves):
                    await move()
                rounds.append(((time.process_time() - cpu) / moves, (time.perf_counter() - wall) / moves))
            cpu_per_move, wall_per_move = min(rounds)
        row = [
            backend,
            str(sum(counter.kinds.values())),
            f"{cpu_per_move * 1000:.2f}",
            f"{wall_per_move * 1000:.2f}",
        ]
        kinds = [[backend, kind, str(count)] for kind, count in sorted(counter.kinds.items())]
        return row, kinds
    finally:
        await _remove_deployment(deployment)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="embedded,postgres")
    parser.add_argument("--moves", type=int, default=300, help="moves per round (three rounds)")
    args = parser.parse_args()
    rows, kinds = [], []
    for backend in args.backends.split(","):
        row, backend_kinds = await measure(backend, args.moves)
        rows.append(row)
        kinds += backend_kinds
    print(_table(["backend", "statements per move", "CPU ms per move", "wall ms per move"], rows))
    print()
    print(_table(["backend", "statement", "per move"], kinds))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
