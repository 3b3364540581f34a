"""start_eagerly: the hub writes to a socket with room at once, and only a write that waits becomes a task.

If it broke, a watcher's update could be written twice, never, or out of order, or a closed tab's
write could never finish and keep its connection open.
"""

from __future__ import annotations

import asyncio

import pytest

from realtime.hub import start_eagerly


async def test_a_write_that_does_not_wait_finishes_on_the_spot():
    written: list[bytes] = []

    async def write(chunk: bytes) -> None:
        written.append(chunk)

    assert start_eagerly(write(b"update")) is None
    assert written == [b"update"]


async def test_a_write_that_waits_finishes_in_a_task_with_every_step_run_once():
    room = asyncio.get_running_loop().create_future()
    steps: list[str] = []

    async def write() -> None:
        steps.append("started")
        await room
        steps.append("after first wait")
        await asyncio.sleep(0)
        steps.append("done")

    pending = start_eagerly(write())
    assert pending is not None
    assert steps == ["started"]
    room.set_result(None)
    await asyncio.wait_for(pending, 1)
    assert steps == ["started", "after first wait", "done"]


async def test_cancelling_a_waiting_write_cancels_the_write_itself():
    never = asyncio.get_running_loop().create_future()
    cleaned_up = asyncio.Event()

    async def write() -> None:
        try:
            await never
        finally:
            cleaned_up.set()

    pending = start_eagerly(write())
    assert pending is not None
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    assert cleaned_up.is_set()


async def test_an_error_after_a_wait_reaches_whoever_awaits_the_write():
    room = asyncio.get_running_loop().create_future()

    async def write() -> None:
        await room
        raise ConnectionResetError("browser went away")

    pending = start_eagerly(write())
    assert pending is not None
    room.set_result(None)
    with pytest.raises(ConnectionResetError):
        await pending
