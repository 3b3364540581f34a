"""ERP pushes per second from one worker to a local Odoo (and to a signed-JSON middleware).

    .venv/bin/python bench/erp_sync.py --backends embedded,postgres --documents 300

Per backend a throw-away database (a SQLite file, or a fresh PostgreSQL database), the demo tenant,
and `--documents` invoices, each issued with its `invoice.created` event as completion issues it (the
demo's own deals and invoices are pushed and counted too). The stand-ins from the tests
(tests/erp/servers.py) serve on 127.0.0.1. One worker then runs
`ops.erp.service.sync_once` passes until every job is settled:

- odoo first push: each invoice is searched for, its partner found or made, and an account.move made;
- odoo replay: every job sent again (as after a lost answer): each push finds the existing move;
- generic push: the same documents signed (Standard Webhooks) to the middleware, which verifies each;
- odoo down: the server stopped, every job sent again: how fast the worker reschedules them once the
  breaker is open ("unavailable, will retry"), with nothing written to the ERP.

Latency is one adapter push as the worker sees it (network, Odoo's handling, our bookkeeping not
included); docs/s is the whole pass, database claims and outcomes included.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import select, update

# The stand-in Odoo and middleware live with the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from integrations.erp import ErpDocument
from integrations.erp.generic import GenericErp
from integrations.erp.odoo import OdooErp
from ops.auth.actor import Actor
from ops.db import Database, utcnow
from ops.erp.models import ErpSyncJob
from ops.erp.service import sync_once
from ops.events import record
from ops.migrate import upgrade_to_head
from ops.seed import seed_demo
from ops.vehicles.models import Vehicle
from ops.workshop.models import Invoice
from ops.workshop.service import NewWorkOrder, create_work_order
from tests.erp.servers import ODOO_DB, ODOO_KEY, ODOO_LOGIN, FakeOdoo, LocalServer, MiddlewareReceiver

ADMIN_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HEADER = ["backend", "scenario", "documents", "docs/s", "p50 ms", "p99 ms", "max ms", "synced", "in ERP"]
PULL_EVERY = timedelta(hours=1)


class TimedAdapter:
    """Wraps an adapter and times each push."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.latencies_ms: list[float] = []

    async def _timed(self, push: Any, document: ErpDocument) -> str:
        started = time.perf_counter()
        try:
            return str(await push(document))
        finally:
            self.latencies_ms.append((time.perf_counter() - started) * 1000)

    async def push_sales_order(self, document: ErpDocument) -> str:
        return await self._timed(self.inner.push_sales_order, document)

    async def push_invoice(self, document: ErpDocument) -> str:
        return await self._timed(self.inner.push_invoice, document)

    async def pull_parts(self, skus: list[str] | None) -> Any:
        return await self.inner.pull_parts(skus)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _database(backend: str) -> tuple[str, Path]:
    folder = Path(tempfile.mkdtemp(prefix="pitwall-bench-erp-"))
    if backend == "embedded":
        return f"sqlite+aiosqlite:///{folder / 'pitwall.db'}", folder
    name = f"pitwall_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(ADMIN_DATABASE_URL, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", folder


