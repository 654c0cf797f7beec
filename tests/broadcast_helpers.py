"""Shared by the broadcast tests: the organizer API, and counting child processes."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from tests.support import Halqa


def children_of(pid: int) -> list[int]:
    """Processes started by halqa process `pid` for broadcasts, alive (not zombies) now.

    Found by the HALQA_PARENT_PID they carry, so they are found even after
    halqa died and they were re-parented.
    """
    found = []
    marker = f"HALQA_PARENT_PID={pid}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == pid:
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in environ.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return found


def mine() -> list[int]:
    return children_of(os.getpid())


async def api(halqa: Halqa, method: str, path: str, body: Any = None,
              expect: int | None = 200) -> Any:
    async with halqa.http.request(method, f"{halqa.url}{path}", json=body,
                                  headers=halqa.auth()) as r:
        data = await r.json() if r.content_type == "application/json" else await r.read()
        if expect is not None:
            assert r.status == expect, (r.status, data)
        return data


async def until(check: Any, timeout: float, what: str, every: float = 0.1) -> Any:
    """Poll an async check until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last: {last}")


def destination(status: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(d for d in status["destinations"] if d["name"] == name)
    return found
