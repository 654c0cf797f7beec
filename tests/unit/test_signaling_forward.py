"""Rewriting, keyframe gating, coalescing and NACK resend, without a network."""

from __future__ import annotations

import asyncio
import struct

import pytest
from aiortc.rtp import RtpPacket

from signaling.forward import KeyframeGate, OutStream, SourceTrack
from signaling.rtp import h264_keyframe_start, rtp_header, vp8_keyframe_start

VP8_KEY = bytes([0x10, 0x00, 0x9D, 0x01, 0x2A])  # S=1 PID=0, P bit 0 -> keyframe
VP8_DELTA_START = bytes([0x10, 0x01])
VP8_CONT = bytes([0x00, 0x55])


def pkt(seq: int, ts: int, payload: bytes, pt: int = 96, marker: int = 0) -> RtpPacket:
    return RtpPacket(
        payload_type=pt, marker=marker, sequence_number=seq, timestamp=ts, ssrc=777, payload=payload
    )


def parse(data: bytes) -> tuple[int, int, int, int, int, bytes]:
    _b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", data[:12])
    return b1 >> 7, b1 & 0x7F, seq, ts, ssrc, data[12:]


def make_out(sent: list[bytes]) -> OutStream:
    out = OutStream("video", "camera", 0)
    out.ssrc = 4242
    out.pts = {"video/vp8": 100}
    out.write = sent.append
    return out


def test_codec_keyframe_detection() -> None:
    assert vp8_keyframe_start(VP8_KEY)
    assert not vp8_keyframe_start(VP8_DELTA_START)
    assert not vp8_keyframe_start(VP8_CONT)
    # extended descriptor with a 15-bit picture id
    assert vp8_keyframe_start(bytes([0x90, 0x80, 0x81, 0x02, 0x9C]))
    assert h264_keyframe_start(bytes([0x67, 0x42]))  # SPS
    assert h264_keyframe_start(
        bytes([0x18, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xCE])
    )  # STAP-A
    assert h264_keyframe_start(bytes([0x7C, 0x85]))  # FU-A start of IDR
    assert not h264_keyframe_start(bytes([0x7C, 0x05]))  # FU-A middle
    assert not h264_keyframe_start(bytes([0x41, 0x9A]))  # non-IDR slice
    assert len(rtp_header(True, 96, 1, 2, 3)) == 12


async def test_viewer_starts_at_keyframe_and_stays_continuous() -> None:
    asks: list[int] = []
    src = SourceTrack("video", "camera", {96: "video/vp8"}, asks.append)
    sent: list[bytes] = []
    out = make_out(sent)
    src.on_packet(pkt(10, 1000, VP8_DELTA_START))  # learn the SSRC
    out.set_source(src)
    assert asks == [777]  # a new viewer asks for a keyframe at once
    src.on_packet(pkt(11, 1000, VP8_CONT))
    assert sent == []  # held until a keyframe begins
    src.on_packet(pkt(12, 4000, VP8_KEY))
    src.on_packet(pkt(13, 4000, VP8_CONT, marker=1))
    a, b = (parse(x) for x in sent)
    assert a[1] == 100 and a[4] == 4242 and a[5] == VP8_KEY
    assert b[2] == (a[2] + 1) & 0xFFFF and b[3] == a[3] and b[0] == 1

    # The source changes (speaker reload): numbering continues, new stream starts at a keyframe.
    src2 = SourceTrack("video", "camera", {97: "video/vp8"}, asks.append)
    src2.on_packet(pkt(50000, 9, VP8_DELTA_START, pt=97))
    out.set_source(src2)
    src2.on_packet(pkt(50001, 3009, VP8_KEY, pt=97))
    c = parse(sent[-1])
    assert c[2] == (b[2] + 1) & 0xFFFF
    assert ((c[3] - b[3]) & 0xFFFFFFFF) < 90000 * 5
    assert c[1] == 100


def test_late_packets_never_move_the_continuity_point_back() -> None:
    # RFC 3550 order mod 2**16: 1 comes after 65535, a late 65534 does not.
    src = SourceTrack("video", "camera", {96: "video/vp8"}, lambda ssrc: None)
    sent: list[bytes] = []
    out = make_out(sent)
    src.on_packet(pkt(65533, 0, VP8_DELTA_START))
    out.set_source(src)
    for seq in (65534, 65535, 0, 1):
        src.on_packet(pkt(seq, 0, VP8_KEY if seq == 65534 else VP8_CONT))
    assert out.hi_seq == 1
    src.on_packet(pkt(65535, 0, VP8_CONT))  # a late retransmission
    assert out.hi_seq == 1 and len(sent) == 5
    seqs = [parse(x)[2] for x in sent]
    assert seqs[:4] == [(seqs[0] + i) & 0xFFFF for i in range(4)]
    src.close()


