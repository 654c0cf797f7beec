"""RTP forwarding: one publisher track in, many viewer streams out, no codecs.

A `SourceTrack` receives the publisher's packets (already SRTP-decrypted and
RTX-unwrapped by aiortc) and hands each one to every `OutStream` subscribed to
it. An `OutStream` is one viewer's slot (one SSRC): it rewrites payload type,
sequence number, timestamp and SSRC so the viewer sees one continuous stream
even when the slot's source changes (speaker reload, a new speaker on air), and it
only starts a video source at a keyframe.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable
from typing import Any

from signaling import aiortc_internals as ai
from signaling.rtp import is_keyframe_start, pack_header, rtp_header

KeyframeAsk = Callable[[int], None]


class KeyframeGate:
    """When to ask a publisher for a keyframe: at most one ask per interval, none lost.

    A want inside the interval is deferred, not dropped: exactly one ask goes
    out when the interval ends, however many wants came meanwhile (a burst of
    viewers joining is two keyframes, not a storm that would make the encoder
    send nothing else). A keyframe arriving before then makes that deferred ask
    moot: it answers every want made before it. Pure logic on the caller's
    clock; `SourceTrack` schedules the deferred ask.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.last = -math.inf  # when the last ask went out
        self.pending = False  # an ask is scheduled for the interval's end

    def want(self, now: float) -> float | None:
        """Someone needs a keyframe: ask in this many seconds (0: now), or None if
        an ask is already scheduled."""
        if self.pending:
            return None
        wait = self.last + self.interval - now
        if wait <= 0:
            return 0.0
        self.pending = True
        return wait

    def asked(self, now: float) -> None:
        self.last = now
        self.pending = False

    def keyframe(self) -> bool:
        """A keyframe arrived. True if it makes a scheduled ask moot."""
        moot, self.pending = self.pending, False
        return moot


class SourceTrack:
    """One publisher track: audio, camera or screen."""

    def __init__(
        self,
        kind: str,
        label: str,
        mimes: dict[int, str],
        ask_keyframe: KeyframeAsk,
        *,
        cache_size: int = 512,
        min_interval: float = 0.3,
    ) -> None:
        self.kind = kind
        self.label = label
        self.clock = 48000 if kind == "audio" else 90000
        self.mimes = mimes  # publisher payload type -> mime, forwardable codecs only
        self._ask = ask_keyframe
        self._mask = cache_size - 1 if cache_size & (cache_size - 1) == 0 else 511
        self.cache: list[Any] = [None] * (self._mask + 1)
        self.active: list[OutStream] = []
        self.waiting: list[OutStream] = []
        self.ssrc: int | None = None
        self.packets = 0
        self.last_packet_at = 0.0
        self._kf_gate = KeyframeGate(min_interval)
        self._kf_timer: asyncio.TimerHandle | None = None
        self.closed = False

    # -- packets in ---------------------------------------------------------
    def on_packet(self, packet: ai.RtpPacket) -> None:
        mime = self.mimes.get(packet.payload_type)
        if mime is None or self.closed:
            return
        self.ssrc = packet.ssrc
        self.packets += 1
        self.last_packet_at = time.monotonic()
        seq = packet.sequence_number
        self.cache[seq & self._mask] = packet
        payload = packet.payload
        if (self.waiting or self._kf_timer is not None) and is_keyframe_start(mime, payload):
            for out in self.waiting:
                if out.begin(packet, mime):
                    self.active.append(out)
            self.waiting = [o for o in self.waiting if o.source is self and o not in self.active]
            if self._kf_timer is not None and self._kf_gate.keyframe():
                self._kf_timer.cancel()
                self._kf_timer = None
        # The hot loop: everything per packet is computed once, above.
        ts = packet.timestamp
        b1 = 0x80 if packet.marker else 0
        for out in self.active:
            out.send(seq, ts, b1, payload, mime)

    def cached(self, seq: int) -> ai.RtpPacket | None:
        packet = self.cache[seq & self._mask]
        if packet is not None and packet.sequence_number == seq:
            return packet  # type: ignore[no-any-return]
        return None

    # -- subscribers --------------------------------------------------------
    def subscribe(self, out: OutStream) -> None:
        if out not in self.waiting and out not in self.active:
            self.waiting.append(out)
        if self.kind == "video":
            self.request_keyframe()

    def unsubscribe(self, out: OutStream) -> None:
        if out in self.active:
            self.active.remove(out)
        if out in self.waiting:
            self.waiting.remove(out)

    # -- keyframes ----------------------------------------------------------
    def request_keyframe(self) -> None:
        """Someone needs a keyframe: ask now, or once at the end of the interval."""
        if self.kind != "video" or self.closed:
            return
        delay = self._kf_gate.want(time.monotonic())
        if delay == 0:
            self._fire_keyframe()
        elif delay is not None:
            self._kf_timer = asyncio.get_running_loop().call_later(delay, self._fire_keyframe)

    def _fire_keyframe(self) -> None:
        self._kf_timer = None
        if self.closed or self.ssrc is None:
            # No packet yet: nothing to ask; the first keyframe is on its way.
            self._kf_gate.pending = False
            return
        self._kf_gate.asked(time.monotonic())
        self._ask(self.ssrc)

    def close(self) -> None:
        self.closed = True
        if self._kf_timer is not None:
            self._kf_timer.cancel()
            self._kf_timer = None
        for out in self.active + self.waiting:
            out.source = None
        self.active.clear()
        self.waiting.clear()
        self.cache = [None] * (self._mask + 1)


