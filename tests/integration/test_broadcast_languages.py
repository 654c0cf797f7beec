"""Every output carries the languages: destinations, recording and HLS.

A speaker (aiortc, 440 Hz) and an Arabic interpreter (aiortc, 1 kHz) on one
stage; two destinations on a real nginx-rtmp, one floor, one Arabic; the
recording and the live HLS from the same single mixer.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.broadcast_helpers import api, until
from tests.hls_helpers import BROADCAST, HLS, get
from tests.interpretation_helpers import RATE, dominant, invite_interpreter, publish_tone
from tests.rtmp_helpers import Ingest, nginx_available, probe
from tests.support import app_server

pytestmark = pytest.mark.skipif(
    nginx_available() is not None,
    reason=f"SKIPPED LOUDLY: no RTMP ingest to test against: {nginx_available()}",
)


def pitch(path: Path, stream: str = "a:0", skip_s: float = 1.0) -> float:
    """The dominant frequency of a file's audio stream, decoded by ffmpeg."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", str(skip_s), "-i", str(path), "-map", f"0:{stream}",
         "-t", "1.5", "-ac", "1", "-ar", str(RATE), "-f", "s16le", "-"],
        capture_output=True, timeout=30, check=True).stdout
    samples = np.frombuffer(out, dtype=np.int16).astype(np.float32)
    assert len(samples) > RATE // 2, f"too little audio in {path} ({len(samples)} samples)"
    return dominant(samples)


async def test_floor_and_arabic_to_destinations_recording_and_hls(tmp_path: Path) -> None:
    ingest = Ingest(tmp_path / "ingest", "live").start()
    try:
        async with app_server(tmp_path / "data", hls=HLS,
                              broadcast={**BROADCAST, "record": True}) as halqa:
            sid = (await halqa.session_ids())[0]
            base = f"/api/sessions/{sid}"
            bad = await api(halqa, "POST", f"{base}/destinations",
                            {"name": "x", "url": ingest.url, "key": "k", "audio": "Arabic"}, 422)
            assert "audio" in bad["error"]["fields"], bad
            await api(halqa, "POST", f"{base}/destinations",
                      {"name": "Floor", "url": ingest.url, "key": "floorkey"}, 201)
            made = await api(halqa, "POST", f"{base}/destinations",
                             {"name": "Arabic", "url": ingest.url, "key": "arabickey",
                              "audio": "ar"}, 201)
            assert made["audio"] == "ar"
            listed = {d["name"]: d for d in await api(halqa, "GET", f"{base}/destinations")}
            assert (listed["Floor"]["audio"], listed["Arabic"]["audio"]) == ("floor", "ar")
            assert "arabickey" not in json.dumps(listed)

            interpreter = (await invite_interpreter(halqa, sid, "ar"))["token"]
            speaker = await publish_tone(halqa.http, halqa.url, sid,
                                         await halqa.invite("speaker", sid), 440, video=True)
            await api(halqa, "POST", f"{base}/broadcast", {"action": "start"})

            # Nobody interprets yet: the Arabic destination says it carries the floor.
            async def both_live() -> dict[str, dict[str, object]] | None:
                st = await api(halqa, "GET", f"{base}/broadcast")
                dests = {d["name"]: d for d in st["destinations"]}
                return dests if all(d["state"] == "live" for d in dests.values()) else None

            dests = await until(both_live, 30, "both destinations live")
            assert dests["Arabic"]["audio_now"] == "floor", dests
            assert dests["Arabic"]["audio_note"] == "no_live_channel", dests

            booth = await publish_tone(halqa.http, halqa.url, sid, interpreter, 1000)

            async def arabic_on() -> bool:
                st = await api(halqa, "GET", f"{base}/broadcast")
                d = {d["name"]: d for d in st["destinations"]}["Arabic"]
                return d["audio_now"] == "ar" and d["audio_note"] is None

            await until(arabic_on, 20, "the Arabic destination to carry the channel")
            await asyncio.sleep(4)  # a few seconds of interpretation everywhere

            # The HLS master lists the Arabic audio rendition beside the video ones.
            async def master() -> str | None:
                status, body, _ = await get(halqa.http, f"{halqa.url}{base}/hls",
                                            headers=halqa.auth(await halqa.register()))
                if status != 200:
                    return None
                status, text, _ = await get(halqa.http, json.loads(body)["url"])
                m = text.decode()
                return m if status == 200 and 'LANGUAGE="ar"' in m else None

            text = await until(master, 20, "the ar audio rendition in the master", every=0.5)
            assert ('#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",LANGUAGE="ar"' in text
                    and 'URI="audioar/index.m3u8"' in text), text
            assert 'AUDIO="aud"' in text, text

            await api(halqa, "POST", f"{base}/broadcast", {"action": "stop"})
            await booth.close(halqa.http, halqa.url)
            await speaker.close(halqa.http, halqa.url)

            floor_file = ingest.publishes("floorkey")[-1]
            arabic_file = ingest.publishes("arabickey")[-1]
            info = probe(arabic_file)
            assert [s["codec_type"] for s in info["streams"]].count("audio") == 1, info
            # The last seconds: the interpreter was on air, the floor ducked under.
            duration = float(probe(floor_file)["format"]["duration"])
            assert abs(pitch(arabic_file, skip_s=duration - 2.5) - 1000) < 30
            assert abs(pitch(floor_file, skip_s=duration - 2.5) - 440) < 30

            recordings = sorted((tmp_path / "data" / "recordings").rglob("*.ts"))
            assert recordings, "no recording"
            streams = probe(recordings[-1])["streams"]
            audios = [s for s in streams if s["codec_type"] == "audio"]
            tags = [s.get("tags", {}).get("language") for s in audios]
            assert len(audios) >= 2 and "ara" in tags and "mul" in tags, audios
            rec_duration = float(probe(recordings[-1])["format"]["duration"])
            ar_index = tags.index("ara")
            assert abs(pitch(recordings[-1], f"a:{ar_index}", rec_duration - 2.5) - 1000) < 30
            assert abs(pitch(recordings[-1], "a:0", rec_duration - 2.5) - 440) < 30
    finally:
        ingest.kill()
