"""Engine, sessions, the UnitOfWork, and tenant scoping: the one place every query is filtered by tenant.

Every table that belongs to a tenant mixes in `TenantScoped`. A session is opened either for one tenant
(`Database.read(tenant_id)`, `Database.uow(actor)`) or explicitly unscoped for system work (the relay,
sign-in look-ups); a session that is neither refuses to run queries, so no query can forget the tenant.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import logging
import math
import sqlite3
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import aiosqlite
from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    bindparam,
    event,
    exc,
    update,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.dml import Update
from sqlalchemy.types import TypeDecorator

from ops.sealing import SecretBox, attach

if TYPE_CHECKING:
    from ops.auth.actor import Actor
    from ops.events import EventRecord

log = logging.getLogger(__name__)

MODEL_MODULES = (
    "ops.tenants.models",
    "ops.auth.models",
    "ops.events",
    "ops.customers.models",
    "ops.vehicles.models",
    "ops.workshop.models",
    "ops.sales.models",
    "ops.mail.models",
    "ops.api.models",
    "ops.webhooks.models",
    "ops.erp.models",
    "ops.payments.models",
)

# Integer keys: BIGINT on PostgreSQL, INTEGER on SQLite (only INTEGER PRIMARY KEY autoincrements there).
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
        list[dict[str, Any]]: JSON(),
    }


class TenantScoped:
    """Mixin for rows that belong to one tenant; queries on them are filtered automatically."""

    @declared_attr
    def tenant_id(cls) -> Mapped[int]:
        return mapped_column(BigId, ForeignKey("tenants.id", ondelete="CASCADE"), index=True)


class TenantScopeError(RuntimeError):
    pass


# The filter every SELECT, UPDATE and DELETE on a tenant's session gets, on each tenant-owned table it
# touches (in the ON clause of an outer join). The tenant's id is a bound parameter that
# _scope_queries_to_tenant fills in from the session, so the filter is one object for all tenants.
_TENANT_PARAMETER = "scope_tenant_id"
_Statement = TypeVar("_Statement", bound=Executable)
_TENANT_FILTER = with_loader_criteria(
    # The name is written out: SQLAlchemy's lambda analysis would treat a global name as a variable.
    TenantScoped,
    lambda cls: cls.tenant_id == bindparam("scope_tenant_id"),
    include_aliases=True,
)


def tenant_scoped(statement: _Statement) -> _Statement:
    """`statement` with the tenant filter already on it, for a hot statement built once at import.

    It is the same filter that _scope_queries_to_tenant adds to every other statement per execution.
    Added once, SQLAlchemy keeps the statement's cache key instead of walking the whole statement
    again on every execution: half the CPU of the job board's card and column-count reads. The
    statement still runs only on a tenant's session, which supplies the tenant's id; on a session
    without one it fails for want of that parameter.
    """
    return statement.options(_TENANT_FILTER).execution_options(tenant_filter_added=True)


@event.listens_for(Session, "do_orm_execute")
def _scope_queries_to_tenant(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    info = state.session.info
    if info.get("unscoped"):
        return
    tenant_id = info.get("tenant_id")
    if tenant_id is None:
        raise TenantScopeError(
            "query on a session opened without a tenant; use Database.read/uow or system()"
        )
    if not state.execution_options.get("tenant_filter_added"):
        state.statement = state.statement.options(_TENANT_FILTER)
    parameters = state.parameters
    if parameters is None or isinstance(parameters, Mapping):
        state.parameters = {**(parameters or {}), _TENANT_PARAMETER: tenant_id}
    else:
        state.parameters = [{**each, _TENANT_PARAMETER: tenant_id} for each in parameters]


@event.listens_for(Session, "before_flush")
def _keep_written_rows_in_tenant(session: Session, flush_context: Any, instances: Any) -> None:
    tenant_id = session.info.get("tenant_id")
    for obj in session.new:
        if not isinstance(obj, TenantScoped):
            continue
        if obj.tenant_id is None:
            if tenant_id is None:
                raise TenantScopeError(f"{type(obj).__name__} added without a tenant")
            obj.tenant_id = tenant_id
        elif tenant_id is not None and obj.tenant_id != tenant_id:
            raise TenantScopeError(
                f"{type(obj).__name__} of tenant {obj.tenant_id} added in tenant {tenant_id}"
            )
    if tenant_id is None:
        return
    # A loaded row handed to another tenant would leave this tenant's scope unnoticed.
    for obj in session.dirty:
        if isinstance(obj, TenantScoped) and obj.tenant_id != tenant_id:
            raise TenantScopeError(f"{type(obj).__name__} moved from tenant {tenant_id} to {obj.tenant_id}")


def import_all_models() -> None:
    for module in MODEL_MODULES:
        importlib.import_module(module)


# How long a statement waits for a lock another process holds before it fails with "database is locked".
LOCK_WAIT_MS = 30_000
# Commits of the write connection between two checkpoints. A move writes a few pages, so this is
# about SQLite's own default of a checkpoint every 1,000 pages.
CHECKPOINT_EVERY_COMMITS = 100
# How long a statement may run in the event loop's thread before SQLite stops it to run again in the
# connection's thread: every live update of the process waits while it runs. A read by key takes
# 50-300 us; the board's ranked columns about 2 ms.
IN_LOOP_SECONDS = 0.005
# SQLite asks whether that time is up every this many of its virtual machine instructions (~10-50 us).
TIME_CHECK_EVERY = 1000

StatementResult = tuple[Any, int, int | None, list[Any]]


def _run_statement(
    connection: sqlite3.Connection, begin: str | None, sql: str, parameters: Any, many: bool
) -> StatementResult:
    """Begin the transaction if it is still to begin, run one statement, read every row, and close
    its cursor."""
    if begin is not None:
        connection.execute(begin)
    cursor = connection.executemany(sql, parameters) if many else connection.execute(sql, parameters)
    try:
        rows = cursor.fetchall() if cursor.description else []
        # Read after the rows: SQLite counts the rows of an INSERT .. RETURNING as they are fetched.
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def _run_statement_waiting(
    connection: sqlite3.Connection, begin: str | None, sql: str, parameters: Any, many: bool
) -> StatementResult:
    """In the connection's thread: `_run_statement` for a statement that could not finish in the event
    loop's thread, waiting up to `LOCK_WAIT_MS` for a lock another process holds (a connection never
    waits for a lock in the loop's thread)."""
    connection.execute(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")
    try:
        return _run_statement(connection, begin, sql, parameters, many)
    finally:
        connection.execute("PRAGMA busy_timeout=0")


def _may_finish_in_thread(
    error: sqlite3.OperationalError, connection: sqlite3.Connection, was_open: bool
) -> bool:
    """Whether a statement stopped in the event loop's thread may run again in the connection's: it
    found another process's lock or, a read, ran out of time (`IN_LOOP_SECONDS`), and its transaction
    is still whole (SQLite may roll back a transaction whose statement fails)."""
    stopped = error.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_INTERRUPT)
    return stopped and (connection.in_transaction or not was_open)


