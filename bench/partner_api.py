"""Partner API benchmark: requests per second and latency of the /api/v1 routes on one web process.

    .venv/bin/python bench/partner_api.py --backends embedded,postgres --clients 8 --duration 10

Per backend a throw-away deployment (bench/live_fanout.py's: data folder, demo tenant; for `postgres`
a fresh database, a Redis key prefix and a `pitwall worker`), one `pitwall serve`, and one API token
with every scope (its rate limits raised for the run through PITWALL_API_*_PER_WINDOW, so the figures
are the server's and not the limiter's). `--clients` concurrent clients then run each phase closed-loop
(a client sends again as soon as it has its answer) for `--duration` seconds:

- **list**: `GET /api/v1/customers?pageSize=20` (auth, rate limit, count and page);
- **get**: `GET /api/v1/work-orders/<id>` over the demo's work orders;
- **create**: `POST /api/v1/customers` with a new `Idempotency-Key` each (claim, service, stored answer);
- **replay**: the same POSTs again with their keys (the stored answer, nothing written).

Reported per phase: requests/s answered with the expected status, p50/p95/p99/max of the request as
the client sees it (body read), answers with another status, and the web process's CPU time per
request (from /proc; the machine's other load does not inflate it). DOMAIN.md's figure: API p95 <
500 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from live_fanout import (
    Deployment,
    _create_deployment,
    _progress,
    _remove_deployment,
    _start_servers,
    _stop_servers,
)
from sqlalchemy import select

from ops.auth.actor import Actor
from ops.auth.service import API_SCOPES, create_api_token
from ops.db import Database
from ops.workshop.models import WorkOrder

P95_LIMIT_MS = 500.0
Request = Callable[[httpx.AsyncClient, int], tuple[str, str, dict[str, str], object, int]]


@dataclass
class Phase:
    name: str
    duration: float
    latencies_ms: list[float] = field(default_factory=list)
    unexpected: int = 0
    elapsed: float = 0.0
    server_cpu_s: float = 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        return self.server_cpu_s * 1000 / max(1, len(self.latencies_ms))

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def _token_and_ids(deployment: Deployment) -> tuple[str, list[int]]:
    db = Database(deployment.database_url)
    try:
        async with db.uow(Actor.system(deployment.tenant_id, "bench")) as uow:
            issued = await create_api_token(uow, name="Bench", scopes=list(API_SCOPES))
        async with db.read(deployment.tenant_id) as session:
            ids = list((await session.scalars(select(WorkOrder.id))).all())
        return issued.raw, ids
    finally:
        await db.dispose()


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far: what a request costs the server, whatever
    else the machine is busy with."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _run_phase(
    base_url: str,
    token: str,
    phase: Phase,
    clients: int,
    build: Callable[[int], tuple[str, str, dict[str, str], object, int]],
) -> Phase:
    counter = iter(range(10**9))
    deadline = time.perf_counter() + phase.duration

    async def client_loop() -> None:
        async with httpx.AsyncClient(
            base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {token}"}
        ) as http:
            while time.perf_counter() < deadline:
                method, path, headers, body, expected = build(next(counter))
                started = time.perf_counter()
                response = await http.request(method, path, headers=headers, json=body)
                await response.aread()
                phase.latencies_ms.append((time.perf_counter() - started) * 1000)
                if response.status_code != expected:
                    phase.unexpected += 1

    started = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(clients)))
    phase.elapsed = time.perf_counter() - started
    return phase


async def measure(deployment: Deployment, clients: int, duration: float) -> list[Phase]:
    token, work_order_ids = await _token_and_ids(deployment)
    run_id = secrets.token_hex(3)
    servers = await _start_servers(deployment)
    try:
        url = servers.url
        phases: list[Phase] = []
        plans: list[tuple[str, Callable[[int], tuple[str, str, dict[str, str], object, int]]]] = [
            ("list", lambda n: ("GET", "/api/v1/customers?pageSize=20", {}, None, 200)),
            (
                "get",
                lambda n: (
                    "GET",
                    f"/api/v1/work-orders/{work_order_ids[n % len(work_order_ids)]}",
                    {},
                    None,
                    200,
                ),
            ),
        ]
        created: list[int] = []

        def create(n: int) -> tuple[str, str, dict[str, str], object, int]:
            created.append(n)
            body = {"first_name": "Bench", "last_name": f"Partner {run_id}-{n}"}
            return "POST", "/api/v1/customers", {"Idempotency-Key": f"{run_id}-{n}"}, body, 201

        def replay(n: int) -> tuple[str, str, dict[str, str], object, int]:
            original = created[n % len(created)]
            body = {"first_name": "Bench", "last_name": f"Partner {run_id}-{original}"}
            return "POST", "/api/v1/customers", {"Idempotency-Key": f"{run_id}-{original}"}, body, 201

        plans += [("create", create), ("replay", replay)]
        for name, build in plans:
            _progress(f"{deployment.backend}: {name} with {clients} clients for {duration:g}s")
            cpu_before = _cpu_seconds(servers.web.pid)
            phase = await _run_phase(url, token, Phase(name, duration), clients, build)
            phase.server_cpu_s = _cpu_seconds(servers.web.pid) - cpu_before
            phases.append(phase)
        return phases
    finally:
        _stop_servers(servers)


def format_table(rows: list[tuple[str, Phase]]) -> str:
    header = (
        f"{'backend':<9} {'phase':<7} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'other':>6} {'CPU ms/req':>10}"
    )
    lines = [header, "-" * len(header)]
    for backend, phase in rows:
        answered = len(phase.latencies_ms) - phase.unexpected
        lines.append(
            f"{backend:<9} {phase.name:<7} {answered / phase.elapsed:>7.0f} {phase.percentile(0.5):>7.1f} "
            f"{phase.percentile(0.95):>7.1f} {phase.percentile(0.99):>7.1f} {max(phase.latencies_ms):>7.1f} "
            f"{phase.unexpected:>6} {phase.cpu_ms_per_request:>10.2f}"
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    rows: list[tuple[str, Phase]] = []
    # The server reads these at start: limits high enough not to be what is measured.
    os.environ["PITWALL_API_REQUESTS_PER_WINDOW"] = "10000000"
    os.environ["PITWALL_API_WRITES_PER_WINDOW"] = "10000000"
    for backend in args.backends.split(","):
        _progress(f"{backend}: creating, migrating and seeding a fresh deployment")
        deployment = await _create_deployment(backend)
        try:
            rows += [(backend, phase) for phase in await measure(deployment, args.clients, args.duration)]
        finally:
            await _remove_deployment(deployment)
    print(format_table(rows))
    slow = [f"{backend} {phase.name}" for backend, phase in rows if phase.percentile(0.95) > P95_LIMIT_MS]
    print(f"p95 < {P95_LIMIT_MS:.0f} ms: " + ("held" if not slow else "missed by " + ", ".join(slow)))
    return 0 if not slow and not any(phase.unexpected for _, phase in rows) else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", default="embedded,postgres")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=10.0)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
