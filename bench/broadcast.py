"""Broadcast benchmarks: the mixer's CPU, and glass-to-ingest delay.

    python -m bench.broadcast cpu [--speakers 1,3,6] [--window 20]
    python -m bench.broadcast delay [--seconds 20]
    python -m bench.broadcast fanout [--steps 50,100,200,300]

cpu:   a stage server (bench.stage_server, pinned to core 0) with N publishers
       sending pre-encoded 640×360 30 fps VP8 at ~1 Mbit/s (+ Opus) and one
       mixer (`python -m broadcast.mixer`, pinned to core 1) composing and
       encoding the 1280×720 30 fps program; its output is read and dropped.
       Mixer CPU (utime+stime from /proc, all its threads: decoding, layout,
       x264, AAC) per wall second over the window, and the frame rate it kept.
delay: one publisher whose frames carry their frame number as 16 black/white
       blocks; the program goes through the mixer and an output child to a
       real nginx-rtmp; a player reads it back from nginx and decodes the
       number. Delay = arrival of the decoded frame at the player on the
       ingest - the publisher's capture time of that frame (same clock).
fanout: bench.fanout's forwarding run (server pinned to core 0, viewers'
       client on core 1), once alone and once with a program mixer watching
       the same stage (pinned to core 1, 1 speaker): viewers per core, both.
Prints figures only; never part of the pass/fail suite.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
from aiortc import MediaStreamTrack, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

from bench.stage_peers import encode_vp8, max_bundle, post, publish, spawn_stage_server, wait_up
from broadcast.wire import HEADER, STATS
from tests.rtmp_helpers import Ingest
from tests.support import free_port

TICK = os.sysconf("SC_CLK_TCK")
BITS = 16


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def mixer(base: str, session: str, core: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        ["taskset", "-c", str(core), sys.executable, "-m", "broadcast.mixer"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env={**os.environ, "HALQA_PARENT_PID": str(os.getpid())},
    )
    cfg = {"session": session, "whep_url": f"{base}/whep/{session}?layout=stage",
           "token": "mixer", "positions": 6, "width": 1280, "height": 720, "fps": 30,
           "gop_s": 2.0, "preset": "veryfast", "event": "Bench", "session_title": "Bench",
           "feeds": [{"width": 1280, "height": 720, "video_kbps": 3000, "audio_kbps": 128}]}
    assert proc.stdin is not None
    proc.stdin.write((json.dumps(cfg) + "\n").encode())
    proc.stdin.flush()
    return proc


def read_frames(proc: subprocess.Popen[bytes], stats: list[dict[str, Any]],
                sink: Any = None) -> threading.Thread:
    """Drain the mixer's stdout in a thread: keep its stats, hand TS to `sink`."""

    def run() -> None:
        out = proc.stdout
        assert out is not None
        while head := out.read(HEADER.size):
            if len(head) < HEADER.size:
                return
            flags, _, length = HEADER.unpack(head)
            data = out.read(length)
            if flags & STATS:
                stats.append(json.loads(data))
            elif sink is not None:
                sink(data)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def layout(n: int) -> dict[str, Any]:
    return {"op": "layout", "snapshot": {"session": "bench", "live": n > 0, "program": None,
            "publishers": [{"id": f"p{i}", "name": f"Intervenant {i + 1}", "position": i,
                            "audio": True, "camera": True, "screen": False}
                           for i in range(n)]}}


async def cpu(speakers: list[int], window: float) -> None:
    packets = encode_vp8(seconds=4)
    print(f"mixer CPU, 1280x720 30 fps program, libx264 veryfast + AAC; publishers "
          f"640x360 30 fps VP8 ~1 Mbit/s; window {window:.0f} s; mixer pinned to core 1")
    print("On a shared machine the mixer may not get its core: 'projected' is its CPU per")
    print("program frame times 30 (what a full 30 fps costs), the figure to hold to 1 core.")
    print("speakers | mixer CPU (cores) | program fps | ms CPU/frame | projected @30 fps | tiles")
    for n in speakers:
        port = free_port()
        server = spawn_stage_server(port, "--mode", "forward", log="/tmp/halqa-bench-bc.log")
        base = f"http://127.0.0.1:{port}"
        pcs = []
        try:
            async with aiohttp.ClientSession() as http:
                await wait_up(http, base)
                for i in range(n):
                    pcs.append(await publish(http, base, packets, token=f"pub{i}"))
                proc = mixer(base, "bench", 1)
                stats: list[dict[str, Any]] = []
                read_frames(proc, stats)
                assert proc.stdin is not None
                proc.stdin.write((json.dumps(layout(n)) + "\n").encode())
                proc.stdin.flush()
                await asyncio.sleep(6)  # connect, first keyframes, warm caches
                c0, t0 = cpu_seconds(proc.pid), time.monotonic()
                await asyncio.sleep(window)
                used = (cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0)
                recent = stats[-int(window / 2):]
                fps = statistics.mean(s["fps"] for s in recent) if recent else 0
                tiles = recent[-1]["tiles"] if recent else "?"
                per_frame = used / fps * 1000 if fps else float("nan")
                print(f"{n:8d} | {used:17.2f} | {fps:11.1f} | {per_frame:12.1f} | "
                      f"{per_frame * 30 / 1000:17.2f} | {tiles}", flush=True)
                proc.stdin.close()
                proc.wait(10)
        finally:
            for pc in pcs:
                await pc.close()
            server.terminate()
            server.wait(10)


