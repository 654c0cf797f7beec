"""Benchmark peers: a replaying publisher and viewers that count without decoding.

The publisher replays VP8 pre-encoded once at 640x360, 30 fps, ~1 Mbit/s (a
keyframe every second), so the publishing side costs next to nothing and the
figures are the server's. Viewers complete ICE/DTLS with aiortc, then count
RTP datagrams at the socket (SRTP headers are clear text) instead of
decrypting and decoding: hundreds of them fit on the other core.
"""

from __future__ import annotations

import asyncio
import fractions
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import AudioStreamTrack

CLOCK = 90000


ROOT = Path(__file__).resolve().parent.parent


def spawn_stage_server(port: int, *args: str, log: str | None = None,
                       cpu: int = 0) -> subprocess.Popen[bytes]:
    """bench.stage_server pinned to one core (0 unless told): every figure is per core."""
    return subprocess.Popen(
        ["taskset", "-c", str(cpu), sys.executable, "-m", "bench.stage_server",
         "--port", str(port), *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "w") if log else subprocess.DEVNULL,
    )


async def wait_up(http: aiohttp.ClientSession, base: str) -> None:
    """Until the server answers HTTP at all (any status)."""
    for _ in range(100):
        try:
            async with http.get(base + "/nothing"):
                return
        except aiohttp.ClientError:
            await asyncio.sleep(0.1)


def encode_vp8(
    seconds: int = 4, width: int = 640, height: int = 360, fps: int = 30, bitrate: int = 1_000_000
) -> list[av.Packet]:
    ctx = av.CodecContext.create("libvpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = fractions.Fraction(1, fps)
    ctx.framerate = fractions.Fraction(fps, 1)
    ctx.bit_rate = bitrate
    ctx.gop_size = fps
    ctx.options = {
        "deadline": "realtime",
        "cpu-used": "8",
        "lag-in-frames": "0",
        "error-resilient": "1",
        "qmin": "4",
        "qmax": "56",
    }
    rng = np.random.default_rng(1)
    # Blocky moving texture: compressible enough for rate control to hold ~1 Mbit/s.
    small = rng.integers(0, 255, (height // 8, width // 8 * 2, 3), dtype=np.uint8)
    base = np.repeat(np.repeat(small, 8, axis=0), 8, axis=1)
    packets: list[av.Packet] = []
    for i in range(seconds * fps):
        img = np.ascontiguousarray(base[:, (i * 5) % width : (i * 5) % width + width])
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        packets.extend(ctx.encode(frame))
    packets.extend(ctx.encode(None))
    return packets


class ReplayVideo(MediaStreamTrack):
    """Yields pre-encoded av.Packets: aiortc packetizes them without encoding."""

    kind = "video"

    def __init__(self, packets: list[av.Packet], fps: int = 30) -> None:
        super().__init__()
        self.data = [bytes(p) for p in packets]
        self.keys = [p.is_keyframe for p in packets]
        self.fps = fps
        self.n = 0
        self.start: float | None = None

    async def recv(self) -> av.Packet:
        if self.start is None:
            self.start = time.monotonic()
        delay = self.start + self.n / self.fps - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        i = self.n % len(self.data)
        packet = av.Packet(self.data[i])
        packet.pts = self.n * (CLOCK // self.fps)
        packet.time_base = fractions.Fraction(1, CLOCK)
        packet.is_keyframe = self.keys[i]
        self.n += 1
        return packet


def max_bundle() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))


async def post(http: aiohttp.ClientSession, url: str, token: str, sdp: str) -> tuple[str, str]:
    async with http.post(
        url,
        data=sdp,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"},
    ) as r:
        if r.status != 201:
            raise RuntimeError(f"{url}: {r.status} {await r.text()}")
        return await r.text(), r.headers.get("Location", "")


async def publish(
    http: aiohttp.ClientSession,
    base: str,
    packets: list[av.Packet],
    session: str = "bench",
    on_rtp: Any = None,
    token: str = "pub",
) -> RTCPeerConnection:
    pc = max_bundle()
    pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    video = pc.addTransceiver(ReplayVideo(packets), direction="sendonly")
    caps = RTCRtpSender.getCapabilities("video")
    video.setCodecPreferences([c for c in caps.codecs if c.mimeType.lower() == "video/vp8"])
    await pc.setLocalDescription(await pc.createOffer())
    answer, _ = await post(http, f"{base}/whip/{session}", token, pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    if on_rtp is not None:
        dtls = video.sender.transport
        original = dtls._send_rtp

        async def spy(data: bytes) -> None:
            on_rtp(data, time.perf_counter())
            await original(data)

        dtls._send_rtp = spy
    return pc


@dataclass
class Counter:
    """Per-SSRC unique sequence numbers seen at the socket."""

    seqs: dict[int, set[int]] = field(default_factory=dict)
    # (ssrc, rtp ts, arrival) of marker packets: the last packet of each video frame
    frames: list[tuple[int, int, float]] = field(default_factory=list)
    record_frames: bool = False

    def datagram(self, data: bytes) -> bool:
        if len(data) < 12 or not 128 <= data[0] <= 191 or 192 <= data[1] <= 223:
            return False  # not RTP (STUN, DTLS, RTCP): let aiortc have it
        b1, seq, ts, ssrc = struct.unpack_from("!BHII", data, 1)
        self.seqs.setdefault(ssrc, set()).add(seq)
        if self.record_frames and b1 & 0x80:
            self.frames.append((ssrc, ts, time.perf_counter()))
        return True

    def total(self) -> int:
        return sum(len(s) for s in self.seqs.values())

    def reset(self) -> None:
        self.seqs.clear()


async def light_viewer(
    http: aiohttp.ClientSession,
    base: str,
    counter: Counter,
    session: str = "bench",
    token: str = "viewer",
) -> RTCPeerConnection:
    pc = max_bundle()
    pc.addTransceiver("audio", direction="recvonly")
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    answer, _ = await post(http, f"{base}/whep/{session}", token, pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    ice = pc.getTransceivers()[0].receiver.transport.transport._connection

    # Count RTP right at the sockets: every local candidate's, because the two
    # ICE agents may settle on different pairs (IPv4 here, IPv6 there).
    for protocol in ice._protocols:
        original = protocol.datagram_received

        def datagram_received(data: bytes, addr: Any, original: Any = original) -> None:
            if not counter.datagram(data):
                original(data, addr)

        protocol.datagram_received = datagram_received
    return pc
