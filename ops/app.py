"""The app factory: wires settings, database, live log, hub, blueprints and the request plumbing."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypercorn.middleware import ProxyFixMiddleware
from hypercorn.typing import ASGISendCallable
from quart import Quart, Request, abort, g, redirect, request, url_for
from quart.asgi import ASGIHTTPConnection
from werkzeug.exceptions import HTTPException

from ops import health
from ops.api import web as api_web
from ops.auth import reset_web as password_reset_web
from ops.auth import tokens_web as api_tokens_web
from ops.auth import users_web
from ops.auth import web as auth_web
from ops.auth.actor import NotFound, PermissionDenied, role_label
from ops.auth.live import UsersLive, guard_users_topic
from ops.auth.service import SESSION_LIFETIME
from ops.config import Settings, load_settings
from ops.customers import web as customers_web
from ops.customers.live import CustomerLive, customer_topic_guard
from ops.customers.service import format_phone
from ops.db import Database
from ops.erp import web as erp_web
from ops.events import EventRecord
from ops.i18n import (
    LANGUAGES,
    N_,
    current_currency,
    current_locale,
    current_timezone,
    format_datetime,
    format_money,
    format_span,
    format_time,
    locale_for,
    template_gettext,
    template_ngettext,
)
from ops.i18n import gettext as _
from ops.json_errors import error_body
from ops.logs import accepted_correlation_id, configure_logging, correlation_id
from ops.mail import web as mail_admin_web
from ops.metrics import LATENCY, REQUESTS
from ops.notices import UserNoticeLive, guard_user_topic
from ops.pages import is_htmx, render_page
from ops.payments import web as payments_web
from ops.payments.live import InvoicePaymentLive, invoice_topic_guard
from ops.ratelimit import RateLimiter
from ops.runtime import Runtime, runtime
from ops.sales.deals import web as deals_web
from ops.sales.kpis import web as sales_kpis_web
from ops.sales.kpis.live import KpiLive, guard_kpi_topic
from ops.sales.leads import web as leads_web
from ops.sales.leads.live import SalesBoardLive, guard_sales_topic
from ops.sales.quotes import web as quotes_web
from ops.sales.quotes.live import ApprovalsLive, QuoteLive, guard_approvals_topic, quote_topic_guard
from ops.sales.stock import web as stock_web
from ops.sales.stock.live import StockLive, guard_stock_topic
from ops.tenants import web as dealership_web
from ops.tenants.service import tenant_by_id
from ops.vehicles import web as vehicles_web
from ops.vehicles.live import (
    FleetLive,
    VehicleLive,
    fleet_header_topics,
    fleet_topic_guard,
    vehicle_topic_guard,
)
from ops.vehicles.maintenance import web as maintenance_web
from ops.vehicles.telemetry import web as telemetry_web
from ops.webhooks import web as webhooks_web
from ops.worker import run_worker
from ops.workshop import web as workshop_web
from ops.workshop.bays import web as bays_web
from ops.workshop.estimates import web as estimates_web
from ops.workshop.invoices import web as invoices_web
from ops.workshop.jobs import web as jobs_web
from ops.workshop.jobs.live import WorkOrderLive
from ops.workshop.kpis import web as kpis_web
from ops.workshop.live import WorkshopBoardLive, guard_workshop_topic, work_order_topic_guard
from ops.workshop.parts import web as parts_web
from ops.workshop.parts.live import PartsLive, guard_parts_topic, part_topic_guard
from ops.workshop.parts.service import unit_label
from ops.workshop.service import priority_label, status_label
from ops.workshop.technicians import web as technicians_web
from ops.workshop.technicians.live import TechniciansLive, guard_technicians_topic
from realtime import endpoints as realtime_endpoints
from realtime.hub import Hub, View
from realtime.log import create_live_log
from realtime.outbox import OutboxPublisher
from realtime.presence import Presence, create_presence_store

ROOT = Path(__file__).resolve().parent.parent
STATIC_DIR = ROOT / "static"
log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


@dataclass
class NavItem:
    label: str
    url: str
    current: bool


@dataclass
class NavSection:
    """One area of the product in the top bar: its pages show in the bar while you are in it, the
    other areas' pages in a menu under the area's name."""

    label: str
    key: str
    items: list[NavItem]
    path_prefixes: tuple[str, ...]

    @property
    def current(self) -> bool:
        return any(item.current for item in self.items) or request.path.startswith(self.path_prefixes)


def _item(label: str, endpoint: str, *, exact: bool = False, also: tuple[str, ...] = ()) -> NavItem:
    url = url_for(endpoint)
    path = request.path
    current = path == url if exact else (path == url or path.startswith((url + "/", *also)))
    return NavItem(label, url, current)


def _one_current(sections: list[NavSection]) -> None:
    """A page under two items' addresses (/vehicles/telematics under /vehicles) belongs to the longer."""
    matches = [item for section in sections for item in section.items if item.current]
    best = max(matches, key=lambda item: len(item.url), default=None)
    for item in matches:
        item.current = item is best


