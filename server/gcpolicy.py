"""Garbage collection in `halqa serve`: what start-up built is kept out of every full collection.

Measured (bench/RESULTS.md, `bench.chat_rate --gc-log`): with 700 connected
participants, CPython's full collections walked ~250 000 objects and stopped
the event loop for 150–250 ms about every 20 s; a chat message that came in
just before one reached the room ~250 ms late, and those few messages were
the whole 1 msg/s p99. About 165 000 of those objects are modules, classes
and functions built at start-up, which never become garbage. `gc.freeze()`
once the app has started moves them to the permanent generation, so every
later collection walks only what the running server allocated.

Only for the real server process (server/cli.py): a test process starts and
stops many apps, and freezing there would keep their cyclic garbage for good.
"""

from __future__ import annotations

import gc

import structlog
from aiohttp import web

log = structlog.get_logger("halqa.gc")


async def freeze_after_start(_app: web.Application) -> None:
    """An `on_startup` handler: runs after every cleanup context has started."""
    gc.collect()
    gc.freeze()
    log.info("gc_frozen", objects=gc.get_freeze_count())
