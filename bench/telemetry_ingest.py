"""Telemetry ingestion benchmark: readings per second and acknowledgement latency on one web process,
and the fan-out of the resulting live updates to the open vehicle pages.

    .venv/bin/python bench/telemetry_ingest.py --backends postgres --watchers 20 --duration 20

Per backend a throw-away deployment (data folder; for `postgres` a fresh database, a Redis key prefix
and a `pitwall worker` for the relay) with one tenant, `--vehicles` vehicles each with a Traccar device,
an oil-change schedule (so every odometer change runs the maintenance refresh), a signing secret and
a Traccar secret. Then one `pitwall serve` (Hypercorn) and, while `--watchers` SSE connections each watch
one vehicle's page (`GET /live?topic=vehicle:<id>`, a workshop manager, in a separate process; a reading
wakes its vehicle's page, while the fleet board only hears of alerts):

- **single**: `--single-senders` concurrent clients forward one Traccar position at a time
  (`POST /hooks/traccar/<slug>`, the payload Traccar 6 sends, with speed, odometer, coolant, power);
- **batch**: `--batch-senders` concurrent clients post signed batches of `--batch-size` readings
  (`POST /api/v1/telemetry`, Standard Webhooks signature, every field), 10 readings per vehicle.

- **batch at N/s** (`--batch-rates`): the same batches offered on a fixed schedule of N readings per
  second (open loop: latency counts from when a batch was due), which is how devices and partners send.

The single and batch phases run `--duration` seconds closed-loop (a sender posts again as soon as it has
its answer):
readings/s is what the server acknowledged (2xx, after its commit), p50/p99/max the client-side
request time. Fan-out: every `telemetry.reading_recorded` event committed in the phase is one live
update per watcher; latency runs from the event's `created_at` (written in the request's transaction)
to its arrival at the watcher (same clock), matched per vehicle in order; lost = expected - received.
Target: batches >= 2,000 readings/s with p99 < 100 ms.

`--in-process N` measures instead what one request costs the app in CPU (`time.process_time`, N
requests of each mode one after another through Quart's test client, no server and no watchers): the
figure that decides how many readings one web process can take, and steadier than latency on a
machine that is doing other work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

import asyncpg
import httpx
from live_fanout import (
    ADMIN_DATABASE_URL,
    REDIS_URL,
    Deployment,
    _raise_open_files_limit,
    _remove_deployment,
    _start_servers,
    _stop_servers,
)
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook

from ops.app import create_app
from ops.auth.actor import Actor
from ops.auth.service import create_user
from ops.config import load_settings
from ops.db import Database, utcnow
from ops.events import Event
from ops.migrate import upgrade_to_head
from ops.tenants.service import provision_tenant
from ops.vehicles.models import MaintenanceSchedule, Vehicle
from ops.vehicles.telemetry.service import register_device, rotate_signing_secret, rotate_traccar_secret

PASSWORD = "bench-password-telemetry"
MANAGER_EMAIL = "fleet.manager@telemetry-bench.test"
SLUG = "telemetry-bench"
READINGS_PER_VEHICLE_IN_BATCH = 10
BATCH_READINGS_TARGET = 2000.0
BATCH_P99_LIMIT_MS = 100.0
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def _progress(text: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {text}", file=sys.stderr, flush=True)


# -- deployment ------------------------------------------------------------------------------------


@dataclass
class Fleet:
    deployment: Deployment
    vehicle_ids: list[int]
    unique_ids: list[str]
    vins: list[str]
    traccar_secret: str
    signing_secret: str


async def _create(backend: str, vehicles: int) -> Fleet:
    data_dir = Path(tempfile.mkdtemp(prefix="pitwall-bench-telemetry-"))
    env = {
        "PITWALL_DATA_DIR": str(data_dir),
        "PITWALL_SECRET_KEY": secrets.token_urlsafe(32),
        "PITWALL_LOG_LEVEL": "WARNING",
    }
    redis_prefix = None
    if backend == "postgres":
        name = f"pitwall_bench_{secrets.token_hex(4)}"
        admin = await asyncpg.connect(ADMIN_DATABASE_URL, timeout=5)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        redis_prefix = f"pitwall-bench-{secrets.token_hex(4)}"
        env |= {
            "DATABASE_URL": f"{ADMIN_DATABASE_URL.rpartition('/')[0]}/{name}",
            "REDIS_URL": REDIS_URL,
            "PITWALL_REDIS_PREFIX": redis_prefix,
            "PITWALL_EMBEDDED_WORKER": "0",
        }
    settings = load_settings(env)
    deployment = Deployment(backend, data_dir, env, settings.database_url, redis_prefix)
    try:
        await upgrade_to_head(settings.database_url)
        return await _seed(deployment, vehicles)
    except BaseException:
        await _remove_deployment(deployment)
        raise


async def _seed(deployment: Deployment, count: int) -> Fleet:
    db = Database(deployment.database_url, deployment.secret_keys)
    try:
        provisioned = await provision_tenant(
            db,
            slug=SLUG,
            name="Telemetry Bench Motors",
            admin_email="admin@telemetry-bench.test",
            admin_name="Bench Admin",
            admin_password=PASSWORD,
            country="US",
            plan="ENTERPRISE",
        )
        tenant_id = provisioned.tenant.id
        deployment.tenant_id = tenant_id
        admin = Actor(tenant_id, provisioned.admin.id, "Bench Admin", "admin", locale="en")
        async with db.uow(admin) as uow:
            await create_user(
                uow, email=MANAGER_EMAIL, name="Fleet Manager", role="workshop_manager", password=PASSWORD
            )
        async with db.uow(admin) as uow:
            uow.session.add(
                MaintenanceSchedule(service_type="Oil change", interval_km=15_000, interval_months=12)
            )
            vins = [f"1BENCH{index:011d}" for index in range(count)]
            for index, vin in enumerate(vins):
                uow.session.add(
                    Vehicle(
                        vin=vin,
                        plate=f"TB {index:04d}",
                        make="Ford",
                        model="Transit",
                        year=2023,
                        fleet_id=None,
                    )
                )
            await uow.commit()
        async with db.read(tenant_id) as session:
            vehicle_ids = list((await session.scalars(select(Vehicle.id).order_by(Vehicle.id))).all())
        unique_ids = []
        for index, vehicle_id in enumerate(vehicle_ids):
            unique_id = f"35{index:013d}"
            async with db.uow(admin) as uow:
                await register_device(uow, vehicle_id, "TRACCAR", unique_id)
            unique_ids.append(unique_id)
        async with db.uow(admin) as uow:
            traccar_secret = await rotate_traccar_secret(uow)
        async with db.uow(admin) as uow:
            signing_secret = await rotate_signing_secret(uow)
        # Nobody watches yet; the relay need not re-send the set-up's events at the first server start.
        async with db.system(write=True) as session:
            await session.execute(update(Event).values(published_at=utcnow()))
            await session.commit()
        return Fleet(deployment, vehicle_ids, unique_ids, vins, traccar_secret, signing_secret)
    finally:
        await db.dispose()


# -- watchers (a separate process) -----------------------------------------------------------------


async def _watch(url: str, cookie: str, watched: list[int], stop_after: float, pipe: Connection) -> None:
    """One SSE connection per vehicle page in `watched`; record (vehicle id, arrival time) per message
    (every message carries its `id:` line; heartbeats are comments)."""
    arrivals: list[list[tuple[int, float]]] = [[] for _ in watched]
    host, port = url.removeprefix("http://").split(":")

    async def one(index: int) -> None:
        vehicle_id = watched[index]
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            f"GET /live?topic=vehicle:{vehicle_id} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        await writer.drain()
        mine = arrivals[index]
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                if line.startswith(b"id:"):
                    mine.append((vehicle_id, time.time()))
        finally:
            writer.close()

    tasks = [asyncio.create_task(one(index)) for index in range(len(watched))]
    pipe.send("open")
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, pipe.recv)  # "stop"
    await asyncio.sleep(stop_after)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    pipe.send(arrivals)


def _watcher_process(url: str, cookie: str, watched: list[int], stop_after: float, pipe: Connection) -> None:
    asyncio.run(_watch(url, cookie, watched, stop_after, pipe))


async def _session_cookie(url: str) -> str:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        page = await client.get("/login")
        token = CSRF_META.search(page.text)
        assert token, "the sign-in page has no CSRF token"
        response = await client.post(
            "/login", data={"email": MANAGER_EMAIL, "password": PASSWORD, "csrf_token": token.group(1)}
        )
        if response.status_code != 302:
            raise RuntimeError(f"sign-in failed: {response.status_code}")
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


# -- load ------------------------------------------------------------------------------------------


@dataclass
class Phase:
    backend: str
    mode: str
    senders: int
    batch_size: int
    watchers: int
    seconds: float = 0.0
    requests: int = 0
    readings: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    events: int = 0
    expected_deliveries: int = 0
    deliveries: int = 0
    fanout_ms: list[float] = field(default_factory=list)
    load_average: str = ""
    # Readings per second offered on a fixed schedule (open loop); 0 = each sender posts again at once.
    offered: int = 0

    @staticmethod
    def percentile(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


class Clock:
    """Reading times: each vehicle's readings 10 ms apart, from two hours ago, never repeating."""

    def __init__(self, vehicles: int) -> None:
        self.start = datetime.now(UTC) - timedelta(hours=2)
        self.next = [0] * vehicles
        self.odometer = [10_000_000 + 1000 * index for index in range(vehicles)]

    def tick(self, vehicle: int) -> tuple[datetime, int]:
        step = self.next[vehicle]
        self.next[vehicle] += 1
        self.odometer[vehicle] += 12
        return self.start + timedelta(milliseconds=10 * step), self.odometer[vehicle]


