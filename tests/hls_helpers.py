"""HLS test support: a real archive made by ffmpeg, laid out as the packager does."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import aiohttp

# Small and slow, to keep this test light on a shared 2-core machine; the sizes
# are what the test checks, the names are the configured ones.
HLS = {"enabled": True, "renditions": [
    {"name": "720p", "width": 640, "height": 360, "video_kbps": 800, "audio_kbps": 96},
    {"name": "360p", "width": 320, "height": 180, "video_kbps": 250, "audio_kbps": 64}]}
BROADCAST = {"record": False, "width": 640, "height": 360, "fps": 15, "video_kbps": 800,
             "audio_kbps": 96, "stop_after_s": 1.0, "preset": "ultrafast"}


def make_archive(data_dir: Path, session: str, seconds: int = 7,
                 renditions: tuple[tuple[str, str], ...] = (("720p", "320x180"),
                                                            ("360p", "160x90"))) -> Path:
    """<data_dir>/hls/<session>/<rendition>/index.m3u8 + seg_*.ts, H.264 + AAC, 2 s segments."""
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is needed (./scripts/test installs it)"
    base = data_dir / "hls" / session
    for name, size in renditions:
        out = base / name
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [ffmpeg, "-loglevel", "error", "-y",
             "-f", "lavfi", "-i", f"testsrc=size={size}:rate=15",
             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
             "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", "30",
             "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
             "-f", "hls", "-hls_time", "2", "-hls_list_size", "0",
             "-hls_playlist_type", "event", "-hls_flags", "program_date_time",
             "-hls_segment_filename", str(out / "seg_%05d.ts"), str(out / "index.m3u8")],
            check=True, timeout=60)
    return base


async def get(http: aiohttp.ClientSession, url: str, **kw: Any) -> tuple[int, bytes, Any]:
    async with http.get(url, **kw) as r:
        return r.status, await r.read(), r.headers


def segment_uris(playlist: str) -> list[str]:
    return [ln for ln in playlist.splitlines() if ln and not ln.startswith("#")]


def media_sequence(playlist: str) -> int:
    m = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", playlist)
    return int(m.group(1)) if m else 0


class FfmpegPackager:
    """A growing live HLS archive in real time (ffmpeg -re), laid out as the
    packager lays it out: for tests of the page and the cache that do not
    need the mixer (the mixer's own HLS is tested in test_hls_live.py)."""

    def __init__(self, data_dir: Path, session: str) -> None:
        self.base = data_dir / "hls" / session
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> FfmpegPackager:
        ffmpeg = shutil.which("ffmpeg")
        assert ffmpeg
        for name, size, kbps in (("720p", "640x360", "600k"), ("360p", "320x180", "200k")):
            out = self.base / name
            out.mkdir(parents=True, exist_ok=True)
            self.procs.append(subprocess.Popen(
                [ffmpeg, "-loglevel", "error", "-y", "-re",
                 "-f", "lavfi", "-i", f"testsrc=size={size}:rate=15",
                 "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                 "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
                 "-g", "30", "-b:v", kbps, "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
                 "-f", "hls", "-hls_time", "2", "-hls_list_size", "0",
                 "-hls_playlist_type", "event", "-hls_flags", "program_date_time+temp_file",
                 "-hls_segment_filename", str(out / "seg_%05d.ts"), str(out / "index.m3u8")],
                stdin=subprocess.DEVNULL))
        return self

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
