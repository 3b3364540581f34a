"""Outbound webhooks: deliveries per second from one worker to a local receiver, and the time from an
event's commit to its receipt.

    .venv/bin/python bench/webhook_delivery.py --backends postgres,embedded

Per backend a throw-away deployment (bench/live_fanout.py's: data folder, for `postgres` a fresh database
and a Redis key prefix; the demo tenant), one `pitwall worker` process (with PITWALL_WEBHOOK_ALLOW_PRIVATE=1,
since the receiver is on 127.0.0.1) and one receiver process: Quart on Hypercorn, which checks every
request's signature with the `standardwebhooks` package and notes when it arrived. This process commits
the events (one `work_order.note_added` per transaction, through a UnitOfWork like any service).

- **burst**: `--events` events committed as fast as one writer can, to `--endpoints` endpoints (each
  subscribed to that event type, so each event is one delivery per endpoint). deliv/s = deliveries / (last
  receipt - first commit). Deliveries to one endpoint go out in order, one at a time, so one endpoint is
  the slow case and several endpoints show what the worker does in parallel.
- **steady**: `--rate` events per second for `--duration` seconds to one endpoint: the latency a partner
  sees when the worker keeps up (the worker looks for new events every second when idle; while it finds
  work it goes round again at once).

Latency is from the event's `created_at` (written in its transaction, just before the commit) to the
receiver's arrival time; same machine, same clock. lost = expected deliveries not received before the
timeout; dup = deliveries received more than once (the receiver counts webhook-ids).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from live_fanout import Deployment, _create_deployment, _progress, _remove_deployment

from ops.auth.actor import Actor
from ops.db import Database
from ops.events import record
from ops.webhooks.service import create_endpoint, target_policy

ROOT = Path(__file__).resolve().parent.parent
HEADER = ["backend", "scenario", "endpoints", "events", "deliveries", "deliv/s", "p50 ms", "p99 ms", "max ms"]
HEADER += ["lost", "dup"]
LOCAL = target_policy(allow_private=True, production=False)
# The benchmark's own events; the endpoints subscribe to this type only (the worker also expires the
# demo's quotes and holds, and their events are not part of the measurement).
EVENT_TYPE = "work_order.note_added"


# -- the receiver (a separate process: `webhook_delivery.py --receiver PORT`) ---------------------------


def run_receiver(port: int) -> None:
    """Verify each request with its endpoint's secret (by path), note webhook-id, timestamps, arrival."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config
    from quart import Quart, request
    from standardwebhooks.webhooks import Webhook

    app = Quart("receiver")
    verifiers: dict[str, Webhook] = {}
    arrivals: list[tuple[str, str, float]] = []
    rejected = [0]

    @app.put("/secret/<name>")
    async def set_secret(name: str) -> tuple[str, int]:
        verifiers[name] = Webhook((await request.get_data(as_text=True)).strip())
        return "", 204

    @app.post("/hooks/<name>")
    async def receive(name: str) -> tuple[str, int]:
        body = await request.get_data(as_text=True)
        try:
            payload = verifiers[name].verify(body, dict(request.headers))
        except Exception:
            rejected[0] += 1
            return "bad signature", 400
        arrivals.append((f"{name}:{request.headers['webhook-id']}", payload["timestamp"], time.time()))
        return "", 204

    @app.get("/arrivals")
    async def report() -> dict[str, object]:
        return {"arrivals": arrivals, "rejected": rejected[0]}

    @app.post("/reset")
    async def reset() -> tuple[str, int]:
        arrivals.clear()
        return "", 204

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.loglevel = "WARNING"
    config.accesslog = None
    asyncio.run(serve(app, config))


# -- the measurement -------------------------------------------------------------------------------------


@dataclass
class Result:
    backend: str
    scenario: str
    endpoints: int
    events: int
    expected: int
    latencies_ms: list[float]
    seconds: float
    duplicates: int

    def row(self) -> list[str]:
        ordered = sorted(self.latencies_ms) or [0.0]
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        received = len(self.latencies_ms)
        return [
            self.backend,
            self.scenario,
            str(self.endpoints),
            f"{self.events:,}",
            f"{received:,}",
            f"{received / self.seconds:,.1f}" if self.seconds else "-",
            f"{statistics.median(ordered):,.1f}",
            f"{p99:,.1f}",
            f"{ordered[-1]:,.1f}",
            str(self.expected - received),
            str(self.duplicates),
        ]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_for(url: str) -> None:
    # Generous: on a loaded machine the receiver's imports alone take seconds.
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=1) as client:
        while time.monotonic() < deadline:
            try:
                await client.get(url)
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


async def _subscribe(db: Database, actor: Actor, base: str, count: int) -> list[str]:
    names = []
    async with httpx.AsyncClient(timeout=5) as client:
        for number in range(count):
            name = f"e{number}-{time.monotonic_ns()}"
            async with db.uow(actor) as uow:
                _endpoint, secret = await create_endpoint(
                    uow, f"{base}/hooks/{name}", [EVENT_TYPE], "bench", policy=LOCAL
                )
            await client.put(f"{base}/secret/{name}", content=secret)
            names.append(name)
    return names


