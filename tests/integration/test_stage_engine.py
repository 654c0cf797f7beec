"""The forwarding engine with real aiortc peers: WHIP in, WHEP out, no mocks."""

from __future__ import annotations

import aiohttp

from tests.stage_helpers import engine_app, registry, wait_for, whep_play, whip_publish


async def test_whip_to_whep_vp8() -> None:
    async with engine_app() as (base, app), aiohttp.ClientSession() as http:
        pub = await whip_publish(http, base, "s1", "spk-a")
        await wait_for(lambda: "s1" in registry(app).live_sessions(), what="publisher live")
        player = await whep_play(http, base, "s1", "viewer")
        await wait_for(lambda: player.frames["video"] > 10, what="video frames decoded")
        await wait_for(lambda: player.frames["audio"] > 10, what="audio frames decoded")
        await player.close(http, base)
        await pub.close(http, base)
        await wait_for(lambda: registry(app).counts()["viewers"] == 0, what="viewer gone")
