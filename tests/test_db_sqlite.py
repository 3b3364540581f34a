"""The embedded database's driver: statements, commits and rollbacks run in the event loop's thread,
with no trip to the SQLite connection's thread, except to wait for another process's lock and to
finish a read that runs long; a transaction's BEGIN travels with its first statement; and everything
SQLAlchemy reads of a cursor (rows, row counts, new ids, errors, streamed results) is as the plain
driver gives it.

Each trip waits for a turn of a busy event loop: a card move held SQLite's one write lock for such
turns, and at 50 moves per second the moves queued for it by the second, and the hub's load of what
a live update shows waited for them too (bench/README.md). If a statement waited for a lock, or a
long read ran, in the event loop's thread, every page and live update of the server would stop
while it did."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import event, exc, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from ops.db import CHECKPOINT_EVERY_COMMITS, IN_LOOP_SECONDS, Database

# Long enough to run well past IN_LOOP_SECONDS: a count to two million, one row at a time.
LONG_READ = (
    "SELECT count(*) FROM plates, "
    "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000000) SELECT i FROM n)"
)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    try:
        async with database.write_engine.connect() as connection:
            await connection.execute(
                text("CREATE TABLE plates (id INTEGER PRIMARY KEY, plate TEXT NOT NULL UNIQUE)")
            )
            await connection.commit()
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def connection(db: Database) -> AsyncIterator[AsyncConnection]:
    async with db.write_engine.connect() as connection:
        yield connection


@pytest.fixture
def other_process(db: Database) -> sqlite3.Connection:
    """A plain connection to the same file, as another process would have; it does not wait for locks."""
    return sqlite3.connect(db.url.split("///", 1)[1], timeout=0, isolation_level=None)


async def _trips_to_thread(connection: AsyncConnection | AsyncSession) -> list[str]:
    """Count from here on what is queued for the connection's thread."""
    if isinstance(connection, AsyncSession):
        connection = await connection.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    trips: list[str] = []
    queue_for_thread = driver._execute

    async def counted(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        trips.append(getattr(fn, "__name__", repr(fn)))
        return await queue_for_thread(fn, *args, **kwargs)

    driver._execute = counted
    return trips


@pytest.mark.parametrize("engine", ["engine", "write_engine"])
async def test_reads_and_writes_run_without_a_trip_to_the_connections_thread(db, engine):
    async with getattr(db, engine).connect() as connection:
        trips = await _trips_to_thread(connection)
        rows = (await connection.execute(text("SELECT 1 UNION ALL SELECT 2"))).all()
        await connection.execute(text("INSERT INTO plates (plate) VALUES ('ZH 1')"))
        await connection.commit()

    assert [tuple(row) for row in rows] == [(1,), (2,)]
    assert trips == []


async def test_a_long_read_finishes_in_the_connections_thread_in_its_snapshot(db, other_process):
    other_process.execute("INSERT INTO plates (plate) VALUES ('ZH 1')")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    ticking = asyncio.create_task(tick())
    try:
        async with db.system() as session:
            trips = await _trips_to_thread(session)
            assert await session.scalar(text("SELECT count(*) FROM plates")) == 1
            other_process.execute("INSERT INTO plates (plate) VALUES ('ZH 2')")
            started = asyncio.get_running_loop().time()
            counted = await session.scalar(text(LONG_READ))
            took = asyncio.get_running_loop().time() - started
    finally:
        ticking.cancel()

    # The snapshot of the transaction's first read: one plate, two million times.
    assert counted == 2_000_000
    assert trips == ["_run_statement_waiting"]
    # The server went on while the thread read: the loop turned about once a millisecond.
    assert took > 20 * IN_LOOP_SECONDS
    assert ticks > took / 0.001 / 4


async def test_a_write_is_never_stopped_to_run_again(connection):
    trips = await _trips_to_thread(connection)

    await connection.execute(
        text(
            "INSERT INTO plates (plate) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
            "WHERE i < 200000) SELECT 'P ' || i FROM n"
        )
    )
    await connection.commit()

    assert await connection.scalar(text("SELECT count(*) FROM plates")) == 200_000
    assert trips == []


async def test_a_write_takes_the_write_lock_with_its_first_statement(db, other_process):
    async with db.system(write=True) as session:
        trips = await _trips_to_thread(session)
        await session.execute(text("SELECT count(*) FROM plates"))
        # Taken up front, as BEGIN IMMEDIATE does: nobody else may write until this one has.
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other_process.execute("BEGIN IMMEDIATE")
        await session.execute(text("INSERT INTO plates (plate) VALUES ('ZH 1')"))
        await session.commit()

    assert trips == []
    other_process.execute("BEGIN IMMEDIATE")
    assert other_process.execute("SELECT plate FROM plates").fetchall() == [("ZH 1",)]
    other_process.execute("ROLLBACK")


async def test_a_read_sees_one_snapshot_and_ends_it(db, other_process):
    other_process.execute("INSERT INTO plates (plate) VALUES ('ZH 1')")
    async with db.system() as session:
        trips = await _trips_to_thread(session)
        assert await session.scalar(text("SELECT count(*) FROM plates")) == 1
        other_process.execute("INSERT INTO plates (plate) VALUES ('ZH 2')")
        assert await session.scalar(text("SELECT count(*) FROM plates")) == 1
        await session.rollback()
        assert await session.scalar(text("SELECT count(*) FROM plates")) == 2

    assert trips == []


async def test_a_write_waits_for_another_processs_lock_without_stopping_the_server(db, other_process):
    other_process.execute("BEGIN IMMEDIATE")
    other_process.execute("INSERT INTO plates (plate) VALUES ('ZH 1')")

    async def write() -> list[str]:
        async with db.system(write=True) as session:
            await session.execute(text("INSERT INTO plates (plate) VALUES ('BE 2')"))
            await session.commit()
            return list(await session.scalars(text("SELECT plate FROM plates ORDER BY id")))

    writing = asyncio.create_task(write())
    # The server goes on meanwhile: this very test runs on while the write waits.
    await asyncio.sleep(0.2)
    assert not writing.done()
    other_process.execute("COMMIT")

    assert await asyncio.wait_for(writing, 10) == ["ZH 1", "BE 2"]


async def test_a_transaction_that_ran_nothing_costs_no_trip_and_leaves_nothing_open(db, other_process):
    async with db.system(write=True) as session:
        trips = await _trips_to_thread(session)
        await session.commit()
        await session.rollback()

    assert trips == []
    other_process.execute("BEGIN IMMEDIATE")
    other_process.execute("ROLLBACK")


async def test_row_counts_new_ids_and_returned_rows_are_as_the_driver_gives_them(connection):
    inserted = await connection.execute(text("INSERT INTO plates (plate) VALUES ('ZH 1'), ('ZH 2')"))
    assert inserted.rowcount == 2
    one = await connection.execute(text("INSERT INTO plates (plate) VALUES ('BE 3')"))
    assert one.lastrowid == 3
    returned = await connection.execute(
        text("INSERT INTO plates (plate) VALUES ('LU 4') RETURNING id, plate")
    )
    assert [tuple(row) for row in returned] == [(4, "LU 4")]
    updated = await connection.execute(text("UPDATE plates SET plate = plate || ' X' WHERE id <= 2"))
    assert updated.rowcount == 2
    none = await connection.execute(text("UPDATE plates SET plate = 'nobody' WHERE id = 99"))
    assert none.rowcount == 0


async def test_a_failing_statement_raises_and_the_connection_goes_on(connection):
    await connection.execute(text("INSERT INTO plates (plate) VALUES ('ZH 1')"))

    with pytest.raises(exc.IntegrityError):
        await connection.execute(text("INSERT INTO plates (plate) VALUES ('ZH 1')"))
    await connection.rollback()

    assert (await connection.execute(text("SELECT count(*) FROM plates"))).scalar_one() == 0
    await connection.execute(text("INSERT INTO plates (plate) VALUES ('ZH 1')"))
    assert (await connection.execute(text("SELECT count(*) FROM plates"))).scalar_one() == 1


async def test_many_parameter_sets_in_one_statement(connection):
    await connection.execute(
        text("INSERT INTO plates (plate) VALUES (:plate)"), [{"plate": f"ZH {n}"} for n in range(5)]
    )
    assert (await connection.execute(text("SELECT count(*) FROM plates"))).scalar_one() == 5


async def test_a_streamed_result_arrives_whole_in_its_parts(connection):
    await connection.execute(
        text("INSERT INTO plates (plate) VALUES (:plate)"), [{"plate": f"ZH {n:03}"} for n in range(250)]
    )

    streamed = await connection.stream(text("SELECT plate FROM plates ORDER BY plate"))
    parts = [[plate for (plate,) in part] async for part in streamed.partitions(100)]

    assert [len(part) for part in parts] == [100, 100, 50]
    assert parts[0][0] == "ZH 000" and parts[-1][-1] == "ZH 249"


def _rows_in_database_file(db: Database) -> int | None:
    """What the database file holds without its WAL; None before the table itself is in it."""
    file_only = sqlite3.connect(f"file:{db.url.split('///', 1)[1]}?immutable=1", uri=True)
    try:
        return int(file_only.execute("SELECT count(*) FROM plates").fetchone()[0])
    except sqlite3.OperationalError:
        return None
    finally:
        file_only.close()


async def test_the_wal_goes_back_into_the_database_file_every_so_many_commits(db):
    """Off the event loop's thread: SQLite's own checkpoint would stop the server each time."""
    async with db.system(write=True) as session:
        assert await session.scalar(text("PRAGMA wal_autocheckpoint")) == 0
        await session.commit()
        driver = (await (await session.connection()).get_raw_connection()).driver_connection
        written = 0
        while driver._checkpointing is None and written < 2 * CHECKPOINT_EVERY_COMMITS:
            written += 1
            await session.execute(
                text("INSERT INTO plates (plate) VALUES (:plate)"), {"plate": f"ZH {written}"}
            )
            await session.commit()
            if written == 10:
                assert not _rows_in_database_file(db)
        assert written <= CHECKPOINT_EVERY_COMMITS
        await asyncio.wait_for(driver._checkpointing, 10)

    assert _rows_in_database_file(db) == written


async def test_a_burst_of_readers_reuses_its_connections(db):
    """Each new read connection is a file opened and a thread started: a busy server opened and closed
    a few a second when more readers than the pool kept overlapped (bench/README.md)."""
    opened = 0

    def count(*_args: object) -> None:
        nonlocal opened
        opened += 1

    event.listen(db.engine.sync_engine, "connect", count)

    async def read_while_others_do() -> None:
        async with db.system() as session:
            await session.execute(text("SELECT count(*) FROM plates"))
            await asyncio.sleep(0.001)

    for _ in range(10):
        await asyncio.gather(*(read_while_others_do() for _ in range(8)))
    assert opened == 8
