"""One typed settings object, read from the environment once at start-up."""

from __future__ import annotations

import os
import secrets
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
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

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
        embedded_worker=_bool(env_vars.get("PITWALL_EMBEDDED_WORKER"), redis_url is None),
        redis_prefix=env_vars.get("PITWALL_REDIS_PREFIX", "pitwall"),
        log_level=env_vars.get("PITWALL_LOG_LEVEL", "INFO"),
        trusted_proxy_hops=int(env_vars.get("PITWALL_TRUSTED_PROXY_HOPS") or 0),
        smtp_url=env_vars.get("PITWALL_SMTP_URL") or None,
        mail_from=env_vars.get("PITWALL_MAIL_FROM") or Settings.mail_from,
        public_url=env_vars.get("PITWALL_PUBLIC_URL") or None,
    )


def new_secret() -> str:
    return secrets.token_urlsafe(48)