def _checkpoint(open_file: Callable[[], sqlite3.Connection]) -> None:
    """In a worker thread, on a connection of its own: copy what the WAL holds back into the database
    file, as far as the readers of the moment allow (the rest goes next time)."""
    connection = open_file()
    try:
        connection.execute(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    finally:
        connection.close()


def _log_failed_checkpoint(done: asyncio.Future[None]) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.warning("WAL checkpoint failed; the next one copies what this one did not: %s", done.exception())


class _StatementCursor:
    """The cursor SQLAlchemy's aiosqlite adapter asks for, running each statement whole (begin, run,
    every row, close) in the event loop's thread, or, when it cannot finish there, in ONE trip to
    the connection's thread. aiosqlite's own cursor takes four trips (open, execute, fetch, close),
    and each trip costs 30-45 us of CPU and a turn of the event loop (bench/README.md)."""

    arraysize = 1

    def __init__(self, connection: _InLoopConnection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> _StatementCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Any = ()) -> _StatementCursor:
        return await self._run(sql, parameters, many=False)

    async def executemany(self, sql: str, parameters: Any) -> _StatementCursor:
        return await self._run(sql, parameters, many=True)

    async def _run(self, sql: str, parameters: Any, many: bool) -> _StatementCursor:
        connection = self._connection
        begin, connection.begin_sql = connection.begin_sql, None
        was_open = connection._conn.in_transaction
        result: StatementResult
        try:
            result = connection.run_in_loop(begin, sql, parameters, many)
        except sqlite3.OperationalError as error:
            if not _may_finish_in_thread(error, connection._conn, was_open):
                raise
            # The thread waits for the other process's lock, or reads on, while the loop goes on.
            begin = None if connection._conn.in_transaction else begin
            result = await connection.run_in_thread(begin, sql, parameters, many)
        self.description, self.rowcount, self.lastrowid, self._rows = result
        return self

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = size or self.arraysize
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def close(self) -> None:
        self._rows = []


class _InLoopConnection(aiosqlite.Connection):
    """Runs its statements, commits and rollbacks in the event loop's thread, and uses aiosqlite's
    thread only for what would stop the loop: waiting for another process's lock, and a read that
    runs longer than `IN_LOOP_SECONDS`.

    A trip to the thread waits for a turn of the loop, and on a busy process (a fan-out to a thousand
    watchers is one long turn) that was most of the time a card move took and held SQLite's one
    write lock (35 ms p50 for ~1 ms of SQLite work), and of the time the hub took to load what a live
    update shows (bench/README.md). SQLite work of a statement by key is shorter than the trip.

    A write is never stopped (SQLite would roll back its whole transaction): a write statement
    changes rows found by key, and it never waits for a lock, as this process's writers take turns
    for the one connection and readers do not block a writer in WAL mode. A transaction's BEGIN goes
    with its first statement, and its end only when there is a transaction to end. SQLite's
    automatic checkpoint, which would copy the WAL back into the database file in the committing
    thread (about 20 ms here, every ~1,000 pages), is off: every `CHECKPOINT_EVERY_COMMITS` commits
    a worker thread does it on a connection of its own.
    """

    # Set when SQLAlchemy begins a transaction; sent before the next statement.
    begin_sql: str | None = None
    # Set on the write connection: opens another connection to the file, for checkpoints.
    open_file: Callable[[], sqlite3.Connection] | None = None
    # Read connections: when SQLite stops the SELECT running in the loop's thread.
    _stops_long_reads = False
    _stop_at = math.inf
    _commits_since_checkpoint = 0
    _checkpointing: asyncio.Future[None] | None = None

    def cursor(self) -> _StatementCursor:  # type: ignore[override]
        return _StatementCursor(self)

    def run_in_loop(self, begin: str | None, sql: str, parameters: Any, many: bool) -> StatementResult:
        if not sql.startswith("SELECT"):
            # Only a read can be run again: SQLite rolls back the transaction of a write it stops.
            return _run_statement(self._conn, begin, sql, parameters, many)
        self._stop_at = time.perf_counter() + IN_LOOP_SECONDS
        try:
            return _run_statement(self._conn, begin, sql, parameters, many)
        finally:
            # Nothing else is stopped: not the same read in the thread, not a commit or rollback.
            self._stop_at = math.inf

    async def run_in_thread(
        self, begin: str | None, sql: str, parameters: Any, many: bool
    ) -> StatementResult:
        if self._stops_long_reads:
            # A Python callback in the thread would take the GIL from the loop every few microseconds.
            self._conn.set_progress_handler(None, 0)
        try:
            # aiosqlite's way into its thread; the adapter itself relies on the same internals.
            return await self._execute(_run_statement_waiting, self._conn, begin, sql, parameters, many)
        finally:
            if self._stops_long_reads:
                self.stop_long_reads()

    def stop_long_reads(self) -> None:
        self._stops_long_reads = True
        self._conn.set_progress_handler(self._time_is_up, TIME_CHECK_EVERY)

    def _time_is_up(self) -> bool:
        return time.perf_counter() > self._stop_at

    async def commit(self) -> None:
        if self._ends_nothing():
            return
        self._conn.commit()
        if self.open_file is not None:
            self._checkpoint_when_due(self.open_file)

    async def rollback(self) -> None:
        if not self._ends_nothing():
            self._conn.rollback()

    def _checkpoint_when_due(self, open_file: Callable[[], sqlite3.Connection]) -> None:
        self._commits_since_checkpoint += 1
        if self._commits_since_checkpoint < CHECKPOINT_EVERY_COMMITS:
            return
        if self._checkpointing is not None and not self._checkpointing.done():
            return
        self._commits_since_checkpoint = 0
        self._checkpointing = asyncio.get_running_loop().run_in_executor(None, _checkpoint, open_file)
        self._checkpointing.add_done_callback(_log_failed_checkpoint)

    def _ends_nothing(self) -> bool:
        """True, forgetting a BEGIN not yet sent, when no transaction is open.

        Read here in the event loop's thread: SQLAlchemy awaits every statement of the connection,
        so none runs in its thread now, and the connection is opened to be asked from any thread."""
        self.begin_sql = None
        return not self._conn.in_transaction


def _in_loop_connector(url: str, *, writes: bool) -> Callable[[], Awaitable[aiosqlite.Connection]]:
    """What the engine calls for a new connection: the file SQLAlchemy's own dialect would open,
    behind an `_InLoopConnection`."""
    parsed = make_url(url)
    args, options = parsed.get_dialect()().create_connect_args(parsed)
    # Locks are waited for in the connection's thread (_run_statement_waiting), never in the loop's.
    options["timeout"] = 0
    # Used from the event loop's thread and, for what cannot finish there, from its own.
    options["check_same_thread"] = False
    connect_to_file: Callable[..., sqlite3.Connection] = sqlite3.connect

    def open_file() -> sqlite3.Connection:
        return connect_to_file(*args, **options)

    async def connect() -> aiosqlite.Connection:
        connection = _InLoopConnection(open_file, iter_chunk_size=64)
        # As SQLAlchemy does for its own aiosqlite connections: a forgotten one must not hold the
        # interpreter open at exit.
        connection._thread.daemon = True
        await connection
        if writes:
            connection.open_file = open_file
        else:
            connection.stop_long_reads()
        return connection

    return connect


# Connections a process keeps for reads (and, on PostgreSQL, writes), and how many more it may open
# for a burst.
READ_POOL_SIZE = 10
READ_POOL_OVERFLOW = 10


def _sqlite_engine(url: str, *, immediate: bool) -> AsyncEngine:
    # SQLite lets one writer in at a time. Writers of this process queue for the one write connection
    # in the pool, woken in turn the moment it is free, instead of in SQLite's busy handler, which
    # sleeps between tries. Other processes still use the handler.
    # Readers keep as many connections as PostgreSQL's pool: past the default five, every extra
    # concurrent reader (a burst of requests behind a long fan-out) opened a file and started a thread
    # of its own, and closed both when it was done (about six a second at 1000 watchers, 50 moves/s).
    pool = (
        {"pool_size": 1, "max_overflow": 0, "pool_timeout": 30}
        if immediate
        else {"pool_size": READ_POOL_SIZE, "max_overflow": READ_POOL_OVERFLOW}
    )
    engine = create_async_engine(url, async_creator=_in_loop_connector(url, writes=immediate), **pool)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so that BEGIN is ours (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if immediate:
            # Checkpoints are taken in another thread (see _InLoopConnection).
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front: a deferred transaction that reads and then writes
        # fails with SQLITE_BUSY instead of waiting when another writer committed in between.
        # Sent with the transaction's first statement (see _InLoopConnection).
        driver = conn.connection.driver_connection
        assert isinstance(driver, _InLoopConnection)
        driver.begin_sql = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    return engine


# Seconds a pooled PostgreSQL connection may sit unused before it is pinged on its way out of the pool.
PING_AFTER_IDLE = 1.0


def _ping_connections_that_sat_idle(engine: AsyncEngine) -> None:
    """Replace a pooled connection that died while nobody used it (a database restart, an idle
    timeout) before a request gets it; skip the check for one that was in use a moment ago.

    The pool's own pre-ping checks every checkout, a round trip before every session: on a busy
    process that is one more turn of the event loop on the way to each live update (the hub's card
    load was a ping and a query). A connection that dies in the second after it was last used fails
    its next statement instead, and SQLAlchemy then renews the whole pool.
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool drops this connection and hands out another (up to three tries).
            raise exc.DisconnectionError(str(error)) from error


PublishHook = Callable[[list["EventRecord"]], Awaitable[None]]


class Database:
    """Owns the engines and hands out tenant-scoped sessions and units of work."""

    def __init__(self, url: str, secret_keys: Sequence[str] = ()) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = _sqlite_engine(url, immediate=False)
            self.write_engine = _sqlite_engine(url, immediate=True)
        else:
            # Reads run outside a transaction: under READ COMMITTED each statement sees its own snapshot
            # anyway, and a transaction costs BEGIN and ROLLBACK round trips, as does the pool's
            # liveness ping inside one (three round trips instead of one). Writers get a transaction
            # from the same pool; the isolation level is set on checkout, without a round trip.
            self.engine = create_async_engine(
                url,
                pool_size=READ_POOL_SIZE,
                max_overflow=READ_POOL_OVERFLOW,
                isolation_level="AUTOCOMMIT",
            )
            _ping_connections_that_sat_idle(self.engine)
            self.write_engine = self.engine.execution_options(isolation_level="READ COMMITTED")
        # What opens and seals the partner secrets stored in Sealed columns (ops/sealing.py); without
        # the server's key a Database can do everything else.
        self.secret_box = SecretBox(secret_keys) if secret_keys else None
        for engine in (self.engine, self.write_engine):
            attach(engine.dialect, self.secret_box)
        self._reads = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writes = async_sessionmaker(self.write_engine, expire_on_commit=False)
        # Set by the app: hands committed events to the live log.
        self.publish_hook: PublishHook | None = None

    def read(self, tenant_id: int) -> AsyncSession:
        return self._reads(info={"tenant_id": tenant_id})

    def system(self, *, write: bool = False) -> AsyncSession:
        """A session that sees every tenant; for sign-in look-ups, the relay, provisioning."""
        return (self._writes if write else self._reads)(info={"unscoped": True})

    def uow(self, actor: Actor) -> UnitOfWork:
        return UnitOfWork(self, actor)

    async def refresh_statistics(self) -> None:
        """ANALYZE after a bulk load, so the planner does not plan for empty tables until autovacuum
        gets round to it (the job board's query took 70 ms instead of 2 ms on a fresh PostgreSQL)."""
        async with self.write_engine.connect() as connection:
            await connection.exec_driver_sql("ANALYZE")
            await connection.commit()

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.write_engine.pool is not self.engine.pool:
            await self.write_engine.dispose()


@functools.cache
def _versioned_update(model: Any, names: tuple[str, ...]) -> Update:
    """UnitOfWork.update_versioned's statement for one model and set of columns, built once: a card
    move writes the same columns every time."""
    return tenant_scoped(
        update(model)
        .where(model.id == bindparam("row_id"), model.version == bindparam("loaded_version"))
        .values({name: bindparam(f"new_{name}") for name in names})
        .execution_options(synchronize_session=False)
    )


class UnitOfWork:
    """One transaction: the rows a use case changes plus the events it records (the outbox).

    Events are handed to the live log only after the commit succeeded; if that hand-over fails or the
    process dies first, the outbox relay publishes them later.
    """

    def __init__(self, db: Database, actor: Actor, *, new_tenant: bool = False) -> None:
        self.db = db
        self.actor = actor
        info: dict[str, Any] = {"unscoped": True} if new_tenant else {"tenant_id": actor.tenant_id}
        self.session = db._writes(info=info)
        self._recorded: list[Any] = []
        self.committed: list[EventRecord] = []

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            if self.session.in_transaction():
                if exc_type is None and not (self.session.new or self.session.dirty or self.session.deleted):
                    # A use case that read and found nothing to change (the same technician assigned
                    # again) returns rows its caller still reads, as after a commit: a rollback would
                    # expire them and the next attribute read would fail outside any session.
                    self.session.expunge_all()
                await self.session.rollback()
        finally:
            await self.session.close()

    def enter_tenant(self, actor: Actor) -> None:
        """Provisioning: from here on, act inside the tenant that this transaction just created."""
        self.actor = actor
        self.session.info.pop("unscoped", None)
        self.session.info["tenant_id"] = actor.tenant_id

    def add_event(self, row: Any) -> None:
        self.session.add(row)
        self._recorded.append(row)

    async def update_versioned(self, row: Any, values: dict[str, Any]) -> bool:
        """Write plain `values` to a loaded `row` in one UPDATE guarded by the version it was loaded
        with, bumping the version; False, with nothing written, when another writer came first.

        The loaded object then holds what the row holds, without a re-read and without the ORM
        re-evaluating the UPDATE's criteria against the session's objects (its default
        `synchronize_session`, which cost more than half of the statement's CPU on a card move).
        """
        if any(isinstance(value, ClauseElement) for value in values.values()):
            raise TypeError("update_versioned writes plain values, which the loaded object can take on")
        written = {"version": row.version + 1, **values}
        result = await self.session.execute(
            _versioned_update(row.__class__, tuple(written)),
            {
                "row_id": row.id,
                "loaded_version": row.version,
                **{f"new_{name}": value for name, value in written.items()},
            },
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            return False
        for name, value in written.items():
            set_committed_value(row, name, value)
        return True

    async def commit(self) -> list[EventRecord]:
        await self.session.flush()
        records = [row.to_record() for row in self._recorded]
        await self.session.commit()
        self._recorded.clear()
        self.committed.extend(records)
        if records and self.db.publish_hook is not None:
            await self.db.publish_hook(records)
        return records
