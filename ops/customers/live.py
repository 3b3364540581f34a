"""Live updates for the customer page (topic `customer:<id>`).

Whatever happens to a customer comes from many areas: a note logged here, a lead moved on the pipeline
board, a quote accepted through its link, a job finished in the workshop. The page is cheap to read
again, so every event on the topic is only a signal: the page re-fetches its live sections, and no area
has to know how the customer page draws its own entry.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from ops.auth.actor import Actor
from ops.customers import queries
from ops.db import Database
from realtime.wake import WakePage

# A positive id that fits the id columns (BIGINT), so a long number is refused and not a database error.
CUSTOMER_ID = re.compile(r"[1-9][0-9]{0,17}")


class CustomerLive(WakePage):
    """Renderer for the `customer:<id>` topic: every event wakes the page."""

    page = "customer"


def customer_topic_guard(db: Database) -> Callable[[Actor, str], Awaitable[bool]]:
    """`customer:<id>` may be watched only by those who may see customers, for one of their tenant."""

    async def guard(actor: Actor, argument: str) -> bool:
        if not CUSTOMER_ID.fullmatch(argument) or not actor.can("customer.view"):
            return False
        async with db.read(actor.tenant_id) as session:
            return await queries.customer_exists(session, int(argument))

    return guard
