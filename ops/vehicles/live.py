"""Live updates for the fleet board (`fleet`, `fleet:<id>`) and a vehicle's page (`vehicle:<id>`).

The board and the profile are filtered per reader (a user limited to some fleets sees only theirs), so
a message does not carry rows: it wakes the page's live sections, which re-fetch themselves as their
reader, and it carries what is the same for everyone who receives it:
- a sentence for screen readers (`#announcer`);
- for a critical alert, a toast, and the header's alert badge re-loading itself (`hx-trigger="load"`).
Readings arrive far more often than anything else changes, so they never wake the board: what a reading
changes there comes as its own event (an alert raised or cleared, a silent vehicle's `stopped_reporting`
alert closed by its next reading).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from markupsafe import Markup, escape

from ops.auth.actor import Actor
from ops.db import Database
from ops.events import EventRecord
from ops.i18n import gettext as _
from ops.vehicles import queries
from ops.vehicles.service import allowed_fleet_ids, condition_label, severity_label
from realtime.hub import View
from realtime.wake import WakePage

ID = re.compile(r"[1-9][0-9]{0,17}")
# Non-empty, so the page's `sse:update` trigger fires; the page's sink swaps nothing.
CHANGED = Markup('<span class="fleet-changed" hidden></span>')
BOARD_EVENTS = (
    "telemetry.alert_raised",
    "telemetry.alert_cleared",
    "vehicle.stopped_reporting",
    "maintenance.due_changed",
    "maintenance.work_order_linked",
    "vehicle_alert.work_order_linked",
    "vehicle.created",
    "vehicle.updated",
    "fleet.created",
    "fleet.updated",
    "fleet.deleted",
    "maintenance.schedule_created",
    "maintenance.schedule_updated",
    "maintenance.schedule_deleted",
)
READING = "telemetry.reading_recorded"
# The header badge of critical alerts (ops/vehicles/web.py serves it for its reader).
ALERT_BADGE_URL = "/fleet/alert-badge"


def _critical(record: EventRecord) -> bool:
    return record.type in ("telemetry.alert_raised", "telemetry.alert_cleared") and (
        record.payload.get("severity") == "CRITICAL"
    )


def announcement_for(record: EventRecord) -> str:
    payload = record.payload
    vehicle = str(payload.get("vehicle") or payload.get("plate") or payload.get("vin") or "")
    condition = condition_label(str(payload.get("condition", "")))
    if record.type == "telemetry.alert_raised":
        return _(
            "%(severity)s alert on %(vehicle)s: %(condition)s.",
            severity=severity_label(str(payload.get("severity", ""))),
            vehicle=vehicle or _("a vehicle"),
            condition=condition,
        )
    if record.type == "telemetry.alert_cleared":
        return _(
            "Alert cleared on %(vehicle)s: %(condition)s.",
            vehicle=vehicle or _("a vehicle"),
            condition=condition,
        )
    if record.type == "maintenance.due_changed" and payload.get("to") in ("DUE", "OVERDUE"):
        service = str(payload.get("service_type", ""))
        if payload["to"] == "OVERDUE":
            return _("%(service)s is overdue on a vehicle.", service=service)
        return _("%(service)s is due on a vehicle.", service=service)
    if record.type == "vehicle.stopped_reporting":
        return _("A vehicle stopped reporting.")
    return ""


def toast(message: str) -> Markup:
    return Markup(
        '<div hx-swap-oob="beforeend:#toasts">'
        '<div class="toast toast-error toast-critical" role="alert">{}</div></div>'
    ).format(message)


def fleet_topics(allowed: frozenset[int] | None) -> list[str]:
    """What a reader of the fleet board watches: `fleet`, or each of the fleets they are limited to."""
    if allowed is None:
        return ["fleet"]
    # /live takes 20 topics; a user limited to more fleets than that is not limited in practice.
    return [f"fleet:{fleet_id}" for fleet_id in sorted(allowed)[:19]]


def fleet_header_topics(db: Database) -> Callable[[Actor], Awaitable[list[str]]]:
    """What every page of a fleet reader watches for the header's critical-alert badge and toast."""

    async def header_topics(actor: Actor) -> list[str]:
        if not actor.can("fleet.view"):
            return []
        async with db.read(actor.tenant_id) as session:
            return fleet_topics(await allowed_fleet_ids(session, actor.user_id))

    return header_topics


class FleetLive:
    """Renderer for `fleet` and `fleet:<id>`: wakes the board, announces, toasts critical alerts.

    Beside a page that does not show the fleet (the view's `header_notices_only`), only a critical
    alert's toast and badge go out: nothing wakes that page's sections or speaks of other vehicles."""

    async def load(self, records: list[EventRecord], topic: str) -> list[Any]:
        return [None] * len(records)

    async def render(self, loaded: Any, record: EventRecord, view: View) -> str:
        if record.type not in BOARD_EVENTS:
            return ""
        sentence = announcement_for(record)
        parts: list[Markup] = []
        if not view.header_notices_only:
            parts.append(CHANGED)
            if sentence:
                parts.append(Markup('<div id="announcer" hx-swap-oob="innerHTML">{}</div>').format(sentence))
        if _critical(record):
            parts.append(
                Markup(
                    '<span id="fleet-alert-badge" hx-swap-oob="outerHTML" hx-get="{}" hx-trigger="load" '
                    'hx-swap="outerHTML"></span>'
                ).format(ALERT_BADGE_URL)
            )
            if record.type == "telemetry.alert_raised":
                parts.append(toast(escape(sentence)))
        return str(Markup("").join(parts))


class VehicleLive(WakePage):
    """Renderer for `vehicle:<id>`: wakes the vehicle's page to re-fetch its live sections, and says
    what happened to screen readers (a reading is too frequent to announce)."""

    page = "fleet"
    event_prefixes = ("telemetry.", "vehicle", "maintenance.")

    async def render(self, loaded: Any, record: EventRecord, view: View) -> str:
        changed = await super().render(loaded, record, view)
        sentence = announcement_for(record) if changed and record.type != READING else ""
        if not sentence:
            return changed
        return changed + str(Markup('<div id="announcer" hx-swap-oob="innerHTML">{}</div>').format(sentence))


def fleet_topic_guard(db: Database) -> Callable[[Actor, str], Awaitable[bool]]:
    """`fleet` for people who see every vehicle; `fleet:<id>` for those allowed that fleet."""

    async def guard(actor: Actor, argument: str) -> bool:
        if not actor.can("fleet.view"):
            return False
        async with db.read(actor.tenant_id) as session:
            allowed = await allowed_fleet_ids(session, actor.user_id)
            if argument == "":
                return allowed is None
            if not ID.fullmatch(argument):
                return False
            if allowed is not None:
                return int(argument) in allowed
            return await queries.fleet_exists(session, int(argument))

    return guard


def vehicle_topic_guard(db: Database) -> Callable[[Actor, str], Awaitable[bool]]:
    """`vehicle:<id>` only for a vehicle the watcher may see."""

    async def guard(actor: Actor, argument: str) -> bool:
        if not ID.fullmatch(argument) or not actor.can("vehicle.view"):
            return False
        async with db.read(actor.tenant_id) as session:
            allowed = await allowed_fleet_ids(session, actor.user_id)
            return await queries.vehicle_exists(session, int(argument), allowed)

    return guard