# Where `/` lands: the sales team's own board; everybody else's is the job board.
HOME_AREAS = {"sales_rep": "sales", "sales_manager": "sales"}
# A role whose landing page is not its area's first page: a technician works from their own jobs,
# on a phone more often than not, where the whole job board is eight columns to scroll across.
HOME_PAGES = {"technician": "technicians.my_jobs"}


def _first_page(area: str) -> str | None:
    """The first page of the navigation under `/<area>/` that the signed-in actor may open."""
    return next(
        (item.url for section in _navigation() for item in section.items if item.url.startswith(f"/{area}/")),
        None,
    )


def _navigation() -> list[NavSection]:
    actor = g.get("actor")
    if actor is None:
        return []
    workshop = []
    if actor.can("workshop.view"):
        workshop.append(_item(_("Job board"), "workshop.board", exact=True))
    if actor.can("work_order.create"):
        workshop.append(_item(_("New work order"), "workshop.new_work_order", exact=True))
    if actor.can("time_clock.use"):
        workshop.append(_item(_("My jobs"), "technicians.my_jobs", exact=True))
    if actor.can("bay.view"):
        workshop.append(_item(_("Bays"), "bays.overview"))
    if actor.can("technicians.view"):
        workshop.append(_item(_("Technicians"), "technicians.overview", exact=True))
    if actor.can("parts.view"):
        workshop.append(_item(_("Parts"), "parts.index"))
    if actor.can("invoice.view"):
        workshop.append(_item(_("Invoices"), "invoices.invoice_list"))
    if actor.can("kpi.view"):
        workshop.append(_item(_("KPIs"), "kpis.panel", exact=True))
    sales = []
    if actor.can("lead.view"):
        sales.append(_item(_("Pipeline"), "leads.board", exact=True, also=("/sales/leads",)))
    if actor.can("customer.view"):
        sales.append(_item(_("Customers"), "customers.index"))
    if actor.can("stock.view"):
        sales.append(_item(_("Stock"), "stock.index", also=("/sales/test-drives",)))
    if actor.can("quote.view"):
        sales.append(_item(_("Quotes"), "quotes.index", also=("/sales/configure",)))
    if actor.can("quote.approve"):
        sales.append(_item(_("Approvals"), "quotes.approvals", exact=True))
    if actor.can("deal.view"):
        sales.append(_item(_("Deals"), "deals.index"))
    if actor.can("sales_kpi.view"):
        sales.append(_item(_("Sales KPIs"), "sales_kpis.panel", exact=True))
    vehicles = []
    if actor.can("vehicle.view"):
        vehicles.append(_item(_("Vehicles"), "vehicles.index"))
    if actor.can("fleet.view"):
        vehicles.append(_item(_("Fleet board"), "fleet.board", exact=True))
        vehicles.append(_item(_("Fleets"), "fleet.fleets"))
        vehicles.append(_item(_("Maintenance schedules"), "maintenance.schedules"))
    if actor.can("fleet.manage"):
        vehicles.append(_item(_("Telematics"), "telemetry.settings_page"))
    settings = []
    if actor.can("tenant.manage"):
        settings.append(_item(_("Dealership"), "dealership.page"))
    if actor.can("integration.view"):
        settings.append(_item(_("Integrations"), "erp.integrations"))
    if actor.can("user.manage"):
        settings.append(_item(_("Users"), "users.index"))
    if actor.can("api_token.manage"):
        settings.append(_item(_("API tokens"), "api_tokens.index"))
    if actor.can("webhook.manage"):
        settings.append(_item(_("Webhooks"), "webhooks.index"))
    if actor.can("integration.manage"):
        settings.append(_item(_("Payments"), "payments.settings_page"))
    if actor.can("mail.view"):
        settings.append(_item(_("Mail"), "mail_admin.index"))
    sections = [
        NavSection(_("Workshop"), "workshop", workshop, ("/workshop",)),
        NavSection(_("Sales"), "sales", sales, ("/sales", "/customers")),
        NavSection(_("Vehicles"), "vehicles", vehicles, ("/vehicles", "/fleet")),
        NavSection(_("Settings"), "settings", settings, ("/settings", "/api/v1/docs")),
    ]
    sections = [section for section in sections if section.items]
    _one_current(sections)
    return sections


