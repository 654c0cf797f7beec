"""halqa SIGKILLed mid-session: its mixer and outputs die with it, and the
recording cut short plays; the next start lists it as interrupted."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

import aiohttp

from tests.broadcast_helpers import api, children_of, until
from tests.rtmp_helpers import probe, video_audio
from tests.support import Halqa, ServerProcess


async def test_recording_survives_sigkill(tmp_path: Path) -> None:
    org = secrets.token_urlsafe(24)
    env = {"HALQA_ORGANIZER_TOKEN": org, "HALQA_BROADCAST__RECORD": "true"}
    server = await ServerProcess(tmp_path, env).start()
    assert server.proc is not None
    pid = server.proc.pid
    try:
        async with aiohttp.ClientSession() as http:
            halqa = Halqa(server.url, org, http)
            sid = (await halqa.session_ids())[1]
            base = f"/api/sessions/{sid}"
            # Nobody on stage: the slate goes out, and is recorded.
            st = await api(halqa, "POST", f"{base}/broadcast", {"action": "start"})
            assert st["state"] == "recording", st

            async def recording() -> float | None:
                rec = (await api(halqa, "GET", f"{base}/broadcast")).get("recording") or {}
                return time.monotonic() if rec.get("bytes", 0) > 0 else None

            started = await until(recording, 20, "the recording to start", every=0.05)
            assert len(children_of(pid)) == 2  # the mixer and the recording's output
            await asyncio.sleep(6)
            killed = time.monotonic()
            server.kill()
    finally:
        server.stop()

    deadline = time.monotonic() + 5
    while children_of(pid) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert children_of(pid) == [], "mixer or output outlived a SIGKILLed halqa"

    again = await ServerProcess(tmp_path, env).start()
    try:
        async with aiohttp.ClientSession() as http:
            halqa = Halqa(again.url, org, http)
            recs = await api(halqa, "GET", f"{base}/recordings")
    finally:
        again.stop()
    assert len(recs) == 1 and recs[0]["state"] == "interrupted", recs
    assert abs(recs[0]["duration_s"] - (killed - started)) <= 1.0, (recs, killed - started)
    info = probe(tmp_path / "recordings" / sid / f"{recs[0]['id']}.ts")
    video, audio = video_audio(info)
    assert (video.get("codec_name"), video.get("width")) == ("h264", 1280)
    assert audio.get("codec_name") == "aac"
