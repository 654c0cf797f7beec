"""Codec-level facts about RTP payloads that forwarding needs, and nothing else.

Pure functions (no aiortc): where a keyframe starts, and how to build a
rewritten RTP header for one viewer.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

_HEADER = struct.Struct("!BBHII")
# (0x80, marker|pt, seq, ts, ssrc) -> 12-byte header; the fan-out loop calls it directly.
pack_header = _HEADER.pack

VP8 = "video/vp8"
H264 = "video/h264"
OPUS = "audio/opus"
FORWARDABLE = {VP8, H264, OPUS}


def codec_usable(mime: str, parameters: Mapping[str, object]) -> bool:
    """H.264 is forwarded in packetization-mode 1 only (what browsers and OBS send)."""
    return mime != H264 or str(parameters.get("packetization-mode", "0")) == "1"


def rtp_header(marker: bool | int, payload_type: int, seq: int, ts: int, ssrc: int) -> bytes:
    """A 12-byte RTP header: no padding, no extensions, no CSRC.

    Extensions are dropped on purpose: the viewer demuxes by the SSRC announced
    in its SDP, and rebuilding per-viewer extensions would cost more than the
    rest of the rewrite.
    """
    return _HEADER.pack(0x80, (0x80 if marker else 0) | payload_type, seq, ts, ssrc)


def vp8_keyframe_start(payload: bytes) -> bool:
    """True if this packet begins a VP8 keyframe (RFC 7741 section 4)."""
    if not payload:
        return False
    b0 = payload[0]
    # S bit set and partition index 0: first packet of a frame.
    if not (b0 & 0x10) or (b0 & 0x07):
        return False
    pos = 1
    if b0 & 0x80:  # X: extended control bits
        if len(payload) < 2:
            return False
        ext = payload[1]
        pos = 2
        if ext & 0x80:  # I: picture id, 7 or 15 bits
            if len(payload) <= pos:
                return False
            pos += 2 if payload[pos] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            pos += 1
        if ext & 0x30:  # T or K: TID/KEYIDX byte
            pos += 1
    if len(payload) <= pos:
        return False
    # VP8 payload header: P bit (inverse keyframe flag) is bit 0.
    return (payload[pos] & 0x01) == 0


_H264_KEY_NALS = {5, 7}  # IDR slice, SPS


def h264_keyframe_start(payload: bytes) -> bool:
    """True if this packet starts an H.264 IDR access unit (RFC 6184)."""
    if not payload:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type in _H264_KEY_NALS:
        return True
    if nal_type == 24:  # STAP-A: look at every aggregated NAL unit
        pos = 1
        while pos + 2 < len(payload):
            size = (payload[pos] << 8) | payload[pos + 1]
            if size == 0:
                return False
            if (payload[pos + 2] & 0x1F) in _H264_KEY_NALS:
                return True
            pos += 2 + size
        return False
    if nal_type == 28 and len(payload) > 1:  # FU-A: start fragment of an IDR
        return bool(payload[1] & 0x80) and (payload[1] & 0x1F) in _H264_KEY_NALS
    return False


def is_keyframe_start(mime: str, payload: bytes) -> bool:
    if mime == VP8:
        return vp8_keyframe_start(payload)
    if mime == H264:
        return h264_keyframe_start(payload)
    return True  # audio: every packet is a fine place to start