async def _drop(backend: str, url: str, folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    if backend == "postgres":
        admin = await asyncpg.connect(ADMIN_DATABASE_URL, timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')
        finally:
            await admin.close()


async def _issue_invoices(db: Database, count: int) -> int:
    """`count` work orders with an invoice each and its event, as completion writes them."""
    tenant, _created = await seed_demo(db)
    advisor = Actor(tenant.id, None, "Bench", "service_advisor")
    async with db.read(tenant.id) as session:
        vehicle_ids = list((await session.scalars(select(Vehicle.id))).all())
        number = int(
            await session.scalar(select(Invoice.number).order_by(Invoice.number.desc()).limit(1)) or 0
        )
    for index in range(count):
        async with db.uow(advisor) as uow:
            work_order = await create_work_order(
                uow,
                NewWorkOrder(vehicle_id=vehicle_ids[index % len(vehicle_ids)], complaint=f"Bench {index}"),
            )
        async with db.uow(advisor) as uow:
            number += 1
            invoice = Invoice(
                number=number,
                work_order_id=work_order.id,
                customer_id=work_order.customer_id,
                currency="CHF",
                lines=[
                    {"description": "Service", "kind": "LABOUR", "quantity": "1.5", "unit_price": "140.00"}
                ],
                labour_net=Decimal("210.00"),
                parts_net=Decimal("0"),
                net=Decimal("210.00"),
                vat_rate=Decimal("8.10"),
                vat=Decimal("17.01"),
                total=Decimal("227.01"),
                issued_at=utcnow(),
            )
            uow.session.add(invoice)
            await uow.session.flush()
            record(uow, "invoice.created", {"id": invoice.id, "number": f"INV-{number:06d}"}, topics=[])
            await uow.commit()
    return int(tenant.id)


async def _send_all_again(db: Database) -> None:
    async with db.system(write=True) as session:
        await session.execute(
            update(ErpSyncJob)
            .where(ErpSyncJob.kind.in_(("sales_order", "invoice")))
            .values(status="PENDING", attempts=0, next_attempt_at=utcnow(), claimed_until=None)
        )
        await session.commit()


async def _synced(db: Database) -> int:
    async with db.system() as session:
        rows = await session.scalars(
            select(ErpSyncJob.id).where(
                ErpSyncJob.kind.in_(("sales_order", "invoice")), ErpSyncJob.status == "SYNCED"
            )
        )
        return len(rows.all())


async def _run(db: Database, adapter: TimedAdapter, backend: str, scenario: str, in_erp: Any) -> list[str]:
    started = time.perf_counter()
    moment = utcnow()
    while await sync_once(db, adapter, moment, grace_seconds=0, pull_every=PULL_EVERY):
        pass
    seconds = time.perf_counter() - started
    ordered = sorted(adapter.latencies_ms) or [0.0]
    adapter.latencies_ms.clear()
    documents = len(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return [
        backend,
        scenario,
        f"{documents:,}",
        f"{documents / seconds:,.1f}",
        f"{statistics.median(ordered):,.1f}",
        f"{p99:,.1f}",
        f"{ordered[-1]:,.1f}",
        f"{await _synced(db):,}",
        str(in_erp()),
    ]


async def bench(backend: str, documents: int) -> list[list[str]]:
    url, folder = await _database(backend)
    # The demo stores its payment provider's keys sealed, so the database needs a key to seal them with.
    db = Database(url, (secrets.token_urlsafe(32),))
    rows: list[list[str]] = []
    try:
        await upgrade_to_head(url)
        await _issue_invoices(db, documents)
        fake = FakeOdoo()
        odoo_server = LocalServer(fake.app())
        await odoo_server.start()
        odoo = TimedAdapter(
            OdooErp(
                odoo_server.url,
                database=ODOO_DB,
                login=ODOO_LOGIN,
                api_key=ODOO_KEY,
                breaker_name="bench-odoo",
            )
        )

        def moves() -> int:
            return len(fake.records["account.move"]) + len(fake.records["sale.order"])

        rows.append(await _run(db, odoo, backend, "odoo first push", moves))
        await _send_all_again(db)
        rows.append(await _run(db, odoo, backend, "odoo replay", moves))

        receiver = MiddlewareReceiver(SECRET)
        middleware = LocalServer(receiver.app())
        await middleware.start()
        generic = TimedAdapter(
            GenericErp(f"{middleware.url}/erp/documents", secret=SECRET, breaker_name="bench-mw")
        )
        await _send_all_again(db)
        rows.append(await _run(db, generic, backend, "generic push", lambda: len(receiver.processed)))
        await middleware.stop()

        await odoo_server.stop()
        await _send_all_again(db)
        rows.append(await _run(db, odoo, backend, "odoo down", moves))
        await odoo.aclose()
        await generic.aclose()
    finally:
        await db.dispose()
        await _drop(backend, url, folder)
    return rows


def _print(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in [HEADER, *rows]) for i in range(len(HEADER))]
    for row in [HEADER, ["-" * w for w in widths], *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


async def main() -> None:
    # A retry or an outage is the point of two scenarios: their warnings would drown the table.
    logging.basicConfig(level=logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="embedded,postgres")
    parser.add_argument("--documents", type=int, default=300)
    args = parser.parse_args()
    rows: list[list[str]] = []
    for backend in args.backends.split(","):
        rows.extend(await bench(backend.strip(), args.documents))
    _print(rows)


if __name__ == "__main__":
    asyncio.run(main())