class OutStream:
    """One viewer slot (one SSRC towards one viewer).

    Continuity is kept in the source's numbering (`hi_seq`/`hi_ts`, the newest
    source packet sent) plus this viewer's offsets, so the per-packet path is
    two additions, one header pack and the write.
    """

    def __init__(self, kind: str, label: str, position: int) -> None:
        self.kind = kind
        self.label = label  # "audio" | "camera" | "screen"
        self.position = position  # publisher position on the stage; -1 = whoever is on air
        self.clock = 48000 if kind == "audio" else 90000
        self.ssrc = 0
        self.pts: dict[str, int] = {}  # mime -> viewer payload type
        self.write: ai.Writer | None = None
        self.source: SourceTrack | None = None
        self.seq_off = 0
        self.ts_off = 0
        self.started = False
        self.hi_seq = 0
        self.hi_ts = 0
        self.ended_at = 0.0  # when the previous source last sent, for the gap on a switch
        self.packets = 0
        self.octets = 0
        self.retransmits = 0

    @property
    def last_seq(self) -> int | None:
        return (self.hi_seq + self.seq_off) & 0xFFFF if self.started else None

    @property
    def last_ts(self) -> int:
        return (self.hi_ts + self.ts_off) & 0xFFFFFFFF

    def set_source(self, source: SourceTrack | None) -> None:
        if source is self.source:
            return
        old = self.source
        if old is not None:
            old.unsubscribe(self)
            if self.started:
                self.ended_at = old.last_packet_at
        self.source = source
        if source is not None:
            source.subscribe(self)

    def begin(self, packet: ai.RtpPacket, mime: str) -> bool:
        """Start (or switch to) a source at this packet; keep the viewer's numbering continuous."""
        if self.write is None or mime not in self.pts:
            return False
        if not self.started:
            self.seq_off = (random.getrandbits(16) - packet.sequence_number) & 0xFFFF
            self.ts_off = (random.getrandbits(32) - packet.timestamp) & 0xFFFFFFFF
        else:
            gap = max(1, int((time.monotonic() - self.ended_at) * self.clock))
            last_seq, last_ts = (self.hi_seq + self.seq_off), (self.hi_ts + self.ts_off)
            self.seq_off = (last_seq + 1 - packet.sequence_number) & 0xFFFF
            self.ts_off = (last_ts + gap - packet.timestamp) & 0xFFFFFFFF
        # One before this packet, so that it counts as newer.
        self.hi_seq = (packet.sequence_number - 1) & 0xFFFF
        self.hi_ts = packet.timestamp
        self.started = True
        return True

    def send(self, seq: int, ts: int, b1: int, payload: bytes, mime: str) -> None:
        pt = self.pts.get(mime)
        if pt is None:
            return  # this viewer did not negotiate the codec
        self.write(  # type: ignore[misc]  # set before the out is ever active
            pack_header(
                0x80,
                b1 | pt,
                (seq + self.seq_off) & 0xFFFF,
                (ts + self.ts_off) & 0xFFFFFFFF,
                self.ssrc,
            )
            + payload
        )
        # Out-of-order arrivals must not move the continuity point backwards.
        if ((seq - self.hi_seq) & 0xFFFF) < 0x8000:
            self.hi_seq = seq
            self.hi_ts = ts
        self.packets += 1
        self.octets += len(payload)

    def on_nack(self, out_seqs: list[int]) -> None:
        """Resend lost packets from the source's cache (same SSRC, no RTX)."""
        source = self.source
        if source is None or self.write is None or self not in source.active:
            return
        for out_seq in out_seqs:
            packet = source.cached((out_seq - self.seq_off) & 0xFFFF)
            mime = source.mimes.get(packet.payload_type) if packet is not None else None
            pt = self.pts.get(mime) if mime is not None else None
            if packet is None or pt is None:
                continue
            ts = (packet.timestamp + self.ts_off) & 0xFFFFFFFF
            self.write(rtp_header(packet.marker, pt, out_seq, ts, self.ssrc) + packet.payload)
            self.retransmits += 1

    def on_pli(self) -> None:
        if self.source is not None:
            self.source.request_keyframe()

    def sender_report(self) -> bytes | None:
        if not self.started or self.source is None:
            return None
        elapsed = max(0.0, time.monotonic() - self.source.last_packet_at)
        rtp_ts = self.last_ts + int(elapsed * self.clock)
        return ai.sender_report(self.ssrc, rtp_ts, self.packets, self.octets)

    def close(self) -> None:
        self.set_source(None)
        self.write = None
