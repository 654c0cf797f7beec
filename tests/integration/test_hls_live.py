"""Live HLS from the program mixer's one encode, while an aiortc speaker is live:
the master playlist lists both renditions, ffprobe reads a segment as H.264 +
AAC at each rendition's size, the live playlist advances; after the session,
the archive is closed and becomes the replay."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.hls_helpers import BROADCAST, HLS, get, media_sequence, segment_uris
from tests.stage_helpers import whip_publish
from tests.support import app_server


def probe(path: Path) -> list[dict[str, Any]]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True, timeout=20).stdout
    streams: list[dict[str, Any]] = json.loads(out)["streams"]
    return streams


async def test_live_hls_from_the_mixer_then_the_replay(tmp_path: Path) -> None:
    if shutil.which("ffprobe") is None:
        pytest.fail("ffprobe is missing (apt ffmpeg; ./scripts/test installs it)")
    async with app_server(tmp_path, hls=HLS, broadcast=BROADCAST) as h:
        sid = (await h.session_ids())[0]
        viewer = await h.register()
        speaker = await whip_publish(h.http, h.url, sid, await h.invite("speaker", sid))
        try:
            deadline = time.monotonic() + 40
            while True:
                status, body, _ = await get(h.http, f"{h.url}/api/sessions/{sid}/hls",
                                            headers=h.auth(viewer))
                if status == 200:
                    break
                assert status == 404 and json.loads(body)["error"]["code"] in (
                    "not_live", "hls_starting"), body
                assert time.monotonic() < deadline, "no HLS within 40 s of going live"
                await asyncio.sleep(0.5)
            master_url = json.loads(body)["url"]
            prefix = master_url.rsplit("/", 1)[0]
            status, body, _ = await get(h.http, master_url)
            master = body.decode()
            assert status == 200 and "RESOLUTION=640x360" in master
            assert "RESOLUTION=320x180" in master, master
            assert segment_uris(master) == ["720p/index.m3u8", "360p/index.m3u8"]

            sizes = {"720p": (640, 360), "360p": (320, 180)}
            first_seq = {}
            for name, (w, hgt) in sizes.items():
                deadline = time.monotonic() + 20
                while True:
                    status, body, _ = await get(h.http, f"{prefix}/{name}/index.m3u8")
                    if status == 200:
                        break
                    assert time.monotonic() < deadline, f"no {name} playlist"
                    await asyncio.sleep(0.5)
                playlist = body.decode()
                first_seq[name] = (media_sequence(playlist), len(segment_uris(playlist)))
                seg = segment_uris(playlist)[-1]
                status, data, headers = await get(h.http, f"{prefix}/{name}/{seg}")
                assert status == 200 and headers["Content-Type"] == "video/mp2t"
                path = tmp_path / f"{name}.ts"
                path.write_bytes(data)
                streams = {s["codec_type"]: s for s in probe(path)}
                assert streams["video"]["codec_name"] == "h264", streams
                assert (streams["video"]["width"], streams["video"]["height"]) == (w, hgt)
                assert streams["audio"]["codec_name"] == "aac", streams

            # The live playlist advances: new segments every ~2 s.
            deadline = time.monotonic() + 20
            while True:
                _, body, _ = await get(h.http, f"{prefix}/360p/index.m3u8")
                now = (media_sequence(body.decode()), len(segment_uris(body.decode())))
                if now[0] + now[1] > sum(first_seq["360p"]) + 1:
                    break
                assert time.monotonic() < deadline, f"the live playlist stays at {now}"
                await asyncio.sleep(0.5)
            status, body, _ = await get(h.http, f"{h.url}/api/sessions/{sid}/replay",
                                        headers=h.auth(viewer))
            assert status == 404 and b"live_now" in body
        finally:
            await speaker.close(h.http, h.url)

        # The session ends: the packagers close the archive; it is the replay.
        deadline = time.monotonic() + 30
        while True:
            status, body, _ = await get(h.http, f"{h.url}/api/sessions/{sid}/replay",
                                        headers=h.auth(viewer))
            if status == 200:
                break
            assert time.monotonic() < deadline, body
            await asyncio.sleep(0.5)
        replay = json.loads(body)
        assert replay["duration_s"] >= 4
        prefix = replay["url"].rsplit("/", 1)[0]
        _, body, _ = await get(h.http, f"{prefix}/720p/index.m3u8")
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in body.decode()
        archive = (tmp_path / "hls" / sid / "720p" / "index.m3u8").read_text()
        deadline = time.monotonic() + 15
        while "#EXT-X-ENDLIST" not in archive:  # written when the packager stops
            assert time.monotonic() < deadline, archive[-300:]
            await asyncio.sleep(0.5)
            archive = (tmp_path / "hls" / sid / "720p" / "index.m3u8").read_text()
