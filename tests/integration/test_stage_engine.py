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


async def test_h264_publisher_is_forwarded() -> None:
    async with engine_app() as (base, _app), aiohttp.ClientSession() as http:
        pub = await whip_publish(http, base, "s1", "spk-a", video_codec="video/h264")
        player = await whep_play(http, base, "s1", "viewer")
        await wait_for(lambda: player.frames["video"] > 10, what="H.264 frames decoded")
        await player.close(http, base)
        await pub.close(http, base)


async def test_on_air_follows_moderator_choice_and_speaker_reload() -> None:
    async with engine_app() as (base, app), aiohttp.ClientSession() as http:
        reg = registry(app)
        a = await whip_publish(http, base, "s1", "spk-a")
        a_id = a.location.rsplit("/", 1)[1]
        await wait_for(lambda: "s1" in reg.live_sessions(), what="A live")
        b = await whip_publish(http, base, "s1", "spk-b")
        stage = reg.stages["s1"]
        await wait_for(lambda: len(stage.snapshot()["publishers"]) == 2, what="panel of two")
        player = await whep_play(http, base, "s1", "viewer")
        await wait_for(lambda: player.frames["video"] > 5, what="A on air, decoded")
        assert stage.on_air.owner == "t1"

        b_id = b.location.rsplit("/", 1)[1]
        reg.put_on_air("s1", b_id)
        out = next(o for o in stage.viewers[next(iter(stage.viewers))].outs if o.kind == "video")
        await wait_for(lambda: out.source is stage.publishers[b_id].tracks["camera"], what="switch")
        before = player.frames["video"]
        await wait_for(lambda: player.frames["video"] > before + 10, what="B on air, decoded")

        # B's studio reloads: a new WHIP offer with the same token takes B's place.
        position = stage.publishers[b_id].position
        await b.pc.close()
        b2 = await whip_publish(http, base, "s1", "spk-b")
        b2_id = b2.location.rsplit("/", 1)[1]
        assert b_id not in stage.publishers and stage.publishers[b2_id].position == position
        # The moderator's pick left with B: on air falls back to the first live (A),
        # and the player's video slot follows A's camera again.
        assert stage.on_air is stage.publishers[a_id]
        assert stage.snapshot()["program"] == a_id
        await wait_for(lambda: out.source is stage.publishers[a_id].tracks["camera"],
                       what="fell back to A")
        before = player.frames["video"]
        await wait_for(lambda: player.frames["video"] > before + 10, what="A decoded again")
        reg.put_on_air("s1", b2_id)
        assert stage.on_air is stage.publishers[b2_id]
        before = player.frames["video"]
        await wait_for(lambda: player.frames["video"] > before + 10, what="resumed after reload")
        for peer in (player, a, b2):
            await peer.close(http, base)
        await wait_for(lambda: "s1" not in reg.stages, what="stage dropped when empty")