class TenantDisplayCache:
    """Country, timezone and currency per tenant for live renders, refreshed every minute and at once
    when the hub sees the tenant's settings change (any process's admin may have saved them)."""

    def __init__(self, db: Database, ttl: float = 60.0) -> None:
        self.db = db
        self.ttl = ttl
        self._entries: dict[int, tuple[float, str | None, str, str]] = {}

    async def context_for(self, tenant_id: int, view: View) -> Callable[[], None]:
        entry = self._entries.get(tenant_id)
        if entry is None or entry[0] < time.monotonic():
            tenant = await tenant_by_id(self.db, tenant_id)
            country, timezone, currency = (
                (tenant.country, tenant.timezone, tenant.currency) if tenant else (None, "UTC", "USD")
            )
            entry = (time.monotonic() + self.ttl, country, timezone, currency)
            self._entries[tenant_id] = entry
        tokens = (
            current_locale.set(locale_for(view.locale, entry[1])),
            current_timezone.set(entry[2]),
            current_currency.set(entry[3]),
        )

        def restore() -> None:
            current_currency.reset(tokens[2])
            current_timezone.reset(tokens[1])
            current_locale.reset(tokens[0])

        return restore

    def on_event(self, record: EventRecord) -> None:
        if record.type == "tenant.settings_changed":
            self._entries.pop(record.tenant_id, None)


class RouteBodyLimits(ASGIHTTPConnection):
    """The site-wide request size limit, raised only on the routes that take photo and document uploads."""

    def _create_request_from_scope(self, send: ASGISendCallable) -> Request:
        request = super()._create_request_from_scope(send)
        limit = technicians_web.request_body_limit(request.path) or vehicles_web.request_body_limit(
            request.path
        )
        if limit is not None:
            request.max_content_length = limit
            request.body = request.body_class(request.content_length, limit)
        return request


