"""Garbage collection in `halqa serve`: few full collections, none over start-up's objects.

Measured (bench/RESULTS.md, `bench.chat_rate --gc-log`): with 700 connected
participants in one process, CPython's full collections stopped the event
loop for 110–250 ms, every ~23 s at 1 chat message/s and every ~2 s at
50/s; a message that came in just before one reached the room that much
later, and those few messages were the whole 1 msg/s p99. Two causes:
- the collector walked ~165 000 objects built at start-up (modules, classes,
  functions) that never become garbage: `gc.freeze()` once the app has
  started moves them out of every later collection;
- each delivery makes short-lived objects (engine.io's per-socket writer
  makes a task, a timer and futures per wake-up) that outlived the default
  young-generation threshold (700 allocations), were promoted and soon
  triggered a full collection. With a young threshold of 50 000 they die
  (by reference count) before a collection sees them, and full collections
  wait for 100 middle ones. Same run, same load: no full collection in two
  minutes of sending instead of 38, and 0.72 core at 50/s instead of 0.85–0.93.
Cost: cyclic garbage that reaches the old generation is freed later, so the
process holds somewhat more memory between full collections.

Only for the real server process (server/cli.py): a test process starts and
stops many apps, and freezing there would keep their cyclic garbage for good.
"""

from __future__ import annotations

import gc

import structlog
from aiohttp import web

log = structlog.get_logger("halqa.gc")


# (young, middle, old) thresholds; CPython's defaults are (700, 10, 10).
THRESHOLDS = (50_000, 20, 100)


async def freeze_after_start(_app: web.Application) -> None:
    """An `on_startup` handler: runs after every cleanup context has started."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    log.info("gc_frozen", objects=gc.get_freeze_count(), thresholds=THRESHOLDS)
