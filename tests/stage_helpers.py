"""Real aiortc peers for the live-stage tests: a WHIP publisher and a WHEP player.

Also a minimal aiohttp app carrying only the signaling package, so the engine
is tested without the rest of halqa (tokens come from a dict).
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import av
import numpy as np
from aiohttp import web
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import AudioStreamTrack

import signaling
from server.roles import Principal, Role
from server.stages import media_caller
from signaling.host import Caller, Host
from signaling.keys import REGISTRY
from signaling.settings import MediaSettings

VIDEO_CLOCK = 90000


class ColorBars(MediaStreamTrack):
    """A cheap synthetic camera: small frames whose colour changes every frame."""

    kind = "video"

    def __init__(self, width: int = 320, height: int = 180, fps: int = 30) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self._start: float | None = None
        self._n = 0

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        target = self._start + self._n / self.fps
        delay = target - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        img = np.zeros((self.height, self.width, 3), dtype=np.uint8)
        img[:, :, 0] = (self._n * 7) % 256
        img[: self.height // 2, :, 1] = 200
        frame = av.VideoFrame.from_ndarray(img, format="bgr24")
        frame.pts = int(self._n * VIDEO_CLOCK / self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._n += 1
        return frame


def prefer(pc: RTCPeerConnection, kind: str, mime: str) -> None:
    for t in pc.getTransceivers():
        if t.kind == kind:
            caps = RTCRtpSender.getCapabilities(kind)
            t.setCodecPreferences([c for c in caps.codecs if c.mimeType.lower() == mime])


@dataclass
class Peer:
    pc: RTCPeerConnection
    location: str = ""
    token: str = ""
    frames: dict[str, int] = field(default_factory=lambda: {"audio": 0, "video": 0})
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def close(self, http: aiohttp.ClientSession | None = None, base: str = "") -> None:
        for t in self.tasks:
            t.cancel()
        if http is not None and self.location:
            async with http.delete(base + self.location, headers=bearer(self.token)):
                pass
        await self.pc.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def whip_publish(
    http: aiohttp.ClientSession,
    base: str,
    session_id: str,
    token: str,
    *,
    video_codec: str = "video/vp8",
    screen: bool = False,
) -> Peer:
    # max-bundle: aiortc's default policy mis-bundles a second video section.
    pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    pc.addTransceiver(ColorBars(), direction="sendonly")
    if screen:
        pc.addTransceiver(ColorBars(256, 144, 10), direction="sendonly")
    prefer(pc, "video", video_codec)
    await pc.setLocalDescription(await pc.createOffer())
    async with http.post(
        f"{base}/whip/{session_id}",
        data=pc.localDescription.sdp,
        headers={**bearer(token), "Content-Type": "application/sdp"},
    ) as r:
        if r.status != 201:
            await pc.close()
            raise AssertionError(f"WHIP {r.status}: {await r.text()}")
        answer = await r.text()
        location = r.headers["Location"]
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return Peer(pc, location, token)


async def whep_play(http: aiohttp.ClientSession, base: str, session_id: str, token: str) -> Peer:
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="recvonly")
    pc.addTransceiver("video", direction="recvonly")
    peer = Peer(pc, token=token)

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        async def count() -> None:
            try:
                while True:
                    await track.recv()  # decoded: proves the forwarded stream is valid
                    peer.frames[track.kind] += 1
            except Exception:
                return

        peer.tasks.append(asyncio.ensure_future(count()))

    await pc.setLocalDescription(await pc.createOffer())
    async with http.post(
        f"{base}/whep/{session_id}",
        data=pc.localDescription.sdp,
        headers={**bearer(token), "Content-Type": "application/sdp"},
    ) as r:
        if r.status != 201:
            await pc.close()
            raise AssertionError(f"WHEP {r.status}: {await r.text()}")
        answer = await r.text()
        peer.location = r.headers["Location"]
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return peer


async def wait_for(predicate: Any, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


TOKENS: dict[str, Principal] = {
    "org": Principal(Role.organizer, None, "Organizer"),
    "spk-a": Principal(Role.speaker, 1, "Amal", session_id="s1"),
    "spk-b": Principal(Role.speaker, 2, "Bruno", session_id="s1"),
    "spk-other": Principal(Role.speaker, 3, "Chen", session_id="s2"),
    "viewer": Principal(Role.participant, 4, "Dana", participant_id=1),
    "viewer2": Principal(Role.participant, 5, "Eli", participant_id=2),
    "mod": Principal(Role.moderator, 6, "Farah", session_id="s1"),
}
for _i in range(7, 14):
    TOKENS[f"spk-{_i}"] = Principal(Role.speaker, _i, f"Speaker {_i}", session_id="s1")


async def _resolve(token: str) -> Caller | None:
    principal = TOKENS.get(token)
    return media_caller(principal) if principal is not None else None


@asynccontextmanager
async def engine_app(
    media: MediaSettings | None = None,
) -> AsyncIterator[tuple[str, web.Application]]:
    """Only the signaling package on a free port; yields (base URL, app)."""
    app = web.Application()
    signaling.setup(app, Host(media or MediaSettings(), _resolve))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        await runner.cleanup()


def registry(app: web.Application) -> Any:
    return app[REGISTRY]


def find_registry(halqa: Any) -> Any:
    """The stage registry of an app running in this process (the `live_app` fixture)."""
    assert halqa.app is not None, "find_registry needs an in-process app"
    return halqa.app[REGISTRY]
