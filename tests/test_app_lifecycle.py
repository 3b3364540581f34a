"""An app that has stopped is freed: a process that makes one app after another keeps only the live one."""

from __future__ import annotations

import asyncio
import gc
import weakref
from concurrent.futures import ThreadPoolExecutor

from quart import Quart

from ops.app import create_app
from ops.config import Settings
from tests.factories import TenantFactory
from tests.web import sign_in


def test_an_app_that_stopped_is_freed_with_what_its_boards_rendered(settings: Settings) -> None:
    """The test suite and a reloading development server make one app after another. A renderer's
    cache keyed by the app's template environment kept every one of them alive with its engines and
    templates: this suite's process grew to 4 GB and spent minutes collecting garbage at exit."""

    async def show_both_boards() -> weakref.ref[Quart]:
        app = create_app(settings)
        async with app.test_app():
            tenant = await TenantFactory(app.extensions["pitwall"].db).tenant()
            work_order = await tenant.work_order()
            lead = await tenant.lead()
            client = app.test_client()
            await sign_in(client, tenant.admin.email)
            workshop = await (await client.get("/workshop/board")).get_data(as_text=True)
            assert f'id="wo-{work_order.id}"' in workshop
            pipeline = await (await client.get("/sales/board")).get_data(as_text=True)
            assert f'id="lead-{lead.id}"' in pipeline
        return weakref.ref(app)

    # Its own event loop, closed afterwards: timers the app cancelled hold it until they would have run.
    with ThreadPoolExecutor(1) as thread:
        app = thread.submit(asyncio.run, show_both_boards()).result()
    gc.collect()
    assert app() is None, "something still holds the stopped app"
