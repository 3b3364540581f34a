"""The `pitwall` command as an operator runs it: a real process on the embedded default in a fresh folder."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sqlite3
import ssl
import subprocess
import sys
from dataclasses import astuple, dataclass
from pathlib import Path

import httpx
import pytest

from ops.auth.service import verify_password
from tests.tls import self_signed_certificate
from tests.web import csrf_from

PITWALL = str(Path(sys.executable).parent / "pitwall")
DEMO_ACCOUNTS = (
    "admin@demo.test",
    "sales.manager@demo.test",
    "sales@demo.test",
    "advisor@demo.test",
    "workshop.manager@demo.test",
    "tech@demo.test",
    "viewer@demo.test",
)
DEMO_PASSWORD = "pitwall-demo"
OWNER_PASSWORD = "alpenblick-2030"
# Settings an operator's shell might carry; each test decides what the command sees.
OPERATOR_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "PITWALL_ENV",
    "PITWALL_SECRET_KEY",
    "PITWALL_OLD_SECRET_KEYS",
    "PITWALL_PASSWORD",
    "PITWALL_EMBEDDED_WORKER",
    "PITWALL_REDIS_PREFIX",
)


@dataclass
class Ran:
    code: int
    out: str
    err: str


def pitwall(data_dir: Path, *args: str, stdin: str = "", **env: str) -> Ran:
    environment = {k: v for k, v in os.environ.items() if k not in OPERATOR_VARIABLES}
    environment.update(PITWALL_DATA_DIR=str(data_dir), **env)
    done = subprocess.run(
        [PITWALL, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


def query(data_dir: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(data_dir / "pitwall.db") as connection:
        return connection.execute(sql, params).fetchall()


TABLES = (
    "tenants",
    "users",
    "customers",
    "vehicles",
    "work_orders",
    "work_order_categories",
    "events",
    "stock_units",
    "leads",
    "quotes",
    "deals",
)


def snapshot(data_dir: Path) -> dict[str, object]:
    """Every row count and the newest id per table: any write shows up here."""
    return {table: query(data_dir, f"SELECT count(*), max(id) FROM {table}")[0] for table in TABLES}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Ran]:
    data_dir = tmp_path_factory.mktemp("seeded")
    migrated = pitwall(data_dir, "migrate")
    assert migrated.code == 0, migrated.err
    return data_dir, pitwall(data_dir, "seed", "--demo")


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("migrated")
    result = pitwall(data_dir, "migrate")
    assert result.code == 0, result.err
    assert "database is at the latest migration" in result.out
    return data_dir


def test_migrate_keeps_the_embedded_database_in_the_data_folder(migrated):
    assert (migrated / "pitwall.db").exists()
    assert query(migrated, "SELECT count(*) FROM tenants") == [(0,)]


def test_seed_demo_creates_the_demo_dealership_and_prints_its_accounts(seeded):
    data_dir, result = seeded

    assert result.code == 0, result.err
    assert "Seeded" in result.out and "'demo'" in result.out
    assert DEMO_PASSWORD in result.out
    for email in DEMO_ACCOUNTS:
        assert email in result.out
    assert query(data_dir, "SELECT slug, country, currency FROM tenants") == [("demo", "CH", "CHF")]


def test_every_demo_account_signs_in_with_the_demo_password(seeded):
    data_dir, _result = seeded
    accounts = dict(
        query(data_dir, "SELECT u.email, u.password_hash FROM users u JOIN tenants t ON t.id = u.tenant_id")
    )

    for email in DEMO_ACCOUNTS:
        assert email in accounts, email
        assert verify_password(str(accounts[email]), DEMO_PASSWORD), email
    roles = dict(query(data_dir, "SELECT email, role FROM users"))
    assert [roles[email] for email in DEMO_ACCOUNTS] == [
        "admin",
        "sales_manager",
        "sales_rep",
        "service_advisor",
        "workshop_manager",
        "technician",
        "viewer",
    ]


def test_the_demo_has_its_customers_cars_a_busy_workshop_and_a_showroom(seeded):
    data_dir, _result = seeded

    # The workshop's 80 cars, its regular customers' 1,200 and the 2 the showroom delivered, each with its
    # owner: a customer, or the dealership itself for its 6 loan cars.
    assert query(data_dir, "SELECT count(*), count(customer_id) FROM vehicles") == [(1282, 1276)]
    assert query(data_dir, "SELECT count(*) FROM vehicles v JOIN customers c ON c.id = v.customer_id") == [
        (1276,)
    ]
    assert query(
        data_dir,
        "SELECT count(*) FROM vehicles v JOIN fleets f ON f.id = v.fleet_id"
        " WHERE v.customer_id IS NULL AND f.name = 'Alpenblick Ersatzwagen'",
    ) == [(6,)]
    statuses = dict(query(data_dir, "SELECT status, count(*) FROM work_orders GROUP BY status"))
    # 30 open jobs and six weeks of some 40 closed ones a working day.
    assert 30 * 30 < sum(statuses.values()) - 30 < 31 * 45
    open_statuses = {"NEW", "SCHEDULED", "CHECKED_IN", "IN_PROGRESS", "WAITING_PARTS"}
    assert open_statuses <= set(statuses), statuses
    assert len(statuses) >= 8, statuses
    assert query(data_dir, "SELECT count(*) FROM stock_units") == [(25,)]
    assert query(data_dir, "SELECT count(*) FROM leads") == [(40,)]
    assert query(
        data_dir, "SELECT status, count(*) FROM deals WHERE status = 'DELIVERED' GROUP BY status"
    ) == [("DELIVERED", 2)]


def test_seeding_again_changes_nothing(seeded):
    data_dir, _first = seeded
    before = snapshot(data_dir)

    again = pitwall(data_dir, "seed", "--demo")

    assert again.code == 0, again.err
    assert "Already seeded" in again.out
    assert snapshot(data_dir) == before


def test_seed_refuses_in_production_and_writes_nothing(tmp_path):
    assert pitwall(tmp_path, "migrate").code == 0
    before = snapshot(tmp_path)

    refused = pitwall(
        tmp_path,
        "seed",
        "--demo",
        PITWALL_ENV="production",
        PITWALL_SECRET_KEY="a-real-production-key-0123456789",
    )

    assert refused.code == 2
    assert "refusing to create demo accounts with PITWALL_ENV=production" in refused.err
    assert "Traceback" not in refused.err
    assert snapshot(tmp_path) == before


def test_seed_in_production_does_not_even_create_a_database(tmp_path):
    refused = pitwall(
        tmp_path / "fresh",
        "seed",
        "--demo",
        PITWALL_ENV="production",
        PITWALL_SECRET_KEY="a-real-key-0123456789",
    )

    assert refused.code == 2
    assert not (tmp_path / "fresh").exists()


def test_migrate_seals_secrets_stored_in_the_clear_and_again_after_a_key_change(tmp_path):
    """An installation from before sealing keeps its Stripe key in the clear until `pitwall migrate`; after
    a change of PITWALL_SECRET_KEY, migrate with the old key named moves the secret to the new key."""
    old, new = {"PITWALL_SECRET_KEY": "key-of-2025"}, {"PITWALL_SECRET_KEY": "key-of-2026"}
    assert pitwall(tmp_path, "migrate", **old).code == 0
    created = pitwall(
        tmp_path, "create-tenant", "--slug", "alpenblick", "--name", "Garage Alpenblick AG",
        "--admin-email", "owner@alpenblick.ch", "--admin-name", "Martina Keller",
        stdin=f"{OWNER_PASSWORD}\n", **old,
    )  # fmt: skip
    assert created.code == 0, created.err
    with sqlite3.connect(tmp_path / "pitwall.db") as connection:
        connection.execute("UPDATE tenants SET stripe_secret_key = 'sk_live_in_the_clear'")

    def stored() -> str:
        [(value,)] = query(tmp_path, "SELECT stripe_secret_key FROM tenants")
        return str(value)

    sealing = pitwall(tmp_path, "migrate", **old)
    sealed_under_old = stored()
    without_the_old_key = pitwall(tmp_path, "migrate", **new)
    moving = pitwall(tmp_path, "migrate", **new, PITWALL_OLD_SECRET_KEYS="key-of-2025")
    sealed_under_new = stored()
    again = pitwall(tmp_path, "migrate", **new)

    assert sealing.code == 0 and "1 stored partner secret(s) sealed" in sealing.out
    assert sealed_under_old.startswith("sealed:v1:") and "in_the_clear" not in sealed_under_old
    # Nothing opens it: left as it is for the operator to name the old key, and said so.
    assert without_the_old_key.code == 0 and "sealed" not in without_the_old_key.out
    assert "PITWALL_OLD_SECRET_KEYS" in without_the_old_key.err
    assert moving.code == 0 and "1 stored partner secret(s) sealed" in moving.out
    assert sealed_under_new.startswith("sealed:v1:") and sealed_under_new != sealed_under_old
    assert again.code == 0 and "sealed" not in again.out


def test_create_tenant_takes_the_admin_password_on_stdin(migrated):
    result = pitwall(
        migrated,
        "create-tenant",
        "--slug",
        "alpenblick",
        "--name",
        "Garage Alpenblick AG",
        "--admin-email",
        "owner@alpenblick.ch",
        "--admin-name",
        "Martina Keller",
        "--country",
        "CH",
        "--plan",
        "STARTER",
        stdin=f"{OWNER_PASSWORD}\n",
    )

    assert result.code == 0, result.err
    assert "created tenant 'alpenblick'" in result.out
    assert OWNER_PASSWORD not in result.out + result.err
    [(plan, currency, password_hash, role)] = query(
        migrated,
        "SELECT t.plan, t.currency, u.password_hash, u.role FROM tenants t "
        "JOIN users u ON u.tenant_id = t.id WHERE t.slug = 'alpenblick'",
    )
    assert (plan, currency, role) == ("STARTER", "CHF", "admin")
    assert verify_password(str(password_hash), OWNER_PASSWORD)


def _tenant_args(slug: str, email: str) -> list[str]:
    return [
        "create-tenant",
        "--slug",
        slug,
        "--name",
        "Garage",
        "--admin-email",
        email,
        "--admin-name",
        "Owner",
    ]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (_tenant_args("Bad Slug", "a@bad.ch"), OWNER_PASSWORD, "--slug: Use 3 to 60 lower-case letters"),
        (_tenant_args("nopw", "a@nopw.ch"), "", "password (stdin): Use a password of at least 10"),
        (
            _tenant_args("bademail", "not-an-email"),
            OWNER_PASSWORD,
            "--admin-email: Enter a valid email address.",
        ),
        (
            [*_tenant_args("badcountry", "a@bc.ch"), "--country", "Schweiz"],
            OWNER_PASSWORD,
            "--country: Use the",
        ),
        ([*_tenant_args("badplan", "a@bp.ch"), "--plan", "GOLD"], OWNER_PASSWORD, "invalid choice: 'GOLD'"),
    ],
)
def test_create_tenant_refuses_bad_input_with_exit_code_2_and_writes_nothing(migrated, args, stdin, message):
    assert_refused_without_writing(migrated, args, stdin, message)


def test_create_tenant_refuses_a_slug_that_is_taken(migrated):
    first = pitwall(migrated, *_tenant_args("taken-slug", "one@taken.ch"), stdin=OWNER_PASSWORD)
    assert first.code == 0, first.err
    before = snapshot(migrated)

    again = pitwall(migrated, *_tenant_args("taken-slug", "two@taken.ch"), stdin=OWNER_PASSWORD)

    assert again.code == 2
    assert "pitwall create-tenant: --slug: This slug is taken." in again.err
    assert snapshot(migrated) == before


@pytest.fixture(scope="module")
def starter(migrated: Path) -> str:
    """A Starter tenant (5 seats) for the create-user tests."""
    result = pitwall(migrated, *_tenant_args("werkstatt", "chef@werkstatt.ch"), stdin=OWNER_PASSWORD)
    assert result.code == 0, result.err
    return "werkstatt"


def _user_args(tenant: str, email: str, role: str = "technician") -> list[str]:
    return ["create-user", "--tenant", tenant, "--email", email, "--name", "Luca Rossi", "--role", role]


def test_create_user_takes_the_password_on_stdin(migrated, starter):
    result = pitwall(
        migrated, *_user_args(starter, "luca@werkstatt.ch"), "--locale", "de_CH", stdin="werkstatt-pw-1\n"
    )

    assert result.code == 0, result.err
    assert "created technician luca@werkstatt.ch" in result.out
    [(role, locale, password_hash)] = query(
        migrated, "SELECT role, locale, password_hash FROM users WHERE email = 'luca@werkstatt.ch'"
    )
    assert (role, locale) == ("technician", "de_CH")
    assert verify_password(str(password_hash), "werkstatt-pw-1")


def test_create_user_also_reads_a_windows_line_ending_as_the_end_of_the_password(migrated, starter):
    result = pitwall(migrated, *_user_args(starter, "nina@werkstatt.ch"), stdin="werkstatt-pw-2\r\n")

    assert result.code == 0, result.err
    [(password_hash,)] = query(migrated, "SELECT password_hash FROM users WHERE email = 'nina@werkstatt.ch'")
    assert verify_password(str(password_hash), "werkstatt-pw-2")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (_user_args("no-such-garage", "x@werkstatt.ch"), "werkstatt-pw-9", "--tenant: there is no tenant"),
        (
            _user_args("werkstatt", "x@werkstatt.ch", role="owner"),
            "werkstatt-pw-9",
            "invalid choice: 'owner'",
        ),
        (
            _user_args("werkstatt", "x@werkstatt.ch"),
            "short",
            "password (stdin): Use a password of at least 10",
        ),
        (
            _user_args("werkstatt", "x.werkstatt.ch"),
            "werkstatt-pw-9",
            "--email: Enter a valid email address.",
        ),
        (_user_args("werkstatt", "chef@werkstatt.ch"), "werkstatt-pw-9", "--email: A user with this email"),
        (
            [*_user_args("werkstatt", "x@werkstatt.ch"), "--locale", "klingon"],
            "werkstatt-pw-9",
            "--locale: Choose",
        ),
    ],
)
def test_create_user_refuses_bad_input_with_exit_code_2_and_writes_nothing(
    migrated, starter, args, stdin, message
):
    assert_refused_without_writing(migrated, args, stdin, message)


def test_create_user_refuses_the_sixth_user_of_a_starter_tenant(migrated):
    created = pitwall(migrated, *_tenant_args("kleingarage", "chef@klein.ch"), stdin=OWNER_PASSWORD)
    assert created.code == 0, created.err
    for number in range(4):
        added = pitwall(migrated, *_user_args("kleingarage", f"user{number}@klein.ch"), stdin="klein-pw-123")
        assert added.code == 0, added.err
    before = snapshot(migrated)

    refused = pitwall(migrated, *_user_args("kleingarage", "sixth@klein.ch"), stdin="klein-pw-123")

    assert refused.code == 2
    assert "pitwall create-user: The Starter plan allows 5 users and all are in use." in refused.err
    assert snapshot(migrated) == before


def assert_refused_without_writing(migrated, args, stdin, message):  # type: ignore[no-untyped-def]
    """The command exits 2 with `message` and no traceback, and the database is as it was."""
    before = snapshot(migrated)

    refused = pitwall(migrated, *args, stdin=stdin)

    assert refused.code == 2, refused
    assert message in refused.err
    assert "Traceback" not in refused.err
    assert snapshot(migrated) == before


# --- pitwall serve over HTTPS ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_certificate_without_its_key_is_refused(tmp_path):
    result = pitwall(tmp_path, "serve", "--certfile", str(tmp_path / "cert.pem"))
    assert result.code == 2
    assert "--certfile and --keyfile go together" in result.err


async def test_over_https_pages_and_live_updates_travel_over_http2(seeded, tmp_path):
    """Over plain HTTP/1.1 a browser opens at most six connections to one host and every open live page
    holds one, so a manager's seventh tab would wait; over HTTP/2 they share one."""
    data_dir, _seed = seeded
    ((order_id, version),) = query(
        data_dir, "SELECT id, version FROM work_orders WHERE status = 'NEW' ORDER BY id LIMIT 1"
    )
    cert, key = astuple(self_signed_certificate(tmp_path))
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        *[PITWALL, "serve", "--port", str(port), "--certfile", str(cert), "--keyfile", str(key)],
        env={"PATH": "/usr/bin:/bin", "PITWALL_DATA_DIR": str(data_dir), "PITWALL_LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    trusted = ssl.create_default_context(cafile=cert)
    try:
        async with httpx.AsyncClient(
            base_url=f"https://127.0.0.1:{port}",
            http2=True,
            verify=trusted,
            timeout=10,
        ) as client:
            for _ in range(100):
                try:
                    health = await client.get("/healthz")
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.1)
            else:
                pytest.fail("the HTTPS server did not start")
            assert health.http_version == "HTTP/2"
            login = await client.get("/login")
            signed_in = await client.post(
                "/login",
                data={
                    "email": "workshop.manager@demo.test",
                    "password": DEMO_PASSWORD,
                    "csrf_token": csrf_from(login.text),
                },
            )
            assert signed_in.status_code == 302
            board = await client.get("/workshop/board")
            assert board.http_version == "HTTP/2" and board.status_code == 200
            async with client.stream("GET", "/live", params={"topic": "workshop"}) as stream:
                assert stream.http_version == "HTTP/2"
                moved = await client.post(
                    f"/workshop/work-orders/{order_id}/move",
                    data={"status": "SCHEDULED", "version": str(version)},
                    headers={"X-CSRF-Token": csrf_from(board.text), "HX-Request": "true"},
                )
                assert moved.status_code == 200
                moved_card = re.compile(rf'id="wo-{order_id}"[^>]*data-version="{version + 1}"')
                received = ""
                async with asyncio.timeout(10):
                    async for chunk in stream.aiter_text():
                        received += chunk
                        if moved_card.search(received):
                            break
            assert "event: update" in received and moved_card.search(received)
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 10)
