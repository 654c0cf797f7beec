"""The program mixer: a child process per broadcasting session (`python -m broadcast.mixer`).

It watches the stage the way any viewer does (LiveKit's egress does the
same): a WHEP peer with the stage's fixed slots (every position's audio,
camera and screen), with a watch-only credential its parent made for it and
never stored. aiortc decodes each track in its own thread; this process's
event loop only receives. A clock thread composes the picture, mixes the sound
and encodes each feed once; the TS goes to stdout in frames (broadcast.wire).

stdin: one JSON line of configuration (it carries the credential, so it is
never on the command line), then control lines from the parent:
    {"op": "layout", "snapshot": {...the stage's snapshot...}}
    {"op": "titles", "event": "...", "session": "..."}
End of stdin (the parent closed it, or died) ends the mixer cleanly; if the
parent is SIGKILLed, the kernel kills the mixer too (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import av
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from broadcast import lifeline
from broadcast.audio import BLOCK, RATE, AudioMixer, language_mix
from broadcast.compose import Composer
from broadcast.encode import FeedEncoder, FeedSpec
from broadcast.layout import Plan, plan
from broadcast.wire import STATS, frame

log = logging.getLogger("halqa.mixer")
LABELS = ("audio", "camera", "screen")


class Program:
    """What the clock thread reads; the event loop writes (reference swaps only)."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.width = int(cfg.get("width", 1280))
        self.height = int(cfg.get("height", 720))
        self.fps = int(cfg.get("fps", 30))
        self.plan: Plan = plan({}, self.width, self.height)
        self.owners: dict[int, str] = {}  # position -> publisher id on it
        self.frames: dict[tuple[int, str], tuple[int, av.VideoFrame]] = {}
        self.audio = AudioMixer()
        self.titles: tuple[str, str] | None = (cfg.get("event", ""), cfg.get("session_title", ""))
        self.whep = "connecting"
        # Interpretation: each language's channel comes on its own audio-only
        # WHEP connection (`?audio=ar`); it is mixed only while the stage says
        # an interpreter is on air (otherwise that connection carries the floor).
        self.languages: tuple[str, ...] = tuple(cfg.get("languages") or ())
        self.live_languages: frozenset[str] = frozenset()
        self.stop = threading.Event()

    def set_layout(self, snapshot: dict[str, Any]) -> None:
        owners = {p["position"]: p["id"] for p in snapshot.get("publishers", [])}
        for pos in set(self.owners) | set(owners):
            if self.owners.get(pos) != owners.get(pos):
                # Someone else holds this position now: their predecessor's last
                # picture and sound must not show under the new name.
                for label in LABELS[1:]:
                    self.frames.pop((pos, label), None)
                self.audio.drop(pos)
        self.owners = owners
        self.plan = plan(snapshot, self.width, self.height)
        live = (snapshot.get("interpretation") or {}).get("live") or []
        self.live_languages = frozenset(str(lang) for lang in live)


class Output:
    """stdout, written by the clock thread only."""

    def __init__(self) -> None:
        self.out = sys.stdout.buffer
        self.lock = threading.Lock()

    def emit(self, data: bytes) -> None:
        with self.lock:
            try:
                self.out.write(data)
                self.out.flush()
            except (BrokenPipeError, ValueError):
                os._exit(0)  # the parent is gone: nothing left to do


def clock(program: Program, cfg: dict[str, Any], out: Output) -> None:
    """Compose, mix and encode at a steady frame rate, on the wall clock."""
    fps, w, h = program.fps, program.width, program.height
    composer = Composer(w, h, cfg.get("font"))
    feeds = [FeedSpec(**{**f, "languages": tuple(f.get("languages") or ())})
             for f in cfg.get("feeds", [{}])]
    encoders = [
        FeedEncoder(i, spec, fps, float(cfg.get("gop_s", 2.0)), cfg.get("preset", "veryfast"),
                    out.emit)
        for i, spec in enumerate(feeds)
    ]
    t0 = time.monotonic()
    n = samples = late = 0
    window_start, window_cpu, window_frames = t0, time.process_time(), 0
    try:
        while not program.stop.is_set():
            delay = t0 + n / fps - time.monotonic()
            if delay > 0:
                program.stop.wait(delay)
                continue
            if delay < -0.5:  # overloaded: skip ahead rather than fall behind for good
                n = int((time.monotonic() - t0) * fps)
                late += 1
            if program.titles is not None:
                composer.set_titles(*program.titles)
                program.titles = None
            current = program.plan
            canvas = composer.render(current, dict(program.frames))
            for enc in encoders:
                enc.video_frame(canvas, n, w, h)
            due = (n + 1) * RATE // fps
            while samples + BLOCK <= due:
                block = program.audio.block(current.audio)
                languages = {}
                for lang in program.languages:
                    # Drained even while off air, so a channel starts fresh when it goes live.
                    channel = program.audio.block([("lang", lang)])
                    if lang in program.live_languages:
                        languages[lang] = language_mix(channel, block)
                for enc in encoders:
                    enc.audio_block(block, languages)
                samples += BLOCK
            n += 1
            window_frames += 1
            now = time.monotonic()
            if now - window_start >= 2.0:
                cpu = time.process_time()
                stats = {
                    "cpu": round((cpu - window_cpu) / (now - window_start), 3),
                    "cpu_s": round(cpu, 2),
                    "fps": round(window_frames / (now - window_start), 1),
                    "late": late,
                    "whep": program.whep,
                    "tiles": len(current.tiles),
                    "bytes": [e.bytes_out for e in encoders],
                }
                out.emit(frame(STATS, 0, json.dumps(stats).encode()))
                window_start, window_cpu, window_frames = now, cpu, 0
    finally:
        for enc in encoders:
            enc.close()


