"""Live updates for the work-order page (`wo:<id>` topics).

Any event of a work order re-renders the page's sections (status header and actions, lines and
totals, history, notes) once per view and sends them as out-of-band swaps. Each section carries a
fingerprint of what it shows (`data-live-key`); static/js/app.js skips a swap whose fingerprint the
page already has, so an update that does not touch a section leaves what someone is typing there alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2_fragments import render_block_async
from markupsafe import Markup
from quart import Quart
from werkzeug.routing import BuildError

from ops.auth.actor import PERMISSIONS
from ops.db import Database
from ops.events import EventRecord
from ops.i18n import gettext as _
from ops.workshop.jobs import queries
from ops.workshop.jobs.queries import OrderDetail, ScheduleChoices
from ops.workshop.live import announcement_for
from ops.workshop.parts.service import format_quantity
from ops.workshop.service import PRIORITIES
from realtime.hub import View

ORDER_TEMPLATE = "workshop/jobs/order.html"


def path_builder(app: Quart) -> Callable[..., str | None]:
    """`path_for(endpoint, **values)`: the path of a route, or None while no blueprint serves it.

    The page offers an action only when its route exists, so it works before every part of the
    workshop is installed. Built from the URL map alone, it needs no request, so live renders use it.
    """
    adapter = app.url_map.bind("localhost")

    def path_for(endpoint: str, **values: Any) -> str | None:
        if endpoint not in app.view_functions:
            return None
        try:
            return adapter.build(endpoint, values)
        except BuildError:
            return None

    return path_for


def order_context(
    app: Quart,
    order: OrderDetail,
    *,
    role: str,
    choices: ScheduleChoices,
    csrf: str | None = None,
    forms: dict[str, dict[str, Any]] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    oob: bool = False,
    live: bool = False,
    announcement: str = "",
) -> dict[str, Any]:
    """What the page's template needs, the same for the page, an htmx answer and a live update.

    `oob` renders the sections as out-of-band swaps (htmx answers, live updates); `live` marks them
    as a live update, which the page may skip for a section that shows nothing new. The attribute
    helpers are functions rather than template macros so that every block renders on its own."""

    def swap_attrs(key: str) -> Markup:
        attrs = Markup(' data-live-key="{}"').format(key)
        if oob or live:
            attrs += Markup(' hx-swap-oob="true"')
        if live:
            attrs += Markup(" data-live-update")
        return attrs

    def csrf_field() -> Markup:
        if not csrf:
            return Markup("")
        return Markup('<input type="hidden" name="csrf_token" value="{}">').format(csrf)

    return {
        "swap_attrs": swap_attrs,
        "csrf_field": csrf_field,
        "field_error": field_error,
        "described": described,
        "changed_details": changed_details,
        "priorities": PRIORITIES,
        "order": order,
        "can": lambda permission: role in PERMISSIONS.get(permission, set()),
        "role": role,
        "choices": choices,
        "csrf": csrf,
        "forms": forms or {},
        "errors": errors or {},
        "oob": oob or live,
        "live": live,
        "announcement": announcement,
        "path_for": path_builder(app),
        "format_quantity": format_quantity,
    }


def field_error(errors: dict[str, str], form_id: str, name: str) -> Markup:
    """The message next to a field that failed, referenced by the field's aria-describedby."""
    if not errors.get(name):
        return Markup("")
    return Markup('<p class="field-error" id="{}-{}-error">{}</p>').format(form_id, name, errors[name])


def described(errors: dict[str, str], form_id: str, name: str) -> Markup:
    if not errors.get(name):
        return Markup("")
    return Markup(' aria-invalid="true" aria-describedby="{}-{}-error"').format(form_id, name)


def changed_details(names: tuple[str, ...]) -> str:
    """What a correction changed, as its history entry lists it: "Complaint, Promised"."""
    labels = {
        "complaint": _("Complaint"),
        "category_id": _("Category"),
        "priority": _("Priority"),
        "promised_at": _("Promised"),
    }
    return ", ".join(labels.get(name, name) for name in names)


def line_announcement(record: EventRecord) -> str:
    payload = record.payload
    who = record.actor_name or _("someone")
    if record.type == "work_order.line_added":
        return _(
            "%(description)s added to %(number)s by %(who)s.",
            description=payload["description"],
            number=payload["number"],
            who=who,
        )
    if record.type == "work_order.line_removed":
        return _(
            "%(description)s removed from %(number)s by %(who)s.",
            description=payload["description"],
            number=payload["number"],
            who=who,
        )
    return announcement_for(record)


class WorkOrderLive:
    """Renderer for `wo:<id>`: the page's sections as they are now, for any event of that order."""

    def __init__(self, db: Database, app: Quart) -> None:
        self.db = db
        self.app = app

    async def load(self, records: list[EventRecord], topic: str) -> list[Any]:
        """One read for the whole batch: every event of it shows the order as it is after the batch,
        so the last swap leaves the page right however many changes the batch held."""
        work_order_id = int(topic.rsplit(":", 1)[1])
        async with self.db.read(records[0].tenant_id) as session:
            order = await queries.order_detail(session, work_order_id)
            choices = await queries.schedule_choices(session)
        return [(order, choices)] * len(records)

    async def render(self, loaded: Any, record: EventRecord, view: View) -> str:
        order, choices = loaded
        if order is None:
            return ""
        context = order_context(
            self.app,
            order,
            role=view.role,
            choices=choices,
            live=True,
            announcement=line_announcement(record),
        )
        return await render_block_async(self.app.jinja_env, ORDER_TEMPLATE, "live_update", **context)
