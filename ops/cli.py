"""The `pitwall` command: serve, worker, migrate, seed, create-tenant, create-user."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import getpass
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from ops.auth.actor import ROLES, Actor, RuleViolation
from ops.config import Settings, load_settings
from ops.db import Database
from ops.logs import configure_logging


def _run_service(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a long-lived process (the web server, the worker) on uvloop where it is installed: the same
    asyncio API on libuv, about a tenth less CPU per live write and a quarter less per database round
    trip (bench/README.md). One-shot commands keep asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


def _settings() -> Settings:
    return _prepared(load_settings())


def _prepared(settings: Settings) -> Settings:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    configure_logging(settings.log_level)
    return settings


def _password(prompt: str) -> str:
    from_env = os.environ.get("PITWALL_PASSWORD")
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return getpass.getpass(prompt)


def _refused(command: str, error: RuleViolation) -> int:
    """Name the option that was wrong, so the operator knows what to change; exit code 2 like argparse."""
    field = error.field or ""
    where = "password (stdin)" if field.endswith("password") else f"--{field.replace('_', '-')}"
    print(f"pitwall {command}: {where + ': ' if field else ''}{error}", file=sys.stderr)
    return 2


async def _with_db(settings: Settings, action: Callable[[Database], Awaitable[Any]]) -> Any:
    db = Database(settings.database_url, settings.secret_keys)
    try:
        return await action(db)
    finally:
        await db.dispose()


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)


def cmd_serve(args: argparse.Namespace) -> int:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from ops.app import create_app

    settings = _settings()
    app = create_app(settings)
    # The live fan-out allocates a few short-lived objects per watcher and update: freeze what start-up
    # built so that collections never walk it again, and collect young objects less often. At 1000
    # watchers this took a third off the p99 of bench/live_fanout.py.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    config = Config()
    config.bind = [f"{args.host}:{args.port}"]
    config.graceful_timeout = 5
    if args.certfile:
        # Over TLS browsers speak HTTP/2 to us: every open live page shares one connection, instead of
        # holding one of the six HTTP/1.1 allows a browser per host.
        config.certfile, config.keyfile = args.certfile, args.keyfile
    scheme = "https" if args.certfile else "http"
    print(
        f"Pitwall on {scheme}://{args.host}:{args.port}  (database: {settings.database_url.split('@')[-1]}, "
        f"live log: {'redis' if settings.redis_url else 'in-process'})",
        flush=True,
    )

    async def run() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        await serve(app, config, shutdown_trigger=stop.wait)

    _run_service(run)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from ops.worker import run_worker
    from realtime.log import create_live_log
    from realtime.outbox import OutboxPublisher

    settings = _settings()

    async def run() -> None:
        db = Database(settings.database_url, settings.secret_keys)
        live_log = create_live_log(settings.redis_url, settings.redis_prefix, settings.live_log_max_entries)
        stop = asyncio.Event()
        _stop_on_signals(stop)
        try:
            await run_worker(settings, OutboxPublisher(db, live_log), stop)
        finally:
            await live_log.close()
            await db.dispose()

    _run_service(run)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from ops.migrate import upgrade_to_head_sync

    settings = _settings()
    upgrade_to_head_sync(settings.database_url)
    print("database is at the latest migration")
    resealed = asyncio.run(_with_db(settings, _reseal))
    if resealed:
        print(f"{resealed} stored partner secret(s) sealed under the current PITWALL_SECRET_KEY")
    return 0


async def _reseal(db: Database) -> int:
    from ops.sealing import reseal_stored_secrets

    assert db.secret_box is not None
    async with db.system(write=True) as session:
        written = await reseal_stored_secrets(session, db.secret_box)
        await session.commit()
    return written


async def _seed_and_analyze(db: Database) -> Any:
    from ops.seed import seed_demo

    result = await seed_demo(db)
    await db.refresh_statistics()
    return result


def cmd_seed(args: argparse.Namespace) -> int:
    from ops.seed import DEMO_PASSWORD, DEMO_USERS

    if not args.demo:
        print("nothing to seed: pass --demo for the demo dealership", file=sys.stderr)
        return 2
    settings = load_settings()
    if settings.is_production:
        # Refused before anything is touched: demo accounts share one published password.
        print(
            "pitwall seed: refusing to create demo accounts with PITWALL_ENV=production "
            "(they all share a published password)",
            file=sys.stderr,
        )
        return 2
    settings = _prepared(settings)
    tenant, created = asyncio.run(_with_db(settings, _seed_and_analyze))
    print(("Seeded" if created else "Already seeded:") + f" {tenant.name} (tenant slug '{tenant.slug}').")
    print(f"Demo accounts, all with the password '{DEMO_PASSWORD}':")
    for email, name, role, _locale in DEMO_USERS:
        print(f"  {email:<28} {role:<17} {name}")
    return 0


def cmd_create_tenant(args: argparse.Namespace) -> int:
    from ops.mail.service import sign_in_url
    from ops.tenants.service import provision_tenant

    settings = _settings()
    password = _password("Password for the tenant's admin: ")

    async def create(db: Database) -> Any:
        return await provision_tenant(
            db,
            slug=args.slug,
            name=args.name,
            admin_email=args.admin_email,
            admin_name=args.admin_name,
            admin_password=password,
            country=args.country,
            plan=args.plan,
            sign_in_url=sign_in_url(settings.public_url),
        )

    try:
        provisioned = asyncio.run(_with_db(settings, create))
    except RuleViolation as error:
        return _refused("create-tenant", error)
    print(
        f"created tenant '{provisioned.tenant.slug}' (id {provisioned.tenant.id}) "
        f"with admin {provisioned.admin.email}"
    )
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    from ops.auth.service import create_user
    from ops.mail.service import sign_in_url
    from ops.tenants.service import tenant_by_slug

    settings = _settings()
    password = _password(f"Password for {args.email}: ")

    async def create(db: Database) -> Any:
        tenant = await tenant_by_slug(db, args.tenant)
        if tenant is None:
            raise RuleViolation(f"there is no tenant with the slug '{args.tenant}'", field="tenant")
        async with db.uow(Actor.system(tenant.id, "cli")) as uow:
            return await create_user(
                uow,
                email=args.email,
                name=args.name,
                role=args.role,
                password=password,
                locale=args.locale,
                sign_in_url=sign_in_url(settings.public_url),
            )

    try:
        user = asyncio.run(_with_db(settings, create))
    except RuleViolation as error:
        return _refused("create-user", error)
    print(f"created {user.role} {user.email}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pitwall", description="Pitwall: live operations for dealerships")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web server (Hypercorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--certfile", help="serve HTTPS and HTTP/2 with this certificate (PEM)")
    serve.add_argument("--keyfile", help="the certificate's private key (PEM)")
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("worker", help="run the worker (outbox relay)").set_defaults(func=cmd_worker)
    sub.add_parser("migrate", help="upgrade the database to the latest migration").set_defaults(
        func=cmd_migrate
    )

    seed = sub.add_parser("seed", help="create demo data")
    seed.add_argument("--demo", action="store_true", help="the Swiss demo dealership (refused in production)")
    seed.set_defaults(func=cmd_seed)

    tenant = sub.add_parser("create-tenant", help="provision a tenant with its admin (password on stdin)")
    tenant.add_argument("--slug", required=True)
    tenant.add_argument("--name", required=True)
    tenant.add_argument("--admin-email", required=True)
    tenant.add_argument("--admin-name", required=True)
    tenant.add_argument("--country", default="US")
    tenant.add_argument("--plan", default="STARTER", choices=("STARTER", "PROFESSIONAL", "ENTERPRISE"))
    tenant.set_defaults(func=cmd_create_tenant)

    user = sub.add_parser("create-user", help="add a user to a tenant (password on stdin)")
    user.add_argument("--tenant", required=True, help="tenant slug")
    user.add_argument("--email", required=True)
    user.add_argument("--name", required=True)
    user.add_argument("--role", required=True, choices=ROLES)
    user.add_argument("--locale", default=None)
    user.set_defaults(func=cmd_create_user)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "serve" and bool(args.certfile) != bool(args.keyfile):
        parser.error("--certfile and --keyfile go together")
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
