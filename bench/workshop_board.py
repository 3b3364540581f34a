"""Workshop board benchmark: the job board with 500 open work orders, and a move fanned out to 200 boards.

    .venv/bin/python bench/workshop_board.py --backends embedded,postgres

The two figures of issue 3, on one web process per backend:

(a) board render: a signed-in workshop manager GETs /workshop/board N times in a row (after a short
    warm-up) with exactly `--open-orders` open work orders spread over the board's columns; reported
    are p50/p99/max of the whole request as the client sees it, and the page size. Target: p99 < 50 ms.
    The board opens with each column's first 40 cards (ops/workshop/queries.py COLUMN_LIMIT), so the
    same is measured with the longest column shown in full (?expand=NEW, "Show all").
(b) move fan-out: `--watchers` SSE connections watch the board while a writer moves cards over HTTP
    at `--rate` per second; latency from the move's commit (the event's created_at) to the message at
    each client, with lost and duplicated deliveries. Target: p99 < 100 ms. This part is
    bench/live_fanout.py's measurement (same deployment, load generators, matching and accounting),
    imported rather than copied.

Each backend gets a throw-away deployment (data folder; for `postgres` a fresh database, a Redis key
prefix and a `pitwall worker`), removed at the end. Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from dataclasses import dataclass, field

import httpx
import live_fanout
from live_fanout import (
    WATCHER_EMAIL,
    WRITER_EMAIL,
    Deployment,
    Result,
    _create_deployment,
    _progress,
    _raise_open_files_limit,
    _remove_deployment,
    _sign_in,
    _start_servers,
    _stop_servers,
    measure,
)
from sqlalchemy import func, select, update

from ops.auth.actor import Actor
from ops.auth.models import User
from ops.db import Database, utcnow
from ops.events import Event
from ops.vehicles.models import Vehicle
from ops.workshop.bays.service import create_bay
from ops.workshop.models import WorkOrder
from ops.workshop.service import (
    OPEN_STATUSES,
    NewWorkOrder,
    assign_work_order,
    create_work_order,
    move_work_order,
)

# Gives the bench's jobs in work their bays, as only a manager may add a bay.
MANAGER_EMAIL = "workshop.manager@demo.test"
BOARD_P99_LIMIT_MS = 50.0
FANOUT_P99_LIMIT_MS = 100.0
CARD = re.compile(r'<li class="card[^"]*" id="wo-\d+"')
# Where the extra cards go, so that every column of the board has cards, most of them early in the day.
SPREAD = {"NEW": 4, "SCHEDULED": 4, "CHECKED_IN": 1, "IN_PROGRESS": 1}
PATHS = {
    "NEW": (),
    "SCHEDULED": ("SCHEDULED",),
    "CHECKED_IN": ("CHECKED_IN",),
    "IN_PROGRESS": ("CHECKED_IN", "IN_PROGRESS"),
}


async def _top_up_open_orders(deployment: Deployment, target: int) -> int:
    """Add work orders until exactly `target` are open (the demo seed brings a few of its own)."""
    db = Database(deployment.database_url)
    try:
        async with db.read(deployment.tenant_id) as session:
            open_now = int(
                await session.scalar(
                    select(func.count()).select_from(WorkOrder).where(WorkOrder.status.in_(OPEN_STATUSES))
                )
                or 0
            )
            vehicle_ids = list((await session.scalars(select(Vehicle.id))).all())
            advisor_id = await session.scalar(select(User.id).where(User.email == WATCHER_EMAIL))
            manager_id = await session.scalar(select(User.id).where(User.email == MANAGER_EMAIL))
        if open_now > target:
            raise RuntimeError(f"the demo seed alone has {open_now} open work orders, more than {target}")
        advisor = Actor(deployment.tenant_id, advisor_id, "Bench", "service_advisor", locale="en")
        manager = Actor(deployment.tenant_id, manager_id, "Bench", "workshop_manager", locale="en")
        statuses = [status for status, weight in SPREAD.items() for _ in range(weight)]
        for index in range(target - open_now):
            async with db.uow(advisor) as uow:
                work_order = await create_work_order(
                    uow,
                    NewWorkOrder(
                        vehicle_id=vehicle_ids[index % len(vehicle_ids)],
                        complaint=f"Bench card {index}: rattling noise from the front axle over bumps.",
                        priority=("LOW", "NORMAL", "NORMAL", "HIGH", "URGENT")[index % 5],
                    ),
                )
            path = PATHS[statuses[index % len(statuses)]]
            if "IN_PROGRESS" in path:
                # A job goes into work on a bay, one job per bay: each bench job in work has its own.
                async with db.uow(manager) as uow:
                    bay = await create_bay(uow, name=f"Bench lift {index}", kind="LIFT")
                async with db.uow(manager) as uow:
                    work_order = await assign_work_order(uow, work_order.id, None, bay.id, work_order.version)
            for step in path:
                async with db.uow(advisor) as uow:
                    work_order = await move_work_order(uow, work_order.id, step, work_order.version)
        # Nobody watches yet; the relay need not re-send the set-up's events at the first server start.
        async with db.system(write=True) as session:
            await session.execute(update(Event).values(published_at=utcnow()))
            await session.commit()
        # As autovacuum would within a minute of the load on a real server (ops/db.py refresh_statistics).
        await db.refresh_statistics()
        async with db.read(deployment.tenant_id) as session:
            return int(
                await session.scalar(
                    select(func.count()).select_from(WorkOrder).where(WorkOrder.status.in_(OPEN_STATUSES))
                )
                or 0
            )
    finally:
        await db.dispose()


@dataclass
class BoardResult:
    backend: str
    open_orders: int
    path: str = "/workshop/board"
    cards_on_page: int = 0
    page_kb: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


async def measure_board(
    deployment: Deployment, open_orders: int, requests: int, warm_up: int, path: str = "/workshop/board"
) -> BoardResult:
    result = BoardResult(deployment.backend, open_orders, path)
    servers = await _start_servers(deployment)
    try:
        async with httpx.AsyncClient(base_url=servers.url, timeout=30) as client:
            await _sign_in(client, WRITER_EMAIL)
            for _ in range(warm_up):
                await client.get(path)
            for _ in range(requests):
                started = time.perf_counter()
                response = await client.get(path)
                body = response.content
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    result.errors += 1
                    continue
                result.latencies_ms.append(elapsed)
            result.cards_on_page = len(CARD.findall(body.decode()))
            result.page_kb = len(body) / 1024
    finally:
        _stop_servers(servers)
    return result


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)) + " |",
        "|" + "|".join("-" * (width + 2) for width in widths) + "|",
    ]
    for row in rows:
        cells = [
            cell.rjust(width) if index else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _verdict(p99: float, limit: float, clean: bool) -> str:
    return "yes" if clean and p99 < limit else "NO"


def _board_row(result: BoardResult) -> list[str]:
    return [
        result.backend,
        result.path.removeprefix("/workshop"),
        str(result.open_orders),
        str(result.cards_on_page),
        f"{result.page_kb:.0f}",
        str(len(result.latencies_ms)),
        f"{result.percentile(0.50):.1f}",
        f"{result.percentile(0.99):.1f}",
        f"{max(result.latencies_ms, default=float('nan')):.1f}",
        str(result.errors),
        _verdict(result.percentile(0.99), BOARD_P99_LIMIT_MS, result.errors == 0),
    ]


def _fanout_row(result: Result) -> list[str]:
    clean = result.lost == 0 and result.duplicates == 0 and result.move_errors == 0
    return [
        result.backend,
        str(result.clients),
        f"{result.moves_per_second:.1f}",
        str(result.moves),
        f"{result.deliveries:,}",
        f"{result.p50:.1f}",
        f"{result.p99:.1f}",
        f"{result.max:.1f}",
        str(result.lost),
        str(result.duplicates),
        f"{result.cpu_percent:.0f}",
        f"{result.percentile(result.post_ms, 0.99):.0f}",
        _verdict(result.p99, FANOUT_P99_LIMIT_MS, clean),
    ]


BOARD_HEADER = ["backend", "GET", "open WOs", "cards", "page KB", "GETs"]
BOARD_HEADER += ["p50 ms", "p99 ms", "max ms", "errors"]
FANOUT_HEADER = ["backend", "watchers", "moves/s", "moves", "deliveries", "p50 ms", "p99 ms", "max ms"]
FANOUT_HEADER += ["lost", "dup", "CPU %", "POST p99"]


def _load() -> str:
    return "/".join(f"{value:.1f}" for value in os.getloadavg())


async def run(args: argparse.Namespace) -> int:
    boards: list[BoardResult] = []
    fanouts: list[Result] = []
    load_before = _load()
    # The demo seed's own cards are enough to cycle: the top-up adds the rest of the 500.
    live_fanout.CYCLING_CARDS = 0
    for backend in args.backends.split(","):
        _progress(f"{backend}: creating, migrating and seeding a fresh deployment")
        deployment = await _create_deployment(backend)
        try:
            _progress(f"{backend}: topping up to {args.open_orders} open work orders")
            open_orders = await _top_up_open_orders(deployment, args.open_orders)
            # The board as it opens (each column's first cards), and with its longest column in full.
            for path in ("/workshop/board", "/workshop/board?expand=NEW"):
                _progress(f"{backend}: GET {path} x {args.requests}")
                board = await measure_board(deployment, open_orders, args.requests, args.warm_up, path)
                boards.append(board)
                line = _table([*BOARD_HEADER, "p99 < 50"], [_board_row(board)]).splitlines()[-1]
                print(line, file=sys.stderr)
            _progress(f"{backend}: {args.watchers} watchers, {args.rate:g} moves/s for {args.duration:g}s")
            fanout = await measure(deployment, args.watchers, args.rate, args.duration, args.generators)
            fanouts.append(fanout)
            print(
                _table([*FANOUT_HEADER, "p99 < 100"], [_fanout_row(fanout)]).splitlines()[-1], file=sys.stderr
            )
        finally:
            await _remove_deployment(deployment)
    print(f"(a) GET the board, signed in, {args.requests} requests one after another")
    print(_table([*BOARD_HEADER, "p99 < 50"], [_board_row(board) for board in boards]))
    print()
    print(f"(b) a move committed and fanned out to {args.watchers} SSE watchers, {args.rate:g} moves/s")
    print(_table([*FANOUT_HEADER, "p99 < 100"], [_fanout_row(fanout) for fanout in fanouts]))
    print(
        "latency (b): event created_at (commit) -> message at the client; CPU: web process, 100 = one core;"
        f" load average before {load_before}, after {_load()}"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", default="embedded,postgres", help="embedded, postgres or both")
    parser.add_argument("--open-orders", type=int, default=500, help="open work orders on the board")
    parser.add_argument("--requests", type=int, default=300, help="board GETs measured")
    parser.add_argument("--warm-up", type=int, default=20, help="board GETs before measuring")
    parser.add_argument("--watchers", type=int, default=200, help="SSE connections watching the board")
    parser.add_argument("--rate", type=float, default=10, help="moves per second")
    parser.add_argument("--duration", type=float, default=10, help="seconds of moving")
    parser.add_argument("--generators", type=int, default=2, help="load-generator processes")
    args = parser.parse_args()
    _raise_open_files_limit()
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