def create_app(settings: Settings | None = None) -> Quart:
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    app = Quart(__name__, template_folder=str(ROOT / "templates"), static_folder=str(STATIC_DIR))
    app.asgi_http_class = RouteBodyLimits
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="pitwall_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        PERMANENT_SESSION_LIFETIME=int(SESSION_LIFETIME.total_seconds()),
        # The cookie lives as long as the signed-in session it names (its row's expires_at, set at
        # sign-in); signing it anew on every response, Quart's default, bought nothing and cost each
        # request an HMAC and a Set-Cookie.
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    app.asgi_app = realtime_endpoints.LiveStream(  # type: ignore[method-assign]
        app, security_headers(settings)
    )
    if settings.trusted_proxy_hops:
        # Only the configured hops are believed, so a client cannot pick its own address by sending
        # X-Forwarded-For itself (the sign-in limit is per address).
        app.asgi_app = ProxyFixMiddleware(  # type: ignore[method-assign]
            app.asgi_app, mode="legacy", trusted_hops=settings.trusted_proxy_hops
        )

    db = Database(settings.database_url, settings.secret_keys)
    live_log = create_live_log(settings.redis_url, settings.redis_prefix, settings.live_log_max_entries)
    publisher = OutboxPublisher(db, live_log)
    db.publish_hook = publisher.publish
    display = TenantDisplayCache(db)
    hub = Hub(
        live_log,
        renderers={
            "workshop": WorkshopBoardLive(db, app.jinja_env),
            "wo": WorkOrderLive(db, app),
            "technicians": TechniciansLive(),
            "parts": PartsLive(),
            "part": PartsLive(),
            "customer": CustomerLive(),
            "stock": StockLive(),
            "sales": SalesBoardLive(db, app.jinja_env),
            "user": UserNoticeLive(app.jinja_env),
            "users": UsersLive(),
            "kpi": KpiLive(),
            "approvals": ApprovalsLive(),
            "quote": QuoteLive(),
            "fleet": FleetLive(),
            "vehicle": VehicleLive(),
            "invoice": InvoicePaymentLive(),
        },
        client_queue_bytes=settings.sse_client_queue_bytes,
        heartbeat_seconds=settings.sse_heartbeat_seconds,
        context_for=display.context_for,
    )
    presence = Presence(create_presence_store(settings.redis_url, settings.redis_prefix), live_log)
    hub.presence_listeners.append(presence.on_notice)
    hub.event_listeners.append(display.on_event)
    app.extensions["pitwall"] = Runtime(
        settings=settings,
        db=db,
        live_log=live_log,
        publisher=publisher,
        hub=hub,
        presence=presence,
        rate_limiter=RateLimiter(settings.redis_url, settings.redis_prefix),
        topic_guards={
            "workshop": guard_workshop_topic,
            "wo": work_order_topic_guard(db),
            "technicians": guard_technicians_topic,
            "parts": guard_parts_topic,
            "part": part_topic_guard(db),
            "customer": customer_topic_guard(db),
            "stock": guard_stock_topic,
            "sales": guard_sales_topic,
            "user": guard_user_topic,
            "users": guard_users_topic,
            "kpi": guard_kpi_topic,
            "approvals": guard_approvals_topic,
            "quote": quote_topic_guard(db),
            "fleet": fleet_topic_guard(db),
            "vehicle": vehicle_topic_guard(db),
            "invoice": invoice_topic_guard(db),
        },
        header_topics=fleet_header_topics(db),
    )

    _setup_templates(app)
    _setup_request_plumbing(app)
    _setup_errors(app)
    for blueprint in (
        auth_web.bp,
        password_reset_web.bp,
        workshop_web.bp,
        jobs_web.bp,
        estimates_web.bp,
        technicians_web.bp,
        bays_web.bp,
        kpis_web.bp,
        invoices_web.bp,
        parts_web.bp,
        customers_web.bp,
        stock_web.bp,
        leads_web.bp,
        quotes_web.bp,
        deals_web.bp,
        sales_kpis_web.bp,
        realtime_endpoints.bp,
        health.bp,
        telemetry_web.bp,
        vehicles_web.bp,
        vehicles_web.fleet_bp,
        maintenance_web.bp,
        payments_web.bp,
        erp_web.bp,
        api_web.bp,
        api_tokens_web.bp,
        users_web.bp,
        webhooks_web.bp,
        mail_admin_web.bp,
        dealership_web.bp,
    ):
        app.register_blueprint(blueprint)

    @app.get("/")
    async def home() -> Any:
        actor = g.get("actor")
        if actor is None:
            return redirect(url_for("auth.login"))
        if actor.role in HOME_PAGES:
            return redirect(url_for(HOME_PAGES[actor.role]))
        return redirect(_first_page(HOME_AREAS.get(actor.role, "workshop")) or url_for("workshop.board"))

    @app.get("/<any(workshop, sales, fleet, settings):area>")
    @auth_web.login_required
    async def area_home(area: str) -> Any:
        """An area's bare address (`/workshop`, typed or cut back from a longer one) opens its first
        page this role may see."""
        page = _first_page(area)
        if page is None:
            abort(404)
        return redirect(page)

    worker_stop = asyncio.Event()
    background: list[asyncio.Task[None]] = []

    @app.before_serving
    async def start_background() -> None:
        worker_stop.clear()
        await hub.start()
        if settings.embedded_worker:
            background.append(asyncio.create_task(run_worker(settings, publisher, worker_stop)))

    @app.after_serving
    async def stop_background() -> None:
        worker_stop.set()
        for task in background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        background.clear()
        await hub.stop()
        await publisher.flush()
        await runtime_close(app)

    return app


async def runtime_close(app: Quart) -> None:
    rt: Runtime = app.extensions["pitwall"]
    await rt.live_log.close()
    await rt.rate_limiter.close()
    store = rt.presence.store
    if hasattr(store, "close"):
        await store.close()
    await rt.db.dispose()


def asset_url(filename: str) -> str:
    """A static file's URL with a fingerprint of its content, so browsers never run stale JS or CSS."""
    path = STATIC_DIR / filename
    stat = path.stat()
    key = (filename, stat.st_mtime_ns, stat.st_size)
    fingerprint = _fingerprints.get(key)
    if fingerprint is None:
        fingerprint = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        _fingerprints[key] = fingerprint
    return url_for("static", filename=filename, v=fingerprint)


_fingerprints: dict[tuple[str, int, int], str] = {}


