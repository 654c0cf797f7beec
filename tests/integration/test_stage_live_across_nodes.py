"""A stage live on one process shows as live in every process's program."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.stage_helpers import whip_publish
from tests.support import Halqa, app_server

SESSION = "panel-housing"


async def live_flag(h: Halqa) -> bool:
    program = await h.program()
    return next(s["live"] for s in program["sessions"] if s["id"] == SESSION)


async def wait_flag(h: Halqa, want: bool) -> None:
    for _ in range(50):
        if await live_flag(h) is want:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{h.url}: live stayed {not want}")


async def test_the_live_flag_agrees_on_both_processes(tmp_path: Path, redis_url: str) -> None:
    shared = {"redis_url": redis_url, "organizer_token": "o" * 32}
    async with app_server(tmp_path, **shared) as a, app_server(tmp_path, **shared) as b:
        assert not await live_flag(a) and not await live_flag(b)
        speaker = await a.invite("speaker", SESSION)
        peer = await whip_publish(a.http, a.url, SESSION, speaker)
        try:
            await wait_flag(a, True)
            await wait_flag(b, True)  # b hosts nothing; it learns it from Redis
        finally:
            async with a.http.delete(a.url + peer.location, headers=a.auth(speaker)):
                pass
            await peer.pc.close()
        await wait_flag(a, False)
        await wait_flag(b, False)
