"""Glass-to-screen delay: live HLS (through the program mixer) and WebRTC, same run.

    python -m bench.hls_latency [--seconds 30]

A speaker (aiortc, 640x360 VP8) stamps every frame with the wall clock: 20
black/white bars across the picture carry the time in ms (mod 2^20). halqa
(`halqa serve`, defaults: the mixer composes 1280x720 30 fps, 720p = the
program encode, 360p a second feed, 2 s segments) runs in its own process.
One Chromium page watches the session over WebRTC, another one is switched to
HLS (hls.js, adaptive); both read the bars off the <video> they show
(canvas, every 200 ms) and subtract from their own clock: same machine, same
clock. Prints p50/p90 per path.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import av
import numpy as np
from aiortc import VideoStreamTrack

from tests.stage_helpers import whip_publish
from tests.support import ROOT, free_port

BITS = 20
W, H = 640, 360
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required"]


class Stamped(VideoStreamTrack):
    """Frames whose bars say when they were made (ms, mod 2^20)."""

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        now = int(time.time() * 1000) % (1 << BITS)
        img = np.zeros((H, W, 3), dtype=np.uint8)
        bar = W // BITS
        for i in range(BITS):
            if now >> (BITS - 1 - i) & 1:
                img[: int(H * 0.6), i * bar:(i + 1) * bar] = 255
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts, frame.time_base = pts, time_base or fractions.Fraction(1, 90000)
        return frame


READ = """([sel, bits]) => {
  const v = document.querySelector(sel);
  if (!v || !v.videoWidth) return null;
  const c = window.__c || (window.__c = document.createElement('canvas'));
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d', { willReadFrequently: true });
  g.drawImage(v, 0, 0);
  let n = 0;
  for (let i = 0; i < bits; i += 1) {
    const x = Math.floor((i + 0.5) * c.width / bits), y = Math.floor(c.height * 0.3);
    const p = g.getImageData(x, y, 1, 1).data;
    n = n * 2 + ((p[0] + p[1] + p[2]) / 3 > 128 ? 1 : 0);
  }
  const mod = 2 ** bits;
  return ((Date.now() % mod) - n + mod) % mod;
}"""


async def sample(page: object, selector: str, seconds: float) -> list[float]:
    out: list[float] = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        d = await page.evaluate(READ, [selector, BITS])  # type: ignore[attr-defined]
        if d is not None and d < 60_000:
            out.append(float(d))
        await asyncio.sleep(0.2)
    return out


async def main(seconds: float) -> None:
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        org = "o" * 32
        env = {**os.environ, "HALQA_DATA_DIR": str(Path(tmp)), "HALQA_ORGANIZER_TOKEN": org,
               "HALQA_LOG_LEVEL": "warning"}
        halqa = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as http:
                for _ in range(300):
                    try:
                        async with http.get(f"{url}/readyz") as r:
                            if r.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)
                async with http.get(f"{url}/api/program") as r:
                    sid = (await r.json())["sessions"][0]["id"]
                auth = {"Authorization": f"Bearer {org}"}
                async with http.post(f"{url}/api/invites", headers=auth,
                                     json={"role": "speaker", "session": sid}) as r:
                    spk = (await r.json())["token"]
                tokens = []
                for i in range(2):
                    async with http.post(f"{url}/api/registrations", json={
                            "name": f"Bench {i}", "email": f"b{i}@example.org", "country": "MA",
                            "language": "en", "consent": True}) as r:
                        tokens.append((await r.json())["token"])
                speaker = await whip_publish(http, url, sid, spk)
                speaker.pc.getTransceivers()[1].sender.replaceTrack(Stamped())
                for _ in range(120):  # the mixer starts and packages its first segments
                    async with http.get(f"{url}/api/sessions/{sid}/hls",
                                        headers={"Authorization": f"Bearer {tokens[0]}"}) as r:
                        if r.status == 200:
                            break
                    await asyncio.sleep(0.5)
                async with async_playwright() as pw:
                    browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                    pages = []
                    for t in tokens:
                        page = await (await browser.new_context()).new_page()
                        await page.goto(f"{url}/session/{sid}?lang=en#token={t}")
                        await page.wait_for_function("() => !!window.halqaPlayback", timeout=30000)
                        pages.append(page)
                    await pages[1].evaluate("() => halqaPlayback.fallBack('chosen')")
                    await pages[1].wait_for_function(
                        "() => halqaPlayback.video.currentTime > 2", timeout=60000)
                    await asyncio.sleep(4)  # hls.js settles at its live position
                    webrtc, hls = await asyncio.gather(
                        sample(pages[0], "#stage video.stage-camera", seconds),
                        sample(pages[1], ".hls-video", seconds))
                    await browser.close()
                await speaker.close(http, url)
        finally:
            halqa.terminate()
            halqa.wait(10)
    print(f"glass-to-screen, {seconds:.0f} s per path, same run, shared machine "
          f"(load {os.getloadavg()[0]:.1f}); speaker 640x360 VP8 (aiortc), program 1280x720 30 fps")
    for name, xs in (("WebRTC", webrtc), ("HLS (hls.js)", hls)):
        if not xs:
            print(f"{name:<14} no readable frames")
            continue
        qs = statistics.quantiles(xs, n=10)
        print(f"{name:<14} p50 {statistics.median(xs):7.0f} ms   p90 {qs[8]:7.0f} ms   "
              f"n={len(xs)}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30)
    asyncio.run(main(ap.parse_args().seconds))
