"""One typed settings object, read from the environment once at start-up."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def normalise_database_url(url: str) -> str:
    """Accept the URLs operators usually have and pick the async driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    data_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str | None = None
    secret_key: str = ""
    # Earlier secret keys, newest first: they still open the partner secrets they sealed until
    # `pitwall migrate` seals them again under `secret_key` (ops/sealing.py).
    old_secret_keys: tuple[str, ...] = ()
    # The embedded default runs the worker loop inside the web process.
    embedded_worker: bool = True
    redis_prefix: str = "pitwall"
    live_log_max_entries: int = 10_000
    sse_heartbeat_seconds: float = 25.0
    sse_client_queue_bytes: int = 512 * 1024
    relay_interval_seconds: float = 1.0
    relay_grace_seconds: float = 2.0
    login_attempts_per_window: int = 10
    login_window_seconds: int = 300
    max_request_bytes: int = 1024 * 1024
    # Proxies in front of the web processes whose X-Forwarded-For/-Proto are believed (0: none). Without
    # it, behind a load balancer every client has the balancer's address and shares its sign-in limit.
    trusted_proxy_hops: int = 0
    log_level: str = "INFO"
    # Outgoing mail: smtp://user:pass@host:port (smtps:// for implicit TLS, ?starttls=1 to require
    # STARTTLS). Without it, mail is written as .eml files under <data_dir>/mail, so the embedded demo
    # works with no configuration.
    smtp_url: str | None = None
    mail_from: str = "Pitwall <no-reply@localhost>"
    mail_poll_seconds: float = 2.0
    # The address customers reach this server at, for links in mail (https://service.example.ch).
    # Without it, links use the address the sender's browser used.
    public_url: str | None = None
    # Requests one address may make to the public estimate pages per window (each click on a choice
    # asks for the new totals): plenty for a customer, too few to hammer the database.
    public_requests_per_window: int = 120
    public_window_seconds: int = 600
    # Outbound webhooks may go to private, loopback and link-local addresses (a partner on the same
    # network, the tests' local receivers). Off by default: an endpoint URL must not reach inside (SSRF).
    webhook_allow_private_targets: bool = False
    webhook_poll_seconds: float = 1.0
    # ERP (H5, integrations/erp): "odoo" or "generic"; None means no ERP and no sync jobs at all.
    # Odoo: erp_url is the server (https://erp.example.ch), erp_db/erp_user/erp_api_key its login.
    # Generic: erp_url receives the signed documents, erp_pull_url answers part levels.
    erp: str | None = None
    erp_url: str | None = None
    erp_db: str | None = None
    erp_user: str | None = None
    erp_api_key: str | None = None
    erp_secret: str | None = None
    erp_pull_url: str | None = None
    erp_pull_minutes: int = 60
    erp_timeout_seconds: float = 10.0
    erp_poll_seconds: float = 5.0
    # Domain events younger than this are left for the next pass, so that one committed late with a
    # smaller id is not stepped over by the ERP's event cursor.
    erp_event_grace_seconds: float = 10.0
    # Stripe's API (payments); tests point it at a local server that speaks the same endpoints.
    stripe_api_base: str = "https://api.stripe.com"
    # Partner API (ops/api): requests per token and window, writes (POST, PATCH, DELETE) more tightly.
    api_requests_per_window: int = 1000
    api_writes_per_window: int = 100
    api_window_seconds: int = 900
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def secret_keys(self) -> tuple[str, ...]:
        """The keys partner secrets are opened with, the one they are sealed with first."""
        return (self.secret_key, *self.old_secret_keys)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _secret_key(data_dir: Path, env: str) -> str:
    key = os.environ.get("PITWALL_SECRET_KEY", "")
    if key:
        return key
    if env == "production":
        raise RuntimeError("PITWALL_SECRET_KEY must be set when PITWALL_ENV=production")
    # Development keeps a generated key in the data folder so sessions survive restarts.
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _erp_settings(env_vars: Mapping[str, str]) -> dict[str, object]:
    """The ERP's settings (H5); a half-configured ERP stops the start with what is missing."""
    kind = (env_vars.get("PITWALL_ERP") or "").strip().lower() or None
    if kind not in (None, "odoo", "generic"):
        raise RuntimeError(f"PITWALL_ERP must be odoo or generic, not {kind!r}")
    values: dict[str, object] = {
        "erp": kind,
        "erp_url": env_vars.get("PITWALL_ERP_URL") or None,
        "erp_db": env_vars.get("PITWALL_ERP_DB") or None,
        "erp_user": env_vars.get("PITWALL_ERP_USER") or None,
        "erp_api_key": env_vars.get("PITWALL_ERP_API_KEY") or None,
        "erp_secret": env_vars.get("PITWALL_ERP_SECRET") or None,
        "erp_pull_url": env_vars.get("PITWALL_ERP_PULL_URL") or None,
        "erp_pull_minutes": int(env_vars.get("PITWALL_ERP_PULL_MINUTES") or 60),
    }
    required = {
        "odoo": ("PITWALL_ERP_URL", "PITWALL_ERP_DB", "PITWALL_ERP_USER", "PITWALL_ERP_API_KEY"),
        "generic": ("PITWALL_ERP_URL", "PITWALL_ERP_SECRET"),
    }.get(kind or "", ())
    missing = [name for name in required if not env_vars.get(name)]
    if missing:
        raise RuntimeError(f"PITWALL_ERP={kind} needs {', '.join(missing)}")
    return values


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env_vars = os.environ if environ is None else environ
    env = env_vars.get("PITWALL_ENV", "development")
    data_dir = Path(env_vars.get("PITWALL_DATA_DIR", "var")).resolve()
    database_url = env_vars.get("DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'pitwall.db'}"
    redis_url = env_vars.get("REDIS_URL") or None
    return Settings(
        env=env,
        data_dir=data_dir,
        database_url=normalise_database_url(database_url),
        redis_url=redis_url,
        secret_key=_secret_key(data_dir, env),
        old_secret_keys=tuple(
            key.strip() for key in (env_vars.get("PITWALL_OLD_SECRET_KEYS") or "").split(",") if key.strip()
        ),
        embedded_worker=_bool(env_vars.get("PITWALL_EMBEDDED_WORKER"), redis_url is None),
        redis_prefix=env_vars.get("PITWALL_REDIS_PREFIX", "pitwall"),
        log_level=env_vars.get("PITWALL_LOG_LEVEL", "INFO"),
        trusted_proxy_hops=int(env_vars.get("PITWALL_TRUSTED_PROXY_HOPS") or 0),
        smtp_url=env_vars.get("PITWALL_SMTP_URL") or None,
        mail_from=env_vars.get("PITWALL_MAIL_FROM") or Settings.mail_from,
        public_url=env_vars.get("PITWALL_PUBLIC_URL") or None,
        stripe_api_base=env_vars.get("PITWALL_STRIPE_API_BASE") or Settings.stripe_api_base,
        webhook_allow_private_targets=_bool(env_vars.get("PITWALL_WEBHOOK_ALLOW_PRIVATE"), False),
        api_requests_per_window=int(
            env_vars.get("PITWALL_API_REQUESTS_PER_WINDOW") or Settings.api_requests_per_window
        ),
        api_writes_per_window=int(
            env_vars.get("PITWALL_API_WRITES_PER_WINDOW") or Settings.api_writes_per_window
        ),
        **_erp_settings(env_vars),  # type: ignore[arg-type]
    )


def new_secret() -> str:
    return secrets.token_urlsafe(48)
