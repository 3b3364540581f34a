"""The sales KPI panel (`/sales/kpis`), live on the `kpi` and `sales` topics."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request

from ops.auth.web import current_actor, current_tenant, login_required
from ops.db import utcnow
from ops.i18n import format_date, format_money, format_number, format_percent, ngettext
from ops.i18n import gettext as _
from ops.pages import is_htmx, render_fragment, render_page
from ops.runtime import runtime
from ops.sales.kpis import queries
from ops.sales.leads.service import source_labels, stage_labels

bp = Blueprint("sales_kpis", __name__, url_prefix="/sales/kpis")

PANEL = "sales/kpis/panel.html"
DEFAULT_PERIOD = "month"


def period_label(key: str) -> str:
    return {"today": _("Today"), "week": _("This week"), "month": _("This month")}.get(key, key)


def counted_label(what: str, key: str) -> str:
    """What a period figure counts, in words: "Leads closed this month". The won and lost leads count by
    the day they closed, the captured ones by the day they were captured (see queries' docstring)."""
    labels = {
        ("closed", "today"): _("Leads closed today"),
        ("closed", "week"): _("Leads closed this week"),
        ("closed", "month"): _("Leads closed this month"),
        ("captured", "today"): _("Leads captured today"),
        ("captured", "week"): _("Leads captured this week"),
        ("captured", "month"): _("Leads captured this month"),
        ("open", "today"): _("Open leads captured today, by their stage now"),
        ("open", "week"): _("Open leads captured this week, by their stage now"),
        ("open", "month"): _("Open leads captured this month, by their stage now"),
    }
    return labels[what, key]


def age_label(band: str) -> str:
    labels = {
        "0-30": _("Up to 30 days"),
        "31-60": _("31 to 60 days"),
        "61-90": _("61 to 90 days"),
        "90+": _("Over 90 days"),
    }
    return labels.get(band, band)


@bp.context_processor
def helpers() -> dict[str, Any]:
    return {
        "format_date": format_date,
        "format_number": format_number,
        "format_percent": format_percent,
        "period_label": period_label,
        "counted_label": counted_label,
        "age_label": age_label,
        "rules": queries,
    }


Bar = tuple[str, Any, str]  # label, the value the bar's length shows, the value as text


def bars_of(kpis: queries.SalesKpis) -> dict[str, list[Bar]]:
    """Each list KPI as labelled bars, in the reader's language."""
    sources, stages = source_labels(), stage_labels()
    return {
        "leads_by_source": [
            (sources.get(source, source), count, str(count)) for source, count in kpis.leads_by_source.items()
        ],
        "open_by_stage": [
            (stages.get(stage, stage), count, str(count)) for stage, count in kpis.open_by_stage.items()
        ],
        "closed_by_stage": [
            (stages.get(stage, stage), count, str(count)) for stage, count in kpis.closed_by_stage.items()
        ],
        "pipeline": [
            (
                stages.get(stage.stage, stage.stage),
                stage.value,
                # Joined rather than an f-string: pybabel does not see a message inside an f-string.
                " · ".join(
                    (format_money(stage.value), ngettext("%(num)s lead", "%(num)s leads", stage.leads))
                ),
            )
            for stage in kpis.pipeline
        ],
        "stock_aging": [(age_label(band), count, str(count)) for band, count in kpis.stock_aging.items()],
        "revenue_per_rep": [
            (
                rep.name or _("Unassigned"),
                rep.revenue,
                " · ".join((format_money(rep.revenue), ngettext("%(num)s deal", "%(num)s deals", rep.deals))),
            )
            for rep in kpis.revenue_per_rep
        ],
    }


@bp.get("")
@login_required
async def panel() -> Any:
    actor = current_actor()
    actor.require("sales_kpi.view")
    tenant = current_tenant()
    key = request.args.get("period", DEFAULT_PERIOD)
    if key not in queries.PERIODS:
        key = DEFAULT_PERIOD
    # The live position is taken before the read, so nothing committed in between is missed.
    live_id = runtime().hub.current_id()
    now = utcnow()
    period = queries.period_for(key, now, tenant.timezone)
    async with runtime().db.read(actor.tenant_id) as session:
        kpis = await queries.sales_kpis(session, period, now, tenant.timezone)
    context = {
        "kpis": kpis,
        "period": period,
        "periods": queries.PERIODS,
        "live_id": live_id,
        "bars_of": bars_of(kpis),
    }
    if is_htmx():
        return await render_fragment(PANEL, "panel", **context)
    return await render_page(PANEL, **context)
