"""Coalescing per key and per tick: many small events out as few batches.

A busy room's chat messages, a session's reactions and a poll's result
changes all have the same shape: items arrive at any rate, and what goes out
must not grow with that rate. `Coalescer` gathers items per key and hands
each key's items to one flush callback at most once per `interval`:

- calm key (nothing flushed within the last interval): the items go out on the
  next loop turn, so a lone chat message is not delayed;
- busy key: the items wait for the end of the interval and go out together.

Flushes run one at a time, in the order they became due, on one worker task:
a key's batches never overtake each other, and neither do different keys'.
No transport here: the callback decides what a batch becomes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

import structlog

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
Flush = Callable[[K, list[T]], Awaitable[None]]

log = structlog.get_logger("halqa.coalesce")


class Coalescer(Generic[K, T]):
    def __init__(self, interval: float, flush: Flush[K, T],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._flush = flush
        self._clock = clock
        self._pending: dict[K, list[T]] = {}
        self._last: dict[K, float] = {}
        self._timers: dict[K, asyncio.TimerHandle] = {}
        self._due: asyncio.Queue[tuple[K, list[T]] | None] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self.flushes = 0  # batches handed on (for metrics and tests)

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.create_task(self._run(), name="coalescer")

    def add(self, key: K, item: T) -> None:
        self._pending.setdefault(key, []).append(item)
        if key in self._timers:
            return
        wait = self._last.get(key, -1e9) + self.interval - self._clock()
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(max(0.0, wait), self._due_now, key)

    def _due_now(self, key: K) -> None:
        self._timers.pop(key, None)
        items = self._pending.pop(key, None)
        if not items:
            return
        self._last[key] = self._clock()
        self._due.put_nowait((key, items))
        # Forget keys that went calm, so a long event does not accumulate them.
        if len(self._last) > 4096:
            horizon = self._clock() - 2 * self.interval
            self._last = {k: t for k, t in self._last.items() if t > horizon}

    async def _run(self) -> None:
        while (due := await self._due.get()) is not None:
            key, items = due
            self.flushes += 1
            try:
                await self._flush(key, items)
            except Exception:  # one failed batch must not stop the next ones
                log.exception("flush_failed", key=str(key), items=len(items))

    async def close(self) -> None:
        """Hand on what is pending, then stop."""
        for key in list(self._timers):
            self._timers.pop(key).cancel()
            items = self._pending.pop(key, None)
            if items:
                self._due.put_nowait((key, items))
        self._due.put_nowait(None)
        if self._worker is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
