"""The embedded database's driver: each statement is one trip to the SQLite connection's thread, and
everything SQLAlchemy reads of a cursor (rows, row counts, new ids, errors, streamed results) is as
the plain driver gives it.

If the trips went back to four per statement, a card move would hold SQLite's one write lock for
~40 turns of a busy event loop instead of ~10 (bench/README.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ops.db import Database


@pytest.fixture
async def connection(tmp_path: Path) -> AsyncIterator[AsyncConnection]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    try:
        async with db.write_engine.connect() as connection:
            await connection.execute(
                text("CREATE TABLE plates (id INTEGER PRIMARY KEY, plate TEXT NOT NULL UNIQUE)")
            )
            await connection.commit()
            yield connection
    finally:
        await db.dispose()


async def _trips_to_thread(connection: AsyncConnection) -> list[str]:
    """Count from here on what is queued for the connection's thread."""
    driver = (await connection.get_raw_connection()).driver_connection
    trips: list[str] = []
    queue_for_thread = driver._execute

    async def counted(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        trips.append(getattr(fn, "__name__", repr(fn)))
        return await queue_for_thread(fn, *args, **kwargs)

    driver._execute = counted
    return trips


async def test_a_query_is_one_trip_to_the_connections_thread(connection):
    await connection.execute(text("SELECT 0"))  # BEGIN is a statement, and a trip, of its own
    trips = await _trips_to_thread(connection)

    rows = (await connection.execute(text("SELECT 1 UNION ALL SELECT 2"))).all()

    assert [tuple(row) for row in rows] == [(1,), (2,)]
    assert len(trips) == 1, trips


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
