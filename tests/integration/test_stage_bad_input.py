"""Bad requests get a clear 4xx, the stage keeps serving, and nothing leaks."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable

import aiohttp
from aiortc import RTCPeerConnection

from signaling.settings import MediaSettings
from tests.stage_helpers import bearer, engine_app, registry, wait_for, whep_play, whip_publish

SDP = {"Content-Type": "application/sdp"}


def open_pcs() -> int:
    gc.collect()
    return sum(
        1
        for o in gc.get_objects()
        if isinstance(o, RTCPeerConnection) and o.connectionState != "closed"
    )


def media_tasks() -> int:
    """Tasks other than aiohttp's per-connection handlers (keep-alive varies)."""
    return sum(1 for t in asyncio.all_tasks() if "RequestHandler" not in repr(t.get_coro()))


async def settled(read: Callable[[], int], every: float = 0.1, timeout: float = 10.0) -> int:
    """The value once two readings `every` seconds apart agree (or the last one)."""
    last = read()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await asyncio.sleep(every)
        now = read()
        if now == last:
            return now
        last = now
    return last


async def offer(direction: str = "sendonly") -> str:
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction=direction)
    pc.addTransceiver("video", direction=direction)
    await pc.setLocalDescription(await pc.createOffer())
    text = pc.localDescription.sdp
    await pc.close()
    return text


async def status(
    http: aiohttp.ClientSession, method: str, url: str, **kw: object
) -> tuple[int, str]:
    async with http.request(method, url, **kw) as r:  # type: ignore[arg-type]
        body = await r.json() if r.content_type == "application/json" else {}
        return r.status, body.get("error", {}).get("code", "") if isinstance(body, dict) else ""


async def test_refusals_leave_the_stage_serving_and_leak_nothing() -> None:
    media = MediaSettings(offers_per_10s=20, max_viewers=3)
    async with engine_app(media) as (base, app), aiohttp.ClientSession() as http:
        reg = registry(app)
        pub = await whip_publish(http, base, "s1", "spk-a")
        player = await whep_play(http, base, "s1", "viewer")
        await wait_for(lambda: player.frames["video"] > 5, what="first viewer decoding")
        # The set-up's short-lived tasks (PLIs, ICE checks) wind down first.
        baseline_tasks = await settled(media_tasks)
        baseline_pcs = open_pcs()
        good = await offer()
        url = f"{base}/whip/s1"

        assert await status(http, "POST", url, data=good, headers=SDP) == (401, "unauthorized")
        assert await status(http, "POST", url, data=good, headers={**SDP, **bearer("nope")}) == (
            401,
            "unauthorized",
        )
        other = {**SDP, **bearer("spk-other")}
        assert await status(http, "POST", url, data=good, headers=other) == (403, "forbidden")
        viewer_h = {**SDP, **bearer("viewer2")}
        assert await status(http, "POST", url, data=good, headers=viewer_h) == (403, "forbidden")
        spk = {**SDP, **bearer("spk-7")}
        assert await status(http, "POST", url, data="garbage", headers=spk) == (
            400,
            "sdp_malformed",
        )
        assert (await status(http, "POST", url, data=good, headers={**bearer("spk-7")}))[0] == 415
        no_codec = good.replace("VP8/90000", "VP9/90000").replace("H264/90000", "AV1/90000")
        assert await status(http, "POST", url, data=no_codec, headers=spk) == (
            400,
            "no_usable_codec",
        )
        recv = await offer("recvonly")
        assert await status(http, "POST", url, data=recv, headers=spk) == (400, "sdp_direction")
        # WHEP with a publisher's offer shape is refused too.
        whep = f"{base}/whep/s1"
        assert await status(http, "POST", whep, data=good, headers=viewer_h) == (
            400,
            "sdp_direction",
        )

        # Someone else's resource.
        assert await status(http, "DELETE", base + player.location, headers=bearer("viewer2")) == (
            403,
            "not_owner",
        )
        assert await status(http, "DELETE", base + pub.location, headers=bearer("spk-b")) == (
            403,
            "not_owner",
        )
        assert await status(http, "DELETE", f"{base}/whip/s1/nope", headers=bearer("spk-a")) == (
            404,
            "not_found",
        )
        # OPTIONS answers the CORS preflight without a token.
        async with http.options(url) as r:
            assert r.status == 204 and r.headers["Accept-Post"] == "application/sdp"
            assert r.headers["Access-Control-Allow-Origin"] == "*"

        # Flood: a caller posting offers in a loop is cut off with 429.
        codes = [(await status(http, "POST", url, data="x", headers=spk))[0] for _ in range(25)]
        assert codes.count(429) >= 5 and set(codes) <= {400, 429}

        await wait_for(lambda: media_tasks() <= baseline_tasks and open_pcs() == baseline_pcs,
                       what="refused requests left no task or peer connection")
        before = player.frames["video"]
        await wait_for(lambda: player.frames["video"] > before + 10, what="viewer unaffected")
        assert reg.counts()["viewers"] == 1 and reg.counts()["publishers"] == 1
        await player.close(http, base)
        await pub.close(http, base)


async def test_seventh_speaker_and_full_stage_are_refused() -> None:
    media = MediaSettings(max_viewers=1)
    async with engine_app(media) as (base, app), aiohttp.ClientSession() as http:
        reg = registry(app)
        speakers = [await whip_publish(http, base, "s1", f"spk-{i}") for i in range(7, 13)]
        await wait_for(lambda: len(reg.live_sessions()) == 1, what="stage live")
        good = await offer()
        headers = {**SDP, **bearer("spk-13")}
        assert await status(http, "POST", f"{base}/whip/s1", data=good, headers=headers) == (
            409,
            "too_many_speakers",
        )
        player = await whep_play(http, base, "s1", "viewer")
        recv = await offer("recvonly")
        h = {**SDP, **bearer("viewer2")}
        assert await status(http, "POST", f"{base}/whep/s1", data=recv, headers=h) == (
            503,
            "stage_full",
        )
        await player.close(http, base)
        for s in speakers:
            await s.close(http, base)


async def test_viewers_leave_and_nothing_is_left() -> None:
    async with engine_app() as (base, app), aiohttp.ClientSession() as http:
        reg = registry(app)
        baseline_tasks = media_tasks()
        baseline_pcs = open_pcs()
        pub = await whip_publish(http, base, "s1", "spk-a")
        players = [await whep_play(http, base, "s1", t) for t in ("viewer", "viewer2", "org")]
        await wait_for(lambda: all(p.frames["video"] > 3 for p in players), what="3 viewers")
        # one leaves politely, one just vanishes (connection closed), one via its owner
        await players[0].close(http, base)
        await players[1].pc.close()
        await players[2].close(http, base)
        await wait_for(lambda: reg.counts()["viewers"] == 0, what="viewers gone")
        stage = reg.stages["s1"]
        for track in next(iter(stage.publishers.values())).tracks.values():
            assert not track.active and not track.waiting
        await pub.close(http, base)
        await wait_for(lambda: not reg.stages, what="stage gone")
        await wait_for(lambda: open_pcs() == baseline_pcs and media_tasks() <= baseline_tasks,
                       what="every viewer's peer connection and task gone")
        assert reg.counts()["tasks"] == 0