async def _pull(program: Program, track: MediaStreamTrack, position: int | tuple[str, str],
                label: str) -> None:
    seq = 0
    try:
        while True:
            f = await track.recv()
            if isinstance(f, av.AudioFrame):
                program.audio.push(position, f)
            elif isinstance(f, av.VideoFrame) and isinstance(position, int):
                seq += 1
                program.frames[(position, label)] = (seq, f)
    except MediaStreamError:
        return


async def watch(program: Program, cfg: dict[str, Any]) -> None:
    """The stage's fixed slots, and one audio-only connection per language."""
    positions = int(cfg.get("positions", 6))
    base = str(cfg["whep_url"]).split("?", 1)[0]

    def slots(pc: RTCPeerConnection) -> None:
        for _ in range(positions):
            for label in LABELS:
                pc.addTransceiver("audio" if label == "audio" else "video",
                                  direction="recvonly")

    def slot_of(i: int) -> tuple[int | tuple[str, str], str]:
        return i // 3, LABELS[i % 3]

    def channel(pc: RTCPeerConnection) -> None:
        pc.addTransceiver("audio", direction="recvonly")

    def language(lang: str) -> Callable[[int], tuple[int | tuple[str, str], str]]:
        return lambda i: (("lang", lang), "audio")

    jobs = [_connect(program, cfg, cfg["whep_url"], slots, slot_of, main=True)]
    jobs += [_connect(program, cfg, f"{base}?audio={lang}", channel, language(lang))
             for lang in program.languages]
    await asyncio.gather(*jobs)


async def _connect(program: Program, cfg: dict[str, Any], url: str,
                   transceivers: Callable[[RTCPeerConnection], Any],
                   slot_of: Callable[[int], tuple[int | tuple[str, str], str]],
                   main: bool = False) -> None:
    """Stay connected to the stage as a WHEP viewer; reconnect when it drops."""
    headers = {"Authorization": f"Bearer {cfg['token']}", "Content-Type": "application/sdp"}
    backoff = 0.5
    async with aiohttp.ClientSession() as http:
        while True:
            pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
            tasks: list[asyncio.Task[None]] = []
            done = asyncio.Event()
            transceivers(pc)

            @pc.on("track")
            def on_track(track: MediaStreamTrack, pc: RTCPeerConnection = pc,
                         tasks: list[asyncio.Task[None]] = tasks) -> None:
                for i, t in enumerate(pc.getTransceivers()):
                    if t.receiver.track is track:
                        tasks.append(asyncio.ensure_future(_pull(program, track, *slot_of(i))))

            @pc.on("connectionstatechange")
            def on_state(pc: RTCPeerConnection = pc, done: asyncio.Event = done) -> None:
                if main:
                    program.whep = pc.connectionState
                if pc.connectionState in ("failed", "closed"):
                    done.set()

            try:
                await pc.setLocalDescription(await pc.createOffer())
                async with http.post(url, data=pc.localDescription.sdp, headers=headers) as r:
                    body = await r.text()
                    if r.status != 201:
                        raise RuntimeError(f"WHEP answered {r.status}: {body[:200]}")
                await pc.setRemoteDescription(RTCSessionDescription(sdp=body, type="answer"))
                backoff = 0.5
                await done.wait()
            except (aiohttp.ClientError, RuntimeError, OSError, ValueError) as exc:
                if main:
                    program.whep = "retrying"
                log.warning("mixer: stage not reachable: %s", exc)
            finally:
                for t in tasks:
                    t.cancel()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pc.close(), 5)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)


async def stdin_reader() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def control(program: Program, reader: asyncio.StreamReader) -> None:
    """Layout and titles from the parent; EOF means stop."""
    while line := await reader.readline():
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        if msg.get("op") == "layout":
            program.set_layout(msg.get("snapshot") or {})
        elif msg.get("op") == "titles":
            program.titles = (str(msg.get("event", "")), str(msg.get("session", "")))


async def run() -> None:
    reader = await stdin_reader()
    line = await reader.readline()
    if not line:
        return
    cfg = json.loads(line)
    program = Program(cfg)
    out = Output()
    thread = threading.Thread(target=clock, args=(program, cfg, out), name="clock", daemon=True)
    thread.start()
    watcher = asyncio.create_task(watch(program, cfg))
    try:
        await control(program, reader)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        program.stop.set()
        await asyncio.to_thread(thread.join, 5)


def main() -> None:
    lifeline.die_with_parent()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(name)s %(levelname)s %(message)s")
    asyncio.run(run())


if __name__ == "__main__":
    main()
