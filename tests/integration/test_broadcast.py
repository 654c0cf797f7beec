"""A session's program goes out to two real ingests (RTMP and RTMPS) and is recorded.

Real parts: Debian's nginx with libnginx-mod-rtmp as YouTube and Facebook
(the latter behind TLS, nginx's stream module), aiortc speakers over WHIP,
the mixer and output child processes, ffprobe reading what arrived.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broadcast_helpers import api, destination, mine, until
from tests.rtmp_helpers import Ingest, nginx_available, probe, video_audio
from tests.stage_helpers import whip_publish
from tests.support import app_server

pytestmark = pytest.mark.skipif(
    nginx_available() is not None,
    reason=f"SKIPPED LOUDLY: no RTMP ingest to test against: {nginx_available()}",
)
YT_KEY = "yt-abcd-efgh-ijkl-mnop-SECRET1"
FB_KEY = "FB-1234567890?s_bl=1&s_sc=SECRET2"


@pytest.fixture
def ingests(tmp_path: Path) -> Iterator[tuple[Ingest, Ingest]]:
    yt = Ingest(tmp_path / "youtube", "live2").start()
    fb = Ingest(tmp_path / "facebook", "rtmp", tls=True).start()
    try:
        yield yt, fb
    finally:
        yt.kill()
        fb.kill()


async def test_program_to_two_ingests_and_recording(
    tmp_path: Path, ingests: tuple[Ingest, Ingest], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # what halqa logs by default (aiosqlite echoes SQL at DEBUG)
    yt, fb = ingests
    async with app_server(tmp_path / "data", broadcast={"record": True, "stop_after_s": 1.0,
                                                         "retry_min_s": 0.5}) as halqa:
        sid = (await halqa.session_ids())[0]
        base = f"/api/sessions/{sid}"
        # Bad input first: not rtmp, a key with spaces, an unknown session.
        bad = await api(halqa, "POST", f"{base}/destinations",
                        {"name": "x", "url": "http://example.org/live", "key": "k"}, 422)
        assert "url" in bad["error"]["fields"]
        await api(halqa, "POST", f"{base}/destinations",
                  {"name": "x", "url": yt.url, "key": "a b"}, 422)
        await api(halqa, "POST", "/api/sessions/nope/destinations",
                  {"name": "x", "url": yt.url, "key": "k"}, 404)
        async with halqa.http.get(f"{halqa.url}{base}/broadcast") as r:
            assert r.status == 401

        # YouTube for this session, Facebook for the whole event (RTMPS).
        await api(halqa, "POST", f"{base}/destinations",
                  {"name": "YouTube", "url": yt.url, "key": YT_KEY}, 201)
        made = await api(halqa, "POST", "/api/destinations",
                         {"name": "Facebook", "url": fb.url, "key": FB_KEY}, 201)
        assert set(made) == {"id", "name", "url", "audio"}
        listed = await api(halqa, "GET", f"{base}/destinations")
        assert {d["name"] for d in listed} == {"YouTube", "Facebook"}
        assert YT_KEY not in json.dumps(listed) and FB_KEY not in json.dumps(listed)
        status = await api(halqa, "PATCH", f"{base}/broadcast", {"automatic": True})
        assert status["state"] == "stopped" and status["automatic"] is True

        # A speaker goes live: the broadcast starts by itself.
        speaker_a = await halqa.invite("speaker", sid)
        speaker_b = await halqa.invite("speaker", sid)
        a = await whip_publish(halqa.http, halqa.url, sid, speaker_a)

        async def recording_bytes() -> float | None:
            st = await api(halqa, "GET", f"{base}/broadcast")
            rec = st.get("recording") or {}
            return time.monotonic() if rec.get("bytes", 0) > 0 else None

        rec_started = await until(recording_bytes, 20, "the recording to start", every=0.05)
        # The media's span is judged against the wall clock from the first bytes
        # seen to the file's last write: stopping the children afterwards takes
        # its own time on a loaded machine and is not part of the recording.
        rec_started_wall = time.time() - (time.monotonic() - rec_started)

        async def both_live() -> bool:
            st = await api(halqa, "GET", f"{base}/broadcast")
            return all(d["state"] == "live" for d in st["destinations"])

        await until(both_live, 30, "both destinations live")
        await asyncio.sleep(2)  # let the ingests record a few seconds
        for ingest, key in ((yt, YT_KEY), (fb, FB_KEY)):
            files = ingest.publishes(key)
            assert len(files) == 1, files
            video, audio = video_audio(probe(files[0]))
            assert (video.get("codec_name"), video.get("width"), video.get("height")) == (
                "h264", 1280, 720), video
            assert audio.get("codec_name") == "aac", audio

        # A second speaker, with a screen: the layout changes, nobody reconnects.
        b = await whip_publish(halqa.http, halqa.url, sid, speaker_b, screen=True)
        await asyncio.sleep(3)
        assert len(yt.publishes(YT_KEY)) == 1 and len(fb.publishes(FB_KEY)) == 1
        st = await api(halqa, "GET", f"{base}/broadcast")
        assert st["mixer"]["state"] == "running" and st["mixer"]["stage"] == "connected", st

        # Facebook's ingest goes down: it retries on its own; YouTube never drops.
        fb.kill()

        async def fb_retrying() -> dict[str, object] | None:
            d = destination(await api(halqa, "GET", f"{base}/broadcast"), "Facebook")
            return d if d["state"] in ("retrying", "connecting") and d["error"] else None

        down = await until(fb_retrying, 20, "Facebook to be retrying")
        assert FB_KEY not in json.dumps(down)
        assert destination(await api(halqa, "GET", f"{base}/broadcast"),
                           "YouTube")["state"] == "live"
        fb.start()

        async def fb_back() -> bool:
            st = await api(halqa, "GET", f"{base}/broadcast")
            return bool(destination(st, "Facebook")["state"] == "live")

        await until(fb_back, 30, "Facebook to be live again")
        await asyncio.sleep(1.5)
        assert len(fb.publishes(FB_KEY)) == 2
        assert len(yt.publishes(YT_KEY)) == 1, "YouTube reconnected while Facebook was down"
        yt_live = destination(await api(halqa, "GET", f"{base}/broadcast"), "YouTube")
        assert yt_live["state"] == "live" and yt_live["bitrate_kbps"] > 0

        metrics = await (await halqa.http.get(f"{halqa.url}/metrics")).text()
        assert "halqa_broadcast_outputs_live 3.0" in metrics, metrics
        assert "halqa_broadcast_reconnects" in metrics

        # The session lasts 20 s, then both speakers leave: it all stops.
        await asyncio.sleep(max(0.0, rec_started + 20 - time.monotonic()))
        await a.close(halqa.http, halqa.url)
        await b.close(halqa.http, halqa.url)

        async def stopped() -> float | None:
            st = await api(halqa, "GET", f"{base}/broadcast")
            return time.monotonic() if st["state"] == "stopped" else None

        rec_ended = await until(stopped, 20, "the broadcast to stop", every=0.05)
        assert mine() == [], "child processes left after the broadcast stopped"

        recs = await api(halqa, "GET", f"{base}/recordings")
        assert len(recs) == 1 and recs[0]["state"] == "finished", recs
        path = tmp_path / "data" / "recordings" / sid / f"{recs[0]['id']}.ts"
        info = probe(path)
        video, audio = video_audio(info)
        assert video.get("codec_name") == "h264" and audio.get("codec_name") == "aac"
        duration = float(info["format"]["duration"])
        written = path.stat().st_mtime - rec_started_wall
        assert abs(duration - written) <= 1.0, (duration, written, rec_ended - rec_started)
        assert duration >= 20
        async with halqa.http.get(f"{halqa.url}{recs[0]['url']}", headers=halqa.auth()) as r:
            assert r.status == 200 and len(await r.read()) == recs[0]["bytes"]
        async with halqa.http.get(f"{halqa.url}{recs[0]['url']}") as r:
            assert r.status == 401

        # Started by hand with nobody on stage (the slate), then halqa shuts down.
        await api(halqa, "PATCH", f"{base}/broadcast", {"automatic": False})
        st = await api(halqa, "POST", f"{base}/broadcast", {"action": "start"})
        assert st["state"] == "live"
        await until(both_live, 30, "both destinations live on the slate")
        assert mine(), "no broadcast processes while broadcasting?"
        # Deleting a recording being written is refused; a finished one goes.
        recs = await api(halqa, "GET", f"{base}/recordings")
        busy = next(r for r in recs if r["state"] == "recording")
        await api(halqa, "DELETE", busy["url"], expect=409)
        await api(halqa, "DELETE", recs[-1]["url"], expect=204)
        await api(halqa, "DELETE", recs[-1]["url"], expect=404)
    assert mine() == [], "child processes left after halqa shut down"
    for secret in (YT_KEY, FB_KEY, "SECRET1", "SECRET2"):
        assert secret not in caplog.text, f"a stream key reached the log: {secret}"