async def test_keyframe_requests_are_coalesced() -> None:
    asks: list[int] = []
    src = SourceTrack("video", "camera", {96: "video/vp8"}, asks.append, min_interval=0.1)
    src.on_packet(pkt(1, 0, VP8_DELTA_START))
    for _ in range(50):  # fifty viewers join or PLI at once
        src.request_keyframe()
    assert len(asks) == 1
    await asyncio.sleep(0.15)
    assert len(asks) == 2  # one trailing ask covers the rest of the burst
    src.close()


def test_keyframe_gate_defers_a_want_inside_the_interval_and_never_drops_it() -> None:
    gate = KeyframeGate(0.35)
    assert gate.want(10.0) == 0  # nothing asked lately: now
    gate.asked(10.0)
    # A new viewer 100 ms later: asked once, at the interval's end (the old
    # coalescer's promise too; what changed is that the end is past the
    # publisher's own 300 ms, see the next test).
    assert gate.want(10.1) == pytest.approx(0.25)
    assert gate.want(10.2) is None and gate.want(10.34) is None  # the same ask covers them
    gate.asked(10.35)
    assert gate.want(10.36) == pytest.approx(0.34)  # a want after that ask is not lost
    # A keyframe arrives first: it answers every want made before it.
    assert gate.keyframe()
    assert not gate.keyframe()  # nothing was scheduled any more
    assert gate.want(10.40) == pytest.approx(0.30)  # later wants wait for the interval again
    gate.asked(10.70)
    assert gate.want(11.1) == 0


def test_the_default_interval_outlasts_libwebrtc_own() -> None:
    """Browsers ignore a PLI within 300 ms of the last one they honoured; a
    deferred ask must reach them after that, or the viewer waits for a retry."""
    from signaling.settings import MediaSettings

    assert MediaSettings().keyframe_min_interval_ms > 300


async def test_a_keyframe_arriving_makes_the_deferred_ask_moot() -> None:
    asks: list[int] = []
    src = SourceTrack("video", "camera", {96: "video/vp8"}, asks.append, min_interval=0.1)
    src.on_packet(pkt(1, 0, VP8_DELTA_START))
    src.request_keyframe()
    src.request_keyframe()  # a second viewer: deferred
    src.on_packet(pkt(2, 3000, VP8_KEY))  # the first ask's keyframe serves both
    await asyncio.sleep(0.15)
    assert asks == [777]
    src.request_keyframe()  # past the interval: at once
    assert asks == [777, 777]
    src.close()


def test_nack_resends_from_cache() -> None:
    src = SourceTrack("video", "camera", {96: "video/vp8"}, lambda ssrc: None)
    sent: list[bytes] = []
    out = make_out(sent)
    src.on_packet(pkt(100, 0, VP8_DELTA_START))
    out.set_source(src)
    src.on_packet(pkt(101, 3000, VP8_KEY))
    src.on_packet(pkt(102, 3000, VP8_CONT))
    lost_seq = parse(sent[1])[2]
    out.on_nack([lost_seq, (lost_seq + 500) & 0xFFFF])  # second one is not cached
    assert len(sent) == 3 and sent[2] == sent[1]
    assert out.retransmits == 1


def test_viewer_without_the_codec_gets_nothing() -> None:
    src = SourceTrack("video", "camera", {102: "video/h264"}, lambda ssrc: None)
    sent: list[bytes] = []
    out = make_out(sent)  # negotiated VP8 only
    src.on_packet(pkt(1, 0, bytes([0x41])))
    out.set_source(src)
    src.on_packet(pkt(2, 0, bytes([0x67, 0x42]), pt=102))
    assert sent == []


def test_audio_starts_immediately_and_unsubscribe_stops() -> None:
    src = SourceTrack("audio", "audio", {111: "audio/opus"}, lambda ssrc: None)
    sent: list[bytes] = []
    out = OutStream("audio", "audio", 0)
    out.pts = {"audio/opus": 109}
    out.write = sent.append
    out.set_source(src)
    src.on_packet(pkt(1, 960, b"\x01", pt=111))
    assert len(sent) == 1 and parse(sent[0])[1] == 109
    out.close()
    src.on_packet(pkt(2, 1920, b"\x01", pt=111))
    assert len(sent) == 1 and not src.active and not src.waiting