def _traccar_body(unique_id: str, moment: datetime, odometer_m: int) -> bytes:
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+00:00"
    return json.dumps(
        {
            "position": {
                "id": 1,
                "attributes": {
                    "odometer": odometer_m,
                    "coolantTemp": 91,
                    "power": 13.9,
                    "totalDistance": 1.0,
                },
                "deviceId": 1,
                "protocol": "teltonika",
                "serverTime": stamp,
                "deviceTime": stamp,
                "fixTime": stamp,
                "outdated": False,
                "valid": True,
                "latitude": 47.37,
                "longitude": 8.54,
                "altitude": 400.0,
                "speed": 25.0,
                "course": 90.0,
            },
            "device": {"id": 1, "name": "van", "uniqueId": unique_id, "status": "online"},
        }
    ).encode()


def _batch_body(fleet: Fleet, clock: Clock, first_vehicle: int, size: int) -> bytes:
    readings = []
    vehicles = max(1, size // READINGS_PER_VEHICLE_IN_BATCH)
    for slot in range(size):
        vehicle = (first_vehicle + slot % vehicles) % len(fleet.vins)
        moment, odometer_m = clock.tick(vehicle)
        readings.append(
            {
                "vin": fleet.vins[vehicle],
                "time": moment.isoformat(),
                "fuel_level": 0.6,
                "fuel_l_per_100km": 9.1,
                "engine_load": 0.4,
                "engine_temp_c": 90.0,
                "battery_v": 13.9,
                "odometer_km": odometer_m / 1000,
                "tyre_fl_kpa": 230.0,
                "tyre_fr_kpa": 231.0,
                "tyre_rl_kpa": 229.0,
                "tyre_rr_kpa": 230.5,
                "latitude": 47.37,
                "longitude": 8.54,
                "speed_kmh": 60.0,
                "rpm": 2000,
            }
        )
    return json.dumps(readings).encode()


def _request(
    fleet: Fleet, clock: Clock, webhook: Webhook, mode: str, size: int, turn: int
) -> tuple[str, bytes, dict[str, str]]:
    """The `turn`-th request of a phase: path, body and headers."""
    if mode == "single":
        vehicle = turn % len(fleet.unique_ids)
        moment, odometer_m = clock.tick(vehicle)
        body = _traccar_body(fleet.unique_ids[vehicle], moment, odometer_m)
        headers = {"Authorization": f"Bearer {fleet.traccar_secret}", "Content-Type": "application/json"}
        return f"/hooks/traccar/{SLUG}", body, headers
    vehicles_per_batch = max(1, size // READINGS_PER_VEHICLE_IN_BATCH)
    body = _batch_body(fleet, clock, turn * vehicles_per_batch, size)
    msg_id = f"msg_{turn}"
    now = datetime.now(UTC)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": webhook.sign(msg_id, now, body.decode()),
        "X-Pitwall-Tenant": SLUG,
        "Content-Type": "application/json",
    }
    return "/api/v1/telemetry", body, headers


async def _run_phase(fleet: Fleet, url: str, phase: Phase, duration: float, clock: Clock) -> None:
    webhook = Webhook(fleet.signing_secret)
    counter = iter(range(10**9))
    begun = time.perf_counter()
    deadline = begun + duration
    interval = phase.batch_size / phase.offered if phase.offered else 0.0

    async def sender(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < deadline:
            turn = next(counter)
            due = begun + turn * interval
            if phase.offered:
                if due >= deadline:
                    return
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            path, body, headers = _request(fleet, clock, webhook, phase.mode, phase.batch_size, turn)
            # On a schedule the wait counts from when the batch was due, so a late answer that delays
            # the next send is not hidden (no coordinated omission).
            started = due if phase.offered else time.perf_counter()
            try:
                response = await client.post(path, content=body, headers=headers)
            except httpx.HTTPError:
                phase.errors += 1
                continue
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                phase.errors += 1
                if phase.errors <= 3:
                    _progress(f"  {response.status_code}: {response.text[:300]}")
                continue
            phase.latencies_ms.append(elapsed)
            phase.requests += 1
            phase.readings += int(response.json()["stored"])

    limits = httpx.Limits(max_connections=phase.senders, max_keepalive_connections=phase.senders)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(sender(client) for _ in range(phase.senders)))
        phase.seconds = time.perf_counter() - started


async def _events_since(database_url: str, after_id: int) -> list[tuple[int, int, float]]:
    """(event id, vehicle id, created_at as Unix time) of the readings recorded after `after_id`."""
    db = Database(database_url)
    try:
        async with db.system() as session:
            rows = await session.execute(
                select(Event.id, Event.payload, Event.created_at)
                .where(Event.id > after_id, Event.type == "telemetry.reading_recorded")
                .order_by(Event.id)
            )
            return [(row.id, int(row.payload["vehicle_id"]), row.created_at.timestamp()) for row in rows]
    finally:
        await db.dispose()


async def _last_event_id(database_url: str) -> int:
    db = Database(database_url)
    try:
        async with db.system() as session:
            rows = await session.execute(select(Event.id).order_by(Event.id.desc()).limit(1))
            return int(rows.scalar() or 0)
    finally:
        await db.dispose()


def _match_fanout(
    phase: Phase,
    events: list[tuple[int, int, float]],
    watched: list[int],
    arrivals: list[list[tuple[int, float]]],
) -> None:
    """Pair each watcher's k-th update with the k-th event of the vehicle it watches."""
    per_vehicle: dict[int, list[float]] = {}
    for _event_id, vehicle_id, created in events:
        per_vehicle.setdefault(vehicle_id, []).append(created)
    phase.events = len(events)
    for watched_vehicle, watcher in zip(watched, arrivals, strict=True):
        phase.expected_deliveries += len(per_vehicle.get(watched_vehicle, []))
        seen: dict[int, int] = {}
        for vehicle_id, arrived in watcher:
            index = seen.get(vehicle_id, 0)
            seen[vehicle_id] = index + 1
            committed = per_vehicle.get(vehicle_id, [])
            if index < len(committed):
                phase.deliveries += 1
                phase.fanout_ms.append((arrived - committed[index]) * 1000)


async def _measure(
    fleet: Fleet, mode: str, args: argparse.Namespace, clock: Clock, offered: int = 0
) -> Phase:
    senders = args.single_senders if mode == "single" else args.batch_senders
    if offered:
        # Enough connections that the schedule, not the number of senders, decides when batches go.
        senders = max(senders, 8)
    size = 1 if mode == "single" else args.batch_size
    phase = Phase(fleet.deployment.backend, mode, senders, size, args.watchers, offered=offered)
    servers = await _start_servers(fleet.deployment)
    try:
        cookie = await _session_cookie(servers.url)
        parent, child = multiprocessing.Pipe()
        # The first `--watchers` vehicles have their page open (a vehicle in several windows is the same
        # fan-out as in one, so each page watches a different vehicle).
        watched = [fleet.vehicle_ids[index % len(fleet.vehicle_ids)] for index in range(args.watchers)]
        watcher = multiprocessing.Process(
            target=_watcher_process, args=(servers.url, cookie, watched, args.drain, child), daemon=True
        )
        watcher.start()
        parent.recv()  # "open"
        await asyncio.sleep(1.5)  # the connections subscribe
        before = await _last_event_id(fleet.deployment.database_url)
        await _run_phase(fleet, servers.url, phase, args.duration, clock)
        phase.load_average = " ".join(f"{value:.1f}" for value in os.getloadavg())
        parent.send("stop")
        arrivals = parent.recv()
        watcher.join(10)
        events = await _events_since(fleet.deployment.database_url, before)
        _match_fanout(phase, events, watched, arrivals)
    finally:
        _stop_servers(servers)
    return phase


# -- report ----------------------------------------------------------------------------------------

HEADER = [
    "backend",
    "mode",
    "senders",
    "size",
    "offered/s",
    "req/s",
    "readings/s",
    "p50 ms",
    "p99 ms",
    "max ms",
    "errors",
    "watchers",
    "events",
    "deliv/s",
    "fan p50",
    "fan p99",
    "lost",
    "load avg (1/5/15)",
    "target",
]


def _row(phase: Phase) -> list[str]:
    lat, fan = phase.latencies_ms, phase.fanout_ms
    p99 = Phase.percentile(lat, 0.99)
    rate = phase.readings / phase.seconds if phase.seconds else 0.0
    target = "-"
    if phase.mode == "batch":
        target = (
            "yes" if rate >= BATCH_READINGS_TARGET and p99 < BATCH_P99_LIMIT_MS and not phase.errors else "NO"
        )
    return [
        phase.backend,
        phase.mode,
        str(phase.senders),
        str(phase.batch_size),
        f"{phase.offered:,}" if phase.offered else "max",
        f"{phase.requests / phase.seconds:.1f}" if phase.seconds else "-",
        f"{rate:,.0f}",
        f"{Phase.percentile(lat, 0.5):.1f}",
        f"{p99:.1f}",
        f"{max(lat, default=float('nan')):.1f}",
        str(phase.errors),
        str(phase.watchers),
        str(phase.events),
        f"{phase.deliveries / phase.seconds:,.0f}" if phase.seconds else "-",
        f"{Phase.percentile(fan, 0.5):.1f}",
        f"{Phase.percentile(fan, 0.99):.1f}",
        str(phase.expected_deliveries - phase.deliveries),
        phase.load_average,
        target,
    ]


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [HEADER, *rows]) for i in range(len(HEADER))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(HEADER, widths, strict=True)) + " |",
        "|" + "|".join("-" * (width + 2) for width in widths) + "|",
    ]
    for row in rows:
        cells = [
            cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


async def _cpu_in_process(fleet: Fleet, args: argparse.Namespace) -> list[str]:
    """CPU time of the app per request, in this process (Quart's test client: no HTTP server, no
    watchers, one request at a time), for single Traccar positions and signed batches."""
    app = create_app(load_settings(fleet.deployment.env).with_(embedded_worker=False))
    clock = Clock(args.vehicles)
    webhook = Webhook(fleet.signing_secret)
    lines = []
    async with app.test_app():
        client = app.test_client()
        for mode, size in (("single", 1), ("batch", args.batch_size)):
            cpu_ms: list[float] = []
            for turn in range(args.in_process + args.in_process // 10):
                path, body, headers = _request(fleet, clock, webhook, mode, size, turn)
                started = time.process_time()
                response = await client.post(path, data=body, headers=headers)
                if turn >= args.in_process // 10:  # the first tenth warms up
                    cpu_ms.append((time.process_time() - started) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"{mode}: {response.status_code} {await response.get_data()!r}")
            mean = sum(cpu_ms) / len(cpu_ms)
            lines.append(
                f"| {fleet.deployment.backend} | {mode} | {size} | {len(cpu_ms)} | {mean:.1f} "
                f"| {Phase.percentile(cpu_ms, 0.5):.1f} | {Phase.percentile(cpu_ms, 0.99):.1f} |"
            )
            _progress("  " + lines[-1])
    return lines


async def run(args: argparse.Namespace) -> int:
    _raise_open_files_limit()
    rows = []
    cpu_lines = []
    for backend in args.backends.split(","):
        _progress(f"{backend}: creating a deployment with {args.vehicles} tracked vehicles")
        fleet = await _create(backend, args.vehicles)
        try:
            if args.in_process:
                cpu_lines += await _cpu_in_process(fleet, args)
                continue
            clock = Clock(args.vehicles)
            phases = [("single", 0), ("batch", 0)]
            phases += [("batch", int(rate)) for rate in args.batch_rates.split(",") if rate.strip()]
            for mode, offered in phases:
                pace = f" at {offered:,} readings/s" if offered else ""
                _progress(f"{backend}: {mode}{pace} for {args.duration:.0f} s with {args.watchers} watchers")
                phase = await _measure(fleet, mode, args, clock, offered)
                rows.append(_row(phase))
                _progress("  " + " | ".join(rows[-1]))
        finally:
            await _remove_deployment(fleet.deployment)
            shutil.rmtree(fleet.deployment.data_dir, ignore_errors=True)
    if cpu_lines:
        print("| backend | mode | size | requests | CPU ms mean | p50 | p99 |")
        print("|---------|------|------|----------|-------------|-----|-----|")
        print("\n".join(cpu_lines))
    else:
        print(_table(rows))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", default="postgres", help="postgres and/or embedded, comma-separated")
    parser.add_argument("--vehicles", type=int, default=200)
    parser.add_argument("--watchers", type=int, default=20)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per phase")
    parser.add_argument("--single-senders", type=int, default=8)
    parser.add_argument("--batch-senders", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument(
        "--batch-rates",
        default="2000",
        help="readings/s offered on a fixed schedule in extra batch phases, comma-separated ('' = none)",
    )
    parser.add_argument("--drain", type=float, default=3.0, help="seconds the watchers keep reading after")
    parser.add_argument(
        "--in-process",
        type=int,
        default=0,
        metavar="N",
        help="instead of the load phases: CPU per request in process over N requests of each mode",
    )
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