class Numbered(MediaStreamTrack):
    """A camera whose frames carry their number as BITS blocks; keeps capture times."""

    kind = "video"

    def __init__(self, captured: dict[int, float]) -> None:
        super().__init__()
        self.captured = captured
        self.n = 0
        self.start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self.start is None:
            self.start = time.monotonic()
        delay = self.start + self.n / 30 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        img = np.full((360, 640), 40, dtype=np.uint8)
        code = self.n % (1 << BITS)
        for b in range(BITS):
            if code >> b & 1:
                img[100:260, b * 40 : b * 40 + 40] = 235
        frame = av.VideoFrame.from_ndarray(np.stack([img] * 3, axis=-1), format="rgb24")
        frame.pts = self.n * 3000
        frame.time_base = fractions.Fraction(1, 90000)
        self.captured[code] = time.time()
        self.n += 1
        return frame


def decode_number(frame: av.VideoFrame) -> int:
    y = frame.to_ndarray(format="gray")
    h, w = y.shape
    row = y[h * 180 // 360]
    return sum(1 << b for b in range(BITS) if row[int((b * 40 + 20) * w / 640)] > 140)


async def delay(seconds: float) -> None:
    captured: dict[int, float] = {}
    delays: list[float] = []
    folder = Path(tempfile.mkdtemp(prefix="halqa-bench-ingest-"))
    ingest = Ingest(folder, "live2").start()
    port = free_port()
    server = spawn_stage_server(port, "--mode", "forward", log="/tmp/halqa-bench-bc.log")
    base = f"http://127.0.0.1:{port}"
    out = subprocess.Popen([sys.executable, "-m", "broadcast.output"], stdin=subprocess.PIPE,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env={**os.environ, "HALQA_PARENT_PID": str(os.getpid())})
    assert out.stdin is not None
    out.stdin.write((json.dumps({"kind": "rtmp", "url": ingest.url, "key": "bench"}) + "\n")
                    .encode())

    def to_output(data: bytes) -> None:
        # The mixer's first chunk starts at its first keyframe: feed it all.
        assert out.stdin is not None
        out.stdin.write(data)
        out.stdin.flush()

    async with aiohttp.ClientSession() as http:
        await wait_up(http, base)
        pc = max_bundle()
        pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
        video = pc.addTransceiver(Numbered(captured), direction="sendonly")
        caps = RTCRtpSender.getCapabilities("video")
        video.setCodecPreferences([c for c in caps.codecs if c.mimeType.lower() == "video/vp8"])
        await pc.setLocalDescription(await pc.createOffer())
        answer, _ = await post(http, f"{base}/whip/bench", "pub0", pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        proc = mixer(base, "bench", 1)
        stats: list[dict[str, Any]] = []
        read_frames(proc, stats, to_output)
        assert proc.stdin is not None
        proc.stdin.write((json.dumps(layout(1)) + "\n").encode())
        proc.stdin.flush()
        await asyncio.sleep(4)

        def play() -> None:
            deadline = time.monotonic() + seconds
            with av.open(f"{ingest.url}/bench", options={"fflags": "nobuffer"}) as player:
                for frame in player.decode(video=0):
                    at = time.time()
                    code = decode_number(frame)
                    if code in captured:
                        delays.append(at - captured[code])
                    if time.monotonic() > deadline:
                        return

        await asyncio.to_thread(play)
        proc.stdin.close()
        proc.wait(10)
        await pc.close()
    out.stdin.close()
    out.wait(10)
    server.terminate()
    ingest.kill()
    good = sorted(d for d in delays if 0 < d < 10)
    if not good:
        print("no frame decoded at the ingest")
        return
    q = statistics.quantiles(good, n=20)
    print(f"glass-to-ingest (player reading nginx-rtmp), {len(good)} frames: "
          f"median {statistics.median(good) * 1000:.0f} ms, p95 {q[18] * 1000:.0f} ms, "
          f"max {good[-1] * 1000:.0f} ms")


async def fanout_beside(steps: list[int], window: float) -> None:
    from bench import fanout

    packets = encode_vp8()
    print(f"host: {os.cpu_count()} CPUs, load average {os.getloadavg()}", flush=True)

    def with_mixer(base: str) -> Any:
        proc = mixer(base, "bench", 1)
        read_frames(proc, [])
        assert proc.stdin is not None
        proc.stdin.write((json.dumps(layout(1)) + "\n").encode())
        proc.stdin.flush()

        def stop() -> None:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(10)

        return stop

    alone = await fanout.run("forward", steps, window, packets)
    beside = await fanout.run("forward", steps, window, packets, beside=with_mixer)

    def best(rows: list[Any]) -> tuple[int, float]:
        ok = [r for r in rows if r.min_delivery >= 0.95 and r.cpu_share <= 0.97]
        per = statistics.median(r.ms_per_viewer_s for r in rows)
        return (ok[-1].viewers if ok else 0), 1000 / per

    (a_best, a_core), (b_best, b_core) = best(alone), best(beside)
    print("\n== forwarding with a broadcast beside (same run) ==")
    print(f"alone:       largest step served >=95%: {a_best}; ~{a_core:.0f} viewers/core")
    print(f"with mixer:  largest step served >=95%: {b_best}; ~{b_core:.0f} viewers/core")
    print(f"ratio (with/alone, viewers per core): {b_core / a_core:.2f}")
    print(f"load average after: {os.getloadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["cpu", "delay", "fanout"])
    parser.add_argument("--steps", default="50,100,200,300")
    parser.add_argument("--speakers", default="1,3,6")
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    if args.what == "cpu":
        os.sched_setaffinity(0, {0})
        asyncio.run(cpu([int(x) for x in args.speakers.split(",")], args.window))
    elif args.what == "delay":
        os.sched_setaffinity(0, {0})
        asyncio.run(delay(args.seconds))
    else:
        os.sched_setaffinity(0, {1})  # as bench.fanout: its client runs on core 1
        asyncio.run(fanout_beside([int(x) for x in args.steps.split(",")], args.window))


if __name__ == "__main__":
    main()
