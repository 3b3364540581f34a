"""The live log on both backends: what a reconnecting browser can be replayed, and when it must reset."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable

import pytest

from realtime.log import MemoryLiveLog, RedisLiveLog, split_client_id
from tests.conftest import REDIS_BACKENDS, Backend

LogFactory = Callable[[int], MemoryLiveLog | RedisLiveLog]


@pytest.fixture
async def make_log(backend: Backend) -> AsyncIterator[LogFactory]:
    """Logs of the backend under test; each Redis log gets its own keys, deleted afterwards."""
    logs: list[MemoryLiveLog | RedisLiveLog] = []

    def make(max_entries: int = 10_000) -> MemoryLiveLog | RedisLiveLog:
        log: MemoryLiveLog | RedisLiveLog
        if backend.redis_url:
            prefix = f"{backend.redis_prefix}:log-{secrets.token_hex(4)}"
            log = RedisLiveLog(backend.redis_url, prefix, max_entries)
        else:
            log = MemoryLiveLog(max_entries)
        logs.append(log)
        return log

    yield make
    for log in logs:
        if isinstance(log, RedisLiveLog):
            await wipe(log)
        await log.close()


async def wipe(log: RedisLiveLog) -> None:
    """What a Redis restart without persistence does to the log: stream and epoch are gone."""
    await log._client.delete(log.stream_key, log.epoch_key)


async def restarted(log: MemoryLiveLog | RedisLiveLog) -> MemoryLiveLog | RedisLiveLog:
    if isinstance(log, RedisLiveLog):
        await wipe(log)
        return log
    return MemoryLiveLog(log._entries.maxlen or 10_000)


async def test_appended_entries_get_increasing_ids_in_the_order_they_were_appended(make_log):
    log = make_log()
    first = await log.append(["a", "b", "c"])
    second = await log.append(["d"])
    keys = first + second
    assert keys == sorted(keys) and len(set(keys)) == 4
    assert await log.head() == keys[-1]
    batch = await log.read_new((0, 0), block_ms=100)
    assert [e.data for e in batch.entries] == ["a", "b", "c", "d"]
    assert [e.key for e in batch.entries] == keys


async def test_an_empty_log_has_head_zero_and_a_stable_epoch(make_log):
    log = make_log()
    assert await log.head() == (0, 0)
    epoch = await log.current_epoch()
    await log.append(["a"])
    assert await log.current_epoch() == epoch


async def test_read_new_returns_only_entries_after_the_position(make_log):
    log = make_log()
    keys = await log.append(["a", "b", "c"])
    batch = await log.read_new(keys[0], block_ms=100)
    assert [e.data for e in batch.entries] == ["b", "c"]
    assert batch.position == keys[-1]
    assert batch.epoch == await log.current_epoch()


async def test_read_new_without_a_position_sees_only_what_is_appended_later(make_log):
    log = make_log()
    await log.append(["old"])
    reader = asyncio.create_task(log.read_new(None, block_ms=5000))
    await asyncio.sleep(0.2)
    await log.append(["new"])
    batch = await asyncio.wait_for(reader, 10)
    assert [e.data for e in batch.entries] == ["new"]


async def test_read_new_waits_for_an_entry_that_arrives_within_block_ms(make_log):
    log = make_log()
    head = await log.head()
    reader = asyncio.create_task(log.read_new(head, block_ms=5000))
    await asyncio.sleep(0.2)
    assert not reader.done(), "read_new returned before anything was appended"
    key = (await log.append(["late"]))[0]
    batch = await asyncio.wait_for(reader, 10)
    assert [e.data for e in batch.entries] == ["late"]
    assert batch.position == key


async def test_read_new_gives_up_after_block_ms_with_the_position_unchanged(make_log):
    log = make_log()
    keys = await log.append(["a"])
    started = time.monotonic()
    batch = await asyncio.wait_for(log.read_new(keys[0], block_ms=300), 10)
    waited = time.monotonic() - started
    assert batch.entries == []
    assert batch.position == keys[0]
    assert waited >= 0.2, f"returned after {waited:.3f}s instead of waiting for new entries"


async def test_read_range_returns_exactly_the_missed_entries(make_log):
    log = make_log()
    keys = await log.append([f"e{i}" for i in range(10)])
    epoch = await log.current_epoch()
    gap = await log.read_range(epoch, keys[3], limit=100)
    assert gap is not None
    assert [e.data for e in gap] == [f"e{i}" for i in range(4, 10)]
    assert [e.key for e in gap] == keys[4:]
    assert await log.read_range(epoch, keys[-1], limit=100) == []


async def test_a_page_rendered_on_an_empty_log_is_replayed_everything_since(make_log):
    log = make_log()
    epoch = await log.current_epoch()
    position = await log.head()
    await log.append(["a", "b", "c"])
    gap = await log.read_range(epoch, position, limit=100)
    assert gap is not None and [e.data for e in gap] == ["a", "b", "c"]


async def test_read_range_refuses_a_gap_longer_than_the_limit(make_log):
    log = make_log()
    keys = await log.append([f"e{i}" for i in range(10)])
    epoch = await log.current_epoch()
    assert await log.read_range(epoch, keys[0], limit=5) is None
    gap = await log.read_range(epoch, keys[4], limit=5)
    assert gap is not None and len(gap) == 5


async def test_read_range_refuses_a_gap_the_log_has_already_trimmed(make_log):
    log = make_log(5)
    epoch = await log.current_epoch()
    first = (await log.append(["first"]))[0]
    # Redis trims approximately, whole stream nodes at a time (100 entries each by default).
    keys = []
    for start in range(0, 300, 50):
        keys += await log.append([f"e{i}" for i in range(start, start + 50)])
    assert await log.read_range(epoch, first, limit=10_000) is None
    assert await log.read_range(epoch, keys[100], limit=10_000) is None
    recent = await log.read_range(epoch, keys[-3], limit=10_000)
    assert recent is not None and [e.data for e in recent] == ["e298", "e299"]


async def test_read_range_refuses_a_position_from_another_epoch(make_log):
    log = make_log()
    keys = await log.append(["a", "b"])
    assert await log.read_range("not-this-epoch", keys[0], limit=100) is None


async def test_a_restarted_log_has_a_new_epoch_and_refuses_old_positions(make_log):
    log = make_log()
    keys = await log.append(["a", "b", "c"])
    old_epoch = await log.current_epoch()

    log = await restarted(log)
    await log.append(["after restart"])

    new_epoch = await log.current_epoch()
    assert new_epoch != old_epoch
    assert await log.read_range(old_epoch, keys[0], limit=100) is None
    batch = await log.read_new((0, 0), block_ms=100)
    assert batch.epoch == new_epoch
    assert [e.data for e in batch.entries] == ["after restart"]


def test_a_browser_id_is_split_into_epoch_and_position():
    assert split_client_id("ab12:1700000000000-3") == ("ab12", (1700000000000, 3))
    assert split_client_id("ab12:42") == ("ab12", (42, 0))
    for malformed in (None, "", "no-epoch", ":1-0", "ab12:x-y"):
        assert split_client_id(malformed) is None, malformed


@pytest.mark.parametrize("backend", REDIS_BACKENDS, indirect=True)
async def test_a_read_waiting_across_a_redis_restart_reports_the_new_epoch(backend, make_log):
    log = make_log()
    keys = await log.append(["before"])
    old_epoch = await log.current_epoch()
    reader = asyncio.create_task(log.read_new(keys[0], block_ms=5000))
    await asyncio.sleep(0.2)

    assert isinstance(log, RedisLiveLog)
    await wipe(log)
    await log.append(["after restart"])

    batch = await asyncio.wait_for(reader, 10)
    assert batch.epoch != old_epoch
    assert batch.epoch == await log.current_epoch()
    # The new stream is read from its beginning, so nothing written after the restart is skipped.
    again = await log.read_new(batch.position, block_ms=100)
    assert [e.data for e in again.entries] == ["after restart"]


@pytest.mark.parametrize("backend", REDIS_BACKENDS, indirect=True)
async def test_the_first_read_after_a_redis_restart_reports_the_new_epoch_without_waiting(backend, make_log):
    log = make_log()
    keys = await log.append(["before"])
    old_epoch = (await log.read_new((0, 0), block_ms=100)).epoch

    assert isinstance(log, RedisLiveLog)
    await wipe(log)

    # Nothing is appended: a read that waited for entries would block for the whole minute.
    batch = await asyncio.wait_for(log.read_new(keys[0], block_ms=60_000), 10)
    assert batch.epoch != old_epoch
    assert batch.entries == []
    await log.append(["after restart"])
    again = await log.read_new(batch.position, block_ms=100)
    assert (again.epoch, [e.data for e in again.entries]) == (batch.epoch, ["after restart"])
