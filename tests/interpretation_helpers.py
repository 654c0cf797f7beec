"""Tones and ears for the interpretation tests: which frequency does a player hear?

A publisher sends a pure sine (440 Hz floor, 1 kHz Arabic...); a WHEP player
decodes what it receives and the FFT of each 20 ms frame says which tone it
carried, so audio routing is checked by ear, not by counters.
"""

from __future__ import annotations

import asyncio
import fractions
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import av
import numpy as np
import socketio
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)

from tests.stage_helpers import ColorBars, Peer, bearer

RATE = 48000
SAMPLES = 960  # 20 ms


class Tone(MediaStreamTrack):
    """A sine at `freq` Hz, 20 ms frames, paced in real time."""

    kind = "audio"

    def __init__(self, freq: float, level: float = 0.3) -> None:
        super().__init__()
        self.freq, self.level = freq, level
        self._start: float | None = None
        self._n = 0

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self._n * SAMPLES / RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        t = (np.arange(SAMPLES) + self._n * SAMPLES) / RATE
        pcm = (np.sin(2 * np.pi * self.freq * t) * self.level * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._n * SAMPLES
        frame.time_base = fractions.Fraction(1, RATE)
        self._n += 1
        return frame


def tone_levels(frame: np.ndarray, freqs: tuple[float, ...]) -> dict[float, float]:
    """Share of the frame's energy within ±60 Hz of each frequency (0..1)."""
    spectrum = np.abs(np.fft.rfft(frame * np.hanning(len(frame)))) ** 2
    bins = np.fft.rfftfreq(len(frame), 1 / RATE)
    total = float(spectrum.sum()) or 1.0
    return {f: float(spectrum[(bins > f - 60) & (bins < f + 60)].sum()) / total for f in freqs}


def dominant(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / RATE)[int(np.argmax(spectrum))])


@dataclass
class Ear:
    """What a WHEP player heard: (arrival time, mono samples) per decoded frame."""

    peer: Peer
    frames: list[tuple[float, np.ndarray]] = field(default_factory=list)
    # (arrival time, RTP timestamp) per decoded frame: where the media timeline
    # has a hole, whatever the test process's own scheduling did to arrivals.
    stamps: list[tuple[float, int]] = field(default_factory=list)
    audio_header: str = ""

    def recent(self, seconds: float) -> np.ndarray:
        cut = time.monotonic() - seconds
        chunks = [s for t, s in self.frames if t >= cut]
        return np.concatenate(chunks) if chunks else np.zeros(0)


def mono(frame: av.AudioFrame) -> np.ndarray:
    data = frame.to_ndarray().astype(np.float32)
    if frame.format.is_packed and len(frame.layout.channels) > 1:
        data = data.reshape(-1, len(frame.layout.channels)).mean(axis=1)
    else:
        data = data.reshape(len(frame.layout.channels), -1).mean(axis=0)
    return data / 32768.0


async def listen(http: aiohttp.ClientSession, base: str, session_id: str, token: str,
                 query: str = "") -> Ear:
    """A WHEP player (one audio, one video) that keeps every decoded audio frame."""
    pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    pc.addTransceiver("audio", direction="recvonly")
    pc.addTransceiver("video", direction="recvonly")
    ear = Ear(Peer(pc, token=token))

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        async def hear() -> None:
            try:
                while True:
                    frame = await track.recv()
                    ear.peer.frames[track.kind] += 1
                    if track.kind == "audio":
                        now = time.monotonic()
                        ear.frames.append((now, mono(frame)))
                        ear.stamps.append((now, int(frame.pts or 0)))
            except Exception:
                return

        ear.peer.tasks.append(asyncio.ensure_future(hear()))

    await pc.setLocalDescription(await pc.createOffer())
    async with http.post(f"{base}/whep/{session_id}{query}", data=pc.localDescription.sdp,
                         headers={**bearer(token), "Content-Type": "application/sdp"}) as r:
        assert r.status == 201, await r.text()
        answer = await r.text()
        ear.peer.location = r.headers["Location"]
        ear.audio_header = r.headers.get("Halqa-Audio", "")
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return ear


async def publish_tone(http: aiohttp.ClientSession, base: str, session_id: str, token: str,
                       freq: float, *, video: bool = False, query: str = "") -> Peer:
    """A WHIP publisher sending a tone (and, for a speaker, a small camera)."""
    pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    pc.addTransceiver(Tone(freq), direction="sendonly")
    if video:
        pc.addTransceiver(ColorBars(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    async with http.post(f"{base}/whip/{session_id}{query}", data=pc.localDescription.sdp,
                         headers={**bearer(token), "Content-Type": "application/sdp"}) as r:
        if r.status != 201:
            await pc.close()
            raise AssertionError(f"WHIP {r.status}: {await r.text()}")
        answer = await r.text()
        location = r.headers["Location"]
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return Peer(pc, location, token)


async def invite_interpreter(halqa: Any, session: str | None, language: str | None,
                             status: int = 201) -> Any:
    async with halqa.http.post(f"{halqa.url}/api/invites", headers=halqa.auth(),
                               json={"role": "interpreter", "session": session,
                                     "language": language}) as r:
        body = await r.json()
        assert r.status == status, body
        return body


async def sio(url: str, token: str, updates: list[dict[str, Any]]) -> socketio.AsyncClient:
    client = socketio.AsyncClient()
    client.on("stage:update", updates.append)
    await client.connect(url, auth={"token": token}, transports=["websocket"])
    return client


async def heard(ear: Any, want: float, what: str) -> None:
    async def ok() -> bool:
        tail = ear.recent(0.5)
        return len(tail) > RATE // 4 and abs(dominant(tail) - want) < 30

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if await ok():
            return
        await asyncio.sleep(0.1)
    tail = ear.recent(0.5)
    raise AssertionError(f"{what}: heard {dominant(tail) if len(tail) else 'nothing'} Hz, "
                         f"wanted {want}")


def max_rtp_step(ear: Ear, since: float, until: float) -> float:
    """The longest step, in seconds of the RTP timeline (48 kHz), between frames
    that arrived in [since, until]: a hole in what was heard, whatever the test's
    shared event loop did to arrival times."""
    stamps = [pts for t, pts in ear.stamps if since <= t <= until]
    steps = [((b - a) % 2**32) / RATE for a, b in itertools.pairwise(stamps)]
    return max(steps)
