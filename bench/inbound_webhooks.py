"""Inbound Stripe webhooks: signed events per second into one web process, with p50/p99.

    .venv/bin/python bench/inbound_webhooks.py --backends embedded,postgres --events 1000 --concurrency 16

Per backend a throw-away deployment (bench/live_fanout.py's: data folder, for `postgres` a fresh
database, a Redis key prefix and a `pitwall worker`), the demo tenant with a Stripe webhook signing
secret and `--events` card payments awaiting payment. Then `--concurrency` senders post to
`POST /hooks/stripe/<tenant>`, each body signed like Stripe (`Stripe-Signature: t=...,v1=...`):

- distinct, applied: one `payment_intent.payment_failed` per payment: verify, store the event, mark the
  payment failed and record its domain event, all in one transaction, then 200;
- distinct, stored only: events of a type Pitwall does not use: verify, store, 200;
- duplicates: one already-stored event sent again `--events` times: verify, find it stored, 200.

Latency is the whole request as the sender sees it. Everything runs on 127.0.0.1; the deployment is
removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass

import httpx
from live_fanout import (
    Deployment,
    _create_deployment,
    _progress,
    _remove_deployment,
    _start_servers,
    _stop_servers,
)
from sqlalchemy import select, update

from ops.db import Database, utcnow
from ops.payments.models import Payment
from ops.tenants.models import Tenant
from ops.workshop.models import Invoice

WEBHOOK_SECRET = "whsec_bench_" + "0123456789abcdef" * 2
HEADER = ["backend", "scenario", "events", "C", "events/s", "p50 ms", "p99 ms", "max ms", "non-2xx"]


@dataclass
class Result:
    backend: str
    scenario: str
    latencies_ms: list[float]
    seconds: float
    failures: int
    concurrency: int

    def row(self) -> list[str]:
        ordered = sorted(self.latencies_ms)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return [
            self.backend,
            self.scenario,
            f"{len(ordered):,}",
            str(self.concurrency),
            f"{len(ordered) / self.seconds:,.1f}",
            f"{statistics.median(ordered):,.1f}",
            f"{p99:,.1f}",
            f"{ordered[-1]:,.1f}",
            str(self.failures),
        ]


def _signed(event: dict[str, object]) -> tuple[bytes, str]:
    body = json.dumps(event, separators=(",", ":")).encode()
    stamp = int(time.time())
    digest = hmac.new(WEBHOOK_SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={stamp},v1={digest}"


def _event(event_id: str, kind: str, obj: dict[str, object]) -> dict[str, object]:
    return {
        "id": event_id,
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": obj},
    }


async def _prepare(deployment: Deployment, count: int) -> tuple[str, list[str]]:
    """The tenant's slug with a signing secret, and `count` PaymentIntents awaiting payment."""
    db = Database(deployment.database_url, deployment.secret_keys)
    try:
        async with db.system(write=True) as session:
            await session.execute(
                update(Tenant)
                .where(Tenant.id == deployment.tenant_id)
                .values(stripe_secret_key="sk_test_bench", stripe_webhook_secret=WEBHOOK_SECRET)
            )
            slug = (
                await session.execute(select(Tenant.slug).where(Tenant.id == deployment.tenant_id))
            ).scalar_one()
            invoice = await session.scalar(
                select(Invoice).where(Invoice.tenant_id == deployment.tenant_id).limit(1)
            )
            if invoice is None:
                raise RuntimeError("the demo tenant has no invoice to pay")
            intents = [f"pi_bench_{os.getpid()}_{index}" for index in range(count)]
            session.add_all(
                Payment(
                    tenant_id=deployment.tenant_id,
                    purpose="INVOICE",
                    invoice_id=invoice.id,
                    amount=invoice.total,
                    currency=invoice.currency,
                    provider_intent_id=intent,
                    status="AWAITING_PAYMENT",
                    created_at=utcnow(),
                )
                for intent in intents
            )
            await session.commit()
        await db.refresh_statistics()
        return slug, intents
    finally:
        await db.dispose()


async def _send(
    url: str, requests: list[tuple[bytes, str]], concurrency: int
) -> tuple[list[float], float, int]:
    queue: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def sender() -> None:
            nonlocal failures
            while not queue.empty():
                body, signature = queue.get_nowait()
                started = time.perf_counter()
                response = await client.post(
                    url,
                    content=body,
                    headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
                )
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code // 100 != 2:
                    failures += 1

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        return latencies, time.perf_counter() - started, failures


async def measure(backend: str, events: int, concurrency: int) -> list[Result]:
    _progress(f"{backend}: creating, migrating and seeding a fresh deployment")
    deployment = await _create_deployment(backend)
    servers = None
    try:
        slug, intents = await _prepare(deployment, events)
        servers = await _start_servers(deployment)
        url = f"{servers.url}/hooks/stripe/{slug}"
        failed = {"type": "card_error", "code": "card_declined", "message": "Your card was declined."}
        scenarios = {
            "distinct, applied": [
                _signed(
                    _event(
                        f"evt_fail_{i}",
                        "payment_intent.payment_failed",
                        {"id": pi, "last_payment_error": failed},
                    )
                )
                for i, pi in enumerate(intents)
            ],
            "distinct, stored only": [
                _signed(_event(f"evt_other_{i}", "customer.updated", {"id": f"cus_{i}"}))
                for i in range(events)
            ],
        }
        duplicate = _signed(_event("evt_duplicate", "customer.updated", {"id": "cus_dup"}))
        scenarios["duplicates"] = [duplicate] * events
        async with httpx.AsyncClient() as warm:
            # The first copy stores it; the measured copies are all duplicates. A few more warm the process.
            await warm.post(url, content=duplicate[0], headers={"Stripe-Signature": duplicate[1]})
        results = []
        for scenario, requests in scenarios.items():
            _progress(f"{backend}: {scenario}, {len(requests)} events, C={concurrency}")
            latencies, seconds, failures = await _send(url, requests, concurrency)
            result = Result(backend, scenario, latencies, seconds, failures, concurrency)
            print(format_table([result.row()]).splitlines()[-1], file=sys.stderr, flush=True)
            results.append(result)
        return results
    finally:
        if servers is not None:
            _stop_servers(servers)
        await _remove_deployment(deployment)


def format_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [HEADER, *rows]) for i in range(len(HEADER))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(HEADER, widths, strict=True)) + " |",
        "|" + "|".join("-" * (width + 2) for width in widths) + "|",
    ]
    for row in rows:
        cells = [
            cell.rjust(width) if index > 1 else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    load_before = os.getloadavg()
    results: list[Result] = []
    for backend in args.backends.split(","):
        results.extend(await measure(backend, args.events, args.concurrency))
    load_after = os.getloadavg()
    print(format_table([result.row() for result in results]))
    print(
        f"\nload average (1/5/15 min) before {load_before[0]:.1f}/{load_before[1]:.1f}/{load_before[2]:.1f}, "
        f"after {load_after[0]:.1f}/{load_after[1]:.1f}/{load_after[2]:.1f}; {os.cpu_count()} CPUs"
    )
    return 1 if any(result.failures for result in results) else 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backends", default="embedded,postgres")
    parser.add_argument("--events", type=int, default=1000, help="events per scenario")
    parser.add_argument("--concurrency", type=int, default=16, help="senders at once")
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