async def _unsubscribe_all(db: Database) -> None:
    from sqlalchemy import update

    from ops.webhooks.models import WebhookEndpoint

    async with db.system(write=True) as session:
        await session.execute(update(WebhookEndpoint).values(enabled=False))
        await session.commit()


async def _commit_event(db: Database, actor: Actor, number: int) -> None:
    async with db.uow(actor) as uow:
        record(uow, EVENT_TYPE, {"id": number, "note": f"bench note {number}"}, ["workshop"])
        await uow.commit()


async def _collect(base: str, expected: int, patience: float) -> tuple[list[float], int, float]:
    """Wait for `expected` distinct deliveries (or `patience` s); latencies, duplicates, last arrival."""
    deadline = time.monotonic() + patience
    async with httpx.AsyncClient(timeout=10) as client:
        while True:
            data = (await client.get(f"{base}/arrivals")).json()
            distinct = {key for key, _stamp, _at in data["arrivals"]}
            if len(distinct) >= expected or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        await client.post(f"{base}/reset")
    first: dict[str, float] = {}
    latencies = []
    for key, stamp, arrived in data["arrivals"]:
        if key in first:
            continue
        first[key] = arrived
        committed = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC).timestamp()
        latencies.append((arrived - committed) * 1000)
    last = max(first.values(), default=time.time())
    return latencies, len(data["arrivals"]) - len(first), last


async def _scenario_burst(
    deployment: Deployment, db: Database, actor: Actor, base: str, endpoints: int, events: int
) -> Result:
    await _unsubscribe_all(db)
    await _subscribe(db, actor, base, endpoints)
    started = time.time()
    for number in range(events):
        await _commit_event(db, actor, number)
    latencies, duplicates, last = await _collect(
        base, events * endpoints, patience=120 + events * endpoints / 20
    )
    return Result(
        deployment.backend,
        "burst",
        endpoints,
        events,
        events * endpoints,
        latencies,
        last - started,
        duplicates,
    )


async def _scenario_steady(
    deployment: Deployment, db: Database, actor: Actor, base: str, rate: float, duration: float
) -> Result:
    await _unsubscribe_all(db)
    await _subscribe(db, actor, base, 1)
    events = int(rate * duration)
    started = time.time()
    for number in range(events):
        await asyncio.sleep(max(0.0, started + number / rate - time.time()))
        await _commit_event(db, actor, number)
    latencies, duplicates, last = await _collect(base, events, patience=60)
    return Result(
        deployment.backend, f"steady {rate:g}/s", 1, events, events, latencies, last - started, duplicates
    )


def _start_processes(
    deployment: Deployment, port: int
) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]:
    """The receiver, and one `pitwall worker` allowed to deliver to 127.0.0.1."""
    receiver = subprocess.Popen([sys.executable, __file__, "--receiver", str(port)], cwd=ROOT)
    worker = subprocess.Popen(
        [str(ROOT / ".venv/bin/pitwall"), "worker"],
        env={**deployment.server_env(), "PITWALL_WEBHOOK_ALLOW_PRIVATE": "1"},
        cwd=ROOT,
        stdout=(deployment.data_dir / "worker.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    return receiver, worker


async def measure(backend: str, args: argparse.Namespace) -> list[Result]:
    _progress(f"{backend}: creating the deployment")
    deployment = await _create_deployment(backend)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    receiver, worker = _start_processes(deployment, port)
    db = Database(deployment.database_url, deployment.secret_keys)
    results: list[Result] = []
    try:
        await _wait_for(f"{base}/arrivals")
        actor = Actor.system(deployment.tenant_id, "bench")
        for endpoints in args.endpoints:
            _progress(f"{backend}: burst of {args.events} events to {endpoints} endpoint(s)")
            results.append(await _scenario_burst(deployment, db, actor, base, endpoints, args.events))
        _progress(f"{backend}: steady {args.rate}/s for {args.duration}s")
        results.append(await _scenario_steady(deployment, db, actor, base, args.rate, args.duration))
    finally:
        await db.dispose()
        for process in (worker, receiver):
            process.terminate()
            process.wait(15)
        await _remove_deployment(deployment)
    return results


def format_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [HEADER, *rows]) for i in range(len(HEADER))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells)) + " |"

    return "\n".join([line(HEADER), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


async def run(args: argparse.Namespace) -> int:
    load = os.getloadavg()
    rows: list[list[str]] = []
    for backend in args.backends:
        rows.extend(result.row() for result in await measure(backend, args))
    print(format_table(rows))
    after = os.getloadavg()
    print(f"\nload average (1, 5, 15 min) before: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}", end="; ")
    print(f"after: {after[0]:.1f} {after[1]:.1f} {after[2]:.1f}")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--backends", default="postgres", type=lambda s: s.split(","))
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--endpoints", default="1,10", type=lambda s: [int(n) for n in s.split(",")])
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    if args.receiver:
        run_receiver(args.receiver)
        return
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