def _setup_templates(app: Quart) -> None:
    env = app.jinja_env
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=template_gettext, ngettext=template_ngettext, newstyle=True
    )
    env.globals.update(
        status_label=status_label,
        priority_label=priority_label,
        role_label=role_label,
        unit_label=unit_label,
        format_datetime=format_datetime,
        format_time=format_time,
        format_span=format_span,
        format_money=format_money,
        format_phone=format_phone,
        csrf_token=auth_web.csrf_token,
        asset_url=asset_url,
        live_url=realtime_endpoints.live_url,
        live_position=lambda: runtime().hub.current_id(),
    )

    @app.context_processor
    async def page_context() -> dict[str, Any]:
        return {
            "actor": g.get("actor"),
            "tenant": g.get("tenant"),
            "navigation": _navigation(),
            "html_lang": current_locale.get().replace("_", "-"),
        }


def _request_locale() -> str:
    actor, tenant = g.get("actor"), g.get("tenant")
    if actor is not None and tenant is not None:
        return locale_for(actor.locale, tenant.country)
    return locale_for(request.accept_languages.best_match(LANGUAGES))


def security_headers(settings: Settings) -> dict[str, str]:
    """What every response carries, the live stream included."""
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }
    if settings.is_production:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers


def _setup_request_plumbing(app: Quart) -> None:
    @app.before_request
    async def before() -> None:
        g.started = time.perf_counter()
        correlation_id.set(accepted_correlation_id(request.headers.get("X-Correlation-ID")))
        await auth_web.load_actor()
        current_locale.set(_request_locale())
        tenant = g.get("tenant")
        if tenant is not None:
            current_timezone.set(tenant.timezone)
            current_currency.set(tenant.currency)
        await auth_web.check_csrf()

    @app.before_websocket
    async def before_websocket() -> None:
        correlation_id.set(uuid.uuid4().hex)
        await auth_web.load_actor()

    @app.after_request
    async def after(response: Any) -> Any:
        headers = response.headers
        headers["X-Correlation-ID"] = correlation_id.get()
        for name, value in security_headers(runtime().settings).items():
            # A page may bring a policy of its own (the mail page's framed HTML part does).
            if name in ("Content-Security-Policy", "X-Frame-Options"):
                headers.setdefault(name, value)
            else:
                headers[name] = value
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        REQUESTS.labels(rule, request.method, str(response.status_code)).inc()
        started = g.get("started")
        if started is not None:
            LATENCY.labels(rule).observe(time.perf_counter() - started)
        return response


ERROR_TEXT = {
    400: (N_("Bad request"), N_("The request could not be understood.")),
    401: (N_("Sign in required"), N_("Sign in to continue.")),
    403: (N_("Not allowed"), N_("Your role does not allow this.")),
    404: (N_("Not found"), N_("There is nothing here, or it belongs to another dealership.")),
    405: (N_("Not allowed"), N_("This address does not accept that kind of request.")),
    413: (N_("Too large"), N_("The request is larger than allowed.")),
    429: (N_("Too many requests"), N_("Slow down and try again in a moment.")),
    500: (
        N_("Something went wrong"),
        N_("The error was logged. Try again; if it keeps happening, tell us the reference."),
    ),
}


async def _error_response(code: int, description: str | None = None) -> Any:
    title, message = ERROR_TEXT.get(code, ERROR_TEXT[500])
    title, message = _(title), description or _(message)
    if request.path.startswith(("/api/", "/hooks/", "/live", "/healthz", "/readyz")):
        return error_body(code, message), code
    if is_htmx():
        return await render_page("partials/toast.html", kind="error", message=message), code
    body = await render_page(
        "errors/error.html", title=title, message=message, correlation_id=correlation_id.get()
    )
    return body, code


def _setup_errors(app: Quart) -> None:
    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Any:
        code = error.code or 500
        description = error.description if code in (400, 403, 404, 429) and error.description else None
        if description and description == type(error).description:
            description = None
        if code == 401 and not request.path.startswith(("/live", "/api/")) and not is_htmx():
            return redirect(url_for("auth.login", next=request.path))
        return await _error_response(code, description)

    @app.errorhandler(PermissionDenied)
    async def permission_denied(error: PermissionDenied) -> Any:
        return await _error_response(403)

    @app.errorhandler(NotFound)
    async def not_found(error: NotFound) -> Any:
        return await _error_response(404)

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return await _error_response(500)
