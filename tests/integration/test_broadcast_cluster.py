"""A broadcast started through a process that does not hold the stage runs
where the stage is held, and its mixer is served there even when that process
is full of viewers; one started before anyone held the stage runs where it
was asked for and follows the stage's holder.

Real parts: two `halqa serve` processes sharing a private Redis and one
database, an aiortc speaker and viewer, the mixer and output children,
Debian's nginx-rtmp as the ingest, ffprobe reading what arrived.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.broadcast_helpers import api, children_of, destination, until
from tests.cluster_helpers import cluster
from tests.rtmp_helpers import Ingest, nginx_available, probe, video_audio
from tests.stage_helpers import whep_play, whip_publish
from tests.support import Halqa

pytestmark = pytest.mark.skipif(
    nginx_available() is not None,
    reason=f"SKIPPED LOUDLY: no RTMP ingest to test against: {nginx_available()}",
)
KEY = "cluster-key-0123456789"
KEY2 = "cluster-key-second-0123"


async def test_start_through_the_other_process_runs_on_the_full_holder(
    tmp_path: Path, redis_url: str
) -> None:
    # One viewer fills a process: the holder is full once one person watches.
    env = {"HALQA_MEDIA__MAX_VIEWERS_TOTAL": "1"}
    ingest = Ingest(tmp_path / "ingest", "live2").start()
    try:
        await _broadcast_through_the_other(tmp_path, redis_url, env, ingest)
    finally:
        ingest.kill()
    flvs = ingest.publishes(KEY)
    assert len(flvs) == 2, flvs  # one publish per broadcast
    assert len(ingest.publishes(KEY2)) == 1
    video, audio = video_audio(probe(flvs[1]))
    assert video.get("codec_name") == "h264" and audio.get("codec_name") == "aac", (video, audio)


async def _broadcast_through_the_other(
    tmp_path: Path, redis_url: str, env: dict[str, str], ingest: Ingest
) -> None:
    async with cluster(tmp_path, redis_url, 2, **env) as c:
        holder, other = c.procs
        assert holder.proc is not None and other.proc is not None
        at_holder = Halqa(holder.url, c.organizer, c.http)
        at_other = Halqa(other.url, c.organizer, c.http)
        sid = (await at_holder.session_ids())[0]
        base = f"/api/sessions/{sid}"
        await api(at_other, "POST", f"{base}/destinations",
                  {"name": "YouTube", "url": ingest.url, "key": KEY}, 201)
        speaker = await at_holder.invite("speaker", sid)

        async def speakers_laid_out(at: Halqa) -> dict[str, Any] | None:
            s = await api(at, "GET", f"{base}/broadcast")
            mixer = s.get("mixer") or {}
            ok = (mixer.get("stage") == "connected" and mixer.get("speakers") == 1
                  and destination(s, "YouTube")["state"] == "live")
            return s if ok else None

        # Started by hand with nobody on stage: it runs where it was asked for,
        # then follows the stage once another process holds it.
        st = await api(at_other, "POST", f"{base}/broadcast", {"action": "start"})
        assert st["state"] == "live", st
        assert len(children_of(other.proc.pid)) == 2 and children_of(holder.proc.pid) == []
        pub = await whip_publish(c.http, holder.url, sid, speaker)
        viewer = None
        try:
            st = await until(lambda: speakers_laid_out(at_holder), 30,
                             "the mixer elsewhere to lay out the holder's speaker")
            print("mixer following the holder:", st["mixer"])
            # Stopped through the holder: it stops where it runs.
            st = await api(at_holder, "POST", f"{base}/broadcast", {"action": "stop"})
            assert st["state"] == "stopped", st
            assert children_of(other.proc.pid) == []

            viewer = await whep_play(c.http, holder.url, sid,
                                     await at_holder.invite("speaker", sid))
            async def holder_full() -> bool:
                me = await c.me(holder)
                return bool(me["viewers"] >= me["capacity"] == 1)

            await until(holder_full, 20, "the holder to count its viewer")

            # The organizer's request lands on the process without the stage.
            assert children_of(holder.proc.pid) == []  # nothing runs before the start
            # The node-to-node route takes nothing unsigned, an organizer's token neither.
            async with c.http.post(f"{holder.url}/internal/broadcast/{sid}",
                                   json={"action": "start"}, headers=c.auth()) as r:
                assert r.status == 401, await r.text()
            st = await api(at_other, "POST", f"{base}/broadcast", {"action": "start"})
            assert st["state"] == "live", st
            assert children_of(other.proc.pid) == []
            assert len(children_of(holder.proc.pid)) == 2  # mixer + the destination's output

            # Status read through either process is the one running it.
            st = await until(lambda: speakers_laid_out(at_other), 30,
                             "the mixer on the holder to lay out the speaker")
            print("mixer:", st["mixer"])
            # A destination added through the other process while live starts at once.
            await api(at_other, "POST", f"{base}/destinations",
                      {"name": "Second", "url": ingest.url, "key": KEY2}, 201)

            async def second_live() -> bool:
                s = await api(at_other, "GET", f"{base}/broadcast")
                return bool(destination(s, "Second")["state"] == "live")

            await until(second_live, 30, "the destination added while live to go live")
            started = time.monotonic()
            await until(lambda: _after(started, 3), 10, "three seconds of program")
            st = await api(at_other, "POST", f"{base}/broadcast", {"action": "stop"})
            assert st["state"] == "stopped", st
            assert children_of(holder.proc.pid) == []
        finally:
            if viewer is not None:
                await viewer.close()
            await pub.close()


async def _after(start: float, seconds: float) -> bool:
    return time.monotonic() - start >= seconds
