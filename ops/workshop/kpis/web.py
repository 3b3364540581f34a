"""The workshop KPI panel with the technician leaderboard, live on the `workshop` topic."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request

from ops.auth.web import current_actor, current_tenant, login_required
from ops.db import utcnow
from ops.i18n import format_date, format_minutes, format_number, format_percent
from ops.i18n import gettext as _
from ops.pages import is_htmx, render_fragment, render_page
from ops.runtime import runtime
from ops.workshop.kpis import queries

bp = Blueprint("kpis", __name__, url_prefix="/workshop/kpis")

PANEL = "workshop/kpis/panel.html"
DEFAULT_PERIOD = "week"


def period_label(key: str) -> str:
    return {"today": _("Today"), "week": _("This week"), "month": _("This month")}.get(key, key)


def badge_label(badge: str) -> str:
    return {
        "first_time_fixer": _("First-time fixer"),
        "speedster": _("Speedster"),
        "iron_man": _("Iron man"),
    }.get(badge, badge)


@bp.context_processor
def helpers() -> dict[str, Any]:
    return {
        "format_date": format_date,
        "format_minutes": format_minutes,
        "format_number": format_number,
        "format_percent": format_percent,
        "period_label": period_label,
        "badge_label": badge_label,
        "rules": queries,
    }


@bp.get("")
@login_required
async def panel() -> Any:
    actor = current_actor()
    actor.require("kpi.view")
    tenant = current_tenant()
    key = request.args.get("period", DEFAULT_PERIOD)
    if key not in queries.PERIODS:
        key = DEFAULT_PERIOD
    # The live position is taken before the read, so nothing committed in between is missed.
    live_id = runtime().hub.current_id()
    now = utcnow()
    period = queries.period_for(key, now, tenant.timezone)
    async with runtime().db.read(actor.tenant_id) as session:
        kpis = await queries.kpi_panel(session, period, tenant.labour_rate, now)
        board = await queries.leaderboard(session, now, tenant.timezone)
    context = {
        "kpis": kpis,
        "board": board,
        "period": period,
        "periods": queries.PERIODS,
        "live_id": live_id,
        "currency": tenant.currency,
    }
    if is_htmx():
        return await render_fragment(PANEL, "panel", **context)
    return await render_page(PANEL, **context)
