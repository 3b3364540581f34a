"""The worker's ERP loop, running as the embedded default runs it: a deal made on the page side
reaches Odoo with nobody driving the sync by hand."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import make_settings
from tests.erp.helpers import deal_made, jobs_of
from tests.erp.servers import ODOO_DB, ODOO_KEY, ODOO_LOGIN


@pytest.fixture
def settings(backend, tmp_path, odoo):  # type: ignore[no-untyped-def]
    _fake, server = odoo
    return make_settings(
        backend,
        tmp_path,
        embedded_worker=True,
        erp="odoo",
        erp_url=server.url,
        erp_db=ODOO_DB,
        erp_user=ODOO_LOGIN,
        erp_api_key=ODOO_KEY,
        erp_event_grace_seconds=0.0,
        erp_poll_seconds=0.2,
    )


async def test_the_worker_pushes_a_new_deal_to_odoo_by_itself(runtime, factory, odoo):
    fake, _server = odoo
    shop = await factory.tenant()
    deal = await deal_made(shop)

    for _ in range(100):
        jobs = await jobs_of(runtime.db, shop.id, "sales_order")
        if jobs and jobs[0].status == "SYNCED":
            break
        await asyncio.sleep(0.1)

    assert [job.status for job in jobs] == ["SYNCED"], "the deal never reached the ERP"
    assert len(fake.find("sale.order", client_order_ref=f"{shop.tenant.slug}/{deal.code}")) == 1
