"""Pipeline board benchmark: the sales pipeline with 1,000 open leads, rendered for a signed-in manager.

    .venv/bin/python bench/pipeline_board.py --backends embedded,postgres

The figure of issue 4, on one web process per backend: a signed-in sales manager (who gets the move
menu on every card) GETs /sales/board N times in a row after a short warm-up, with exactly
`--open-leads` open leads spread over the six open stages (and `--closed-leads` won or lost in the
last 30 days, which the board shows too). Reported are p50/p99/max of the whole request as the client
sees it (body read), the cards on the page and the page size; the second row is the same board
filtered to one rep's leads (`?owner=mine`), which shows each column's newest 15 of that rep's leads
like the whole board, with counts of all of them.
Target: p99 < 50 ms.

Each backend gets a throw-away deployment (data folder; for `postgres` a fresh database and a Redis
key prefix), made with bench/live_fanout.py's own functions and removed at the end. Everything runs on
127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import httpx
import live_fanout
from live_fanout import (
    Deployment,
    _create_deployment,
    _progress,
    _remove_deployment,
    _sign_in,
    _start_servers,
    _stop_servers,
)
from sqlalchemy import func, select, update

from ops.auth.models import User
from ops.customers.models import Customer
from ops.db import Database, utcnow
from ops.events import Event
from ops.sales.leads.service import OPEN_STAGES
from ops.sales.models import LEAD_SOURCES, CatalogTrim, Lead, StockUnit

BOARD_P99_LIMIT_MS = 50.0
MANAGER_EMAIL = "sales.manager@demo.test"
REP_EMAIL = "sales@demo.test"
CARD = re.compile(r'<li class="card[^"]*" id="lead-\d+"')
# Most leads are early in the funnel, as in a real showroom.
SPREAD = {"NEW": 5, "CONTACTED": 4, "QUALIFIED": 3, "TEST_DRIVE": 2, "QUOTE": 2, "NEGOTIATION": 1}
FIRST_NAMES = ("Anna", "Beat", "Luca", "Sandra", "Nina", "Marco", "Reto", "Fabienne", "Gian", "Lea")
LAST_NAMES = ("Muster", "Gerber", "Rossi", "Huber", "Brunner", "Bianchi", "Baumann", "Steiner", "Keller")


async def _add_leads(deployment: Deployment, open_leads: int, closed_leads: int) -> int:
    """Insert customers, a few trims and units, and leads until `open_leads` are open, directly and in
    bulk (the board reads them; how they were captured does not matter here). Returns the open leads."""
    db = Database(deployment.database_url)
    try:
        async with db.read(deployment.tenant_id) as session:
            # The demo seed may bring leads of its own: top up to exactly `open_leads`.
            open_now = int(
                await session.scalar(
                    select(func.count()).select_from(Lead).where(Lead.stage.in_(OPEN_STAGES))
                )
                or 0
            )
            open_leads = max(0, open_leads - open_now)
            sales_people = list(
                (
                    await session.scalars(
                        select(User.id).where(
                            User.role.in_(("sales_rep", "sales_manager")), User.active.is_(True)
                        )
                    )
                ).all()
            )
        async with db.system(write=True) as session:
            tenant_id = deployment.tenant_id
            trims = [
                CatalogTrim(
                    tenant_id=tenant_id,
                    make="Skoda",
                    model=model,
                    year=2025,
                    trim="Bench",
                    body_style="SUV",
                    fuel_type="ELECTRIC",
                    transmission="AUTOMATIC",
                    drivetrain="AWD",
                    msrp=Decimal(price),
                )
                for model, price in (("Enyaq", "52900"), ("Kodiaq", "47900"), ("Octavia", "36900"))
            ]
            session.add_all(trims)
            await session.flush()
            session.add_all(
                StockUnit(
                    tenant_id=tenant_id,
                    vin=f"WVWZZZBENCH{index:06d}",
                    trim_id=trims[index % len(trims)].id,
                    cost=Decimal("30000"),
                    list_price=Decimal(35000 + 1000 * index),
                    arrived_on=date.today() - timedelta(days=index),
                    status="AVAILABLE",
                )
                for index in range(30)
            )
            stages = [stage for stage, weight in SPREAD.items() for _ in range(weight)]
            total = open_leads + closed_leads
            customers = [
                Customer(
                    tenant_id=tenant_id,
                    first_name=FIRST_NAMES[index % len(FIRST_NAMES)],
                    last_name=LAST_NAMES[index % len(LAST_NAMES)],
                    email=f"bench-{index}-{secrets.token_hex(3)}@example.ch",
                )
                for index in range(total)
            ]
            session.add_all(customers)
            await session.flush()
            now = utcnow()
            for index, customer in enumerate(customers):
                closed = index >= open_leads
                stage = ("WON", "LOST")[index % 2] if closed else stages[index % len(stages)]
                session.add(
                    Lead(
                        tenant_id=tenant_id,
                        customer_id=customer.id,
                        interest_trim_id=trims[index % len(trims)].id if index % 3 else None,
                        interest_note=("white, tow bar", "", "family car")[index % 3],
                        source=LEAD_SOURCES[index % len(LEAD_SOURCES)],
                        owner_id=sales_people[index % len(sales_people)],
                        stage=stage,
                        lost_reason="PRICE" if stage == "LOST" else None,
                        budget=Decimal(30000 + 500 * (index % 60)) if index % 4 else None,
                        trade_in_offered=index % 5 == 0,
                        financing_preapproved=index % 7 == 0,
                        next_action=("Call back", "Send offer", "")[index % 3],
                        next_action_on=date.today() + timedelta(days=index % 20 - 10)
                        if index % 3 != 2
                        else None,
                        last_contact_at=now - timedelta(days=index % 30) if index % 2 else None,
                        created_at=now - timedelta(days=index % 40),
                        stage_changed_at=now - timedelta(hours=index),
                        closed_at=now - timedelta(days=index % 25) if closed else None,
                    )
                )
            await session.commit()
        # Nobody watches yet; the relay need not re-send the set-up's events at the first server start.
        async with db.system(write=True) as session:
            await session.execute(update(Event).values(published_at=utcnow()))
            await session.commit()
        # As autovacuum would within a minute of the load on a real server (ops/db.py refresh_statistics).
        await db.refresh_statistics()
        async with db.read(deployment.tenant_id) as session:
            return int(
                await session.scalar(
                    select(func.count()).select_from(Lead).where(Lead.stage.in_(OPEN_STAGES))
                )
                or 0
            )
    finally:
        await db.dispose()


@dataclass
class BoardResult:
    backend: str
    view: str
    open_leads: int
    cards_on_page: int = 0
    page_kb: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


async def _measure(
    client: httpx.AsyncClient, result: BoardResult, path: str, requests: int, warm_up: int
) -> BoardResult:
    for _ in range(warm_up):
        await client.get(path)
    body = b""
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
    return result


async def measure_board(
    deployment: Deployment, open_leads: int, requests: int, warm_up: int
) -> list[BoardResult]:
    servers = await _start_servers(deployment)
    try:
        async with httpx.AsyncClient(base_url=servers.url, timeout=30) as client:
            await _sign_in(client, MANAGER_EMAIL)
            board = await _measure(
                client, BoardResult(deployment.backend, "all", open_leads), "/sales/board", requests, warm_up
            )
            mine = await _measure(
                client,
                BoardResult(deployment.backend, "owner=mine", open_leads),
                "/sales/board?owner=mine",
                requests,
                warm_up,
            )
    finally:
        _stop_servers(servers)
    return [board, mine]


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)) + " |",
        "|" + "|".join("-" * (width + 2) for width in widths) + "|",
    ]
    for row in rows:
        cells = [
            cell.rjust(width) if index > 1 else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


HEADER = ["backend", "view", "open leads", "cards", "page KB", "GETs", "p50 ms", "p99 ms", "max ms", "errors"]


def _row(result: BoardResult) -> list[str]:
    p99 = result.percentile(0.99)
    return [
        result.backend,
        result.view,
        str(result.open_leads),
        str(result.cards_on_page),
        f"{result.page_kb:.0f}",
        str(len(result.latencies_ms)),
        f"{result.percentile(0.50):.1f}",
        f"{p99:.1f}",
        f"{max(result.latencies_ms, default=float('nan')):.1f}",
        str(result.errors),
        "yes" if result.errors == 0 and p99 < BOARD_P99_LIMIT_MS else "NO",
    ]


def _load() -> str:
    return "/".join(f"{value:.1f}" for value in os.getloadavg())


async def run(args: argparse.Namespace) -> int:
    results: list[BoardResult] = []
    load_before = _load()
    # The workshop's cycling cards are live_fanout's own set-up; this bench needs none.
    live_fanout.CYCLING_CARDS = 0
    for backend in args.backends.split(","):
        _progress(f"{backend}: creating, migrating and seeding a fresh deployment")
        deployment = await _create_deployment(backend)
        try:
            _progress(f"{backend}: adding {args.open_leads} open and {args.closed_leads} closed leads")
            open_leads = await _add_leads(deployment, args.open_leads, args.closed_leads)
            _progress(f"{backend}: GET /sales/board x {args.requests}, twice")
            measured = await measure_board(deployment, open_leads, args.requests, args.warm_up)
            results.extend(measured)
            for line in _table([*HEADER, "p99 < 50"], [_row(r) for r in measured]).splitlines()[2:]:
                print(line, file=sys.stderr)
        finally:
            await _remove_deployment(deployment)
    print(f"GET /sales/board, signed in as a sales manager, {args.requests} requests one after another")
    print(_table([*HEADER, "p99 < 50"], [_row(result) for result in results]))
    print(f"load average before {load_before}, after {_load()}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", default="embedded,postgres", help="embedded, postgres or both")
    parser.add_argument("--open-leads", type=int, default=1000, help="open leads on the board")
    parser.add_argument("--closed-leads", type=int, default=100, help="won and lost in the last 30 days")
    parser.add_argument("--requests", type=int, default=300, help="board GETs measured per view")
    parser.add_argument("--warm-up", type=int, default=20, help="board GETs before measuring")
    args = parser.parse_args()
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
