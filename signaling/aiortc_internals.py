"""Every use of aiortc/aioice internals lives here, pinned to one version.

Why reach in at all: aiortc decodes every incoming track and re-encodes for
every outgoing one. An SFU must forward RTP instead, so we
  * tap each publisher receiver where it would hand packets to its jitter
    buffer (after SRTP, RTX unwrapping and NACK generation, before decoding),
  * stop each viewer sender from running its own encode loop, and
  * write rewritten RTP straight into the viewer's SRTP session and the
    nominated ICE pair's UDP socket (half the cost of `_send_rtp`'s await chain).
tests/unit/test_signaling_internals.py fails loudly when aiortc changes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiortc
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc import sdp as aiortc_sdp
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtp import RtcpPacket, RtcpSenderInfo, RtcpSrPacket, RtpPacket

from signaling.errors import BadRequest

PINNED_AIORTC = "1.16.0"
_log = logging.getLogger("halqa.stage")
_JITTER_ATTR = "_RTCRtpReceiver__jitter_buffer"
_NTP_EPOCH = 2208988800


class AiortcMismatch(RuntimeError):
    """The installed aiortc is not the one this module was written against."""


def check_compatible() -> None:
    """Raise AiortcMismatch unless every internal we touch is where we expect."""
    if aiortc.__version__ != PINNED_AIORTC:
        raise AiortcMismatch(f"aiortc {aiortc.__version__} installed, {PINNED_AIORTC} pinned")
    needed: list[tuple[Any, str]] = [
        (RTCRtpReceiver, "_handle_rtp_packet"),
        (RTCRtpReceiver, "_send_rtcp_pli"),
        (RTCRtpSender, "_handle_rtcp_packet"),
        (RTCDtlsTransport, "_register_rtp_sender"),
        (RTCDtlsTransport, "_unregister_rtp_sender"),
        (RTCDtlsTransport, "_send_rtp"),
    ]
    from aiortc.rtcdtlstransport import RtpRouter

    for module, name in ((aiortc_sdp.SessionDescription, "parse"),
                         (aiortc_sdp, "candidate_from_sdp")):
        if not callable(getattr(module, name, None)):
            raise AiortcMismatch(f"aiortc.sdp.{name} is gone")
    for name in ("route_rtp", "mid_table", "ssrc_table"):
        if not hasattr(RtpRouter(), name):
            raise AiortcMismatch(f"RtpRouter.{name} is gone")
    for owner, name in needed:
        if not hasattr(owner, name):
            raise AiortcMismatch(f"{owner.__name__}.{name} is gone")


def parse_sdp(text: str) -> Any:
    """aiortc's parse of a session description (media sections, codecs, ICE, DTLS).

    Raises whatever aiortc raises on garbage; the caller words the refusal.
    """
    return aiortc_sdp.SessionDescription.parse(text)


async def add_trickle_candidate(pc: RTCPeerConnection, line: str) -> None:
    """Add one `a=candidate:` line from a trickle-ICE fragment (RFC 8840).

    Everything is BUNDLEd on the first transport, so the candidate belongs to
    the first media section whatever the fragment said.
    """
    try:
        candidate = aiortc_sdp.candidate_from_sdp(line.removeprefix("a=candidate:"))
    except Exception:  # aiortc raises IndexError/ValueError on garbage
        raise BadRequest("candidate_malformed", "a candidate line cannot be parsed") from None
    transceivers = pc.getTransceivers()
    candidate.sdpMid = transceivers[0].mid if transceivers else "0"
    candidate.sdpMLineIndex = 0
    await pc.addIceCandidate(candidate)


class _Tap:
    """Stands in for a receiver's jitter buffer: hands packets on, never a frame.

    Returning no frame means the receiver's decoder thread stays idle, so the
    server never decodes a publisher's media.
    """

    __slots__ = ("on_packet",)

    def __init__(self, on_packet: Callable[[RtpPacket], None]) -> None:
        self.on_packet = on_packet

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        try:
            self.on_packet(packet)
        except Exception:
            # Anything raised here would end the publisher's DTLS transport
            # (aiortc closes it on any exception): one bad viewer must never
            # take the speaker off the air.
            _log.exception("forwarding a packet failed")
        return False, None


def tap_receiver(receiver: RTCRtpReceiver, on_packet: Callable[[RtpPacket], None]) -> None:
    if not hasattr(receiver, _JITTER_ATTR):
        raise AiortcMismatch("RTCRtpReceiver has no jitter buffer attribute")
    setattr(receiver, _JITTER_ATTR, _Tap(on_packet))


def slim_receiver(receiver: RTCRtpReceiver) -> None:
    """Drop the receive machinery of a section we only ever send on.

    A viewer's peer connection has a receiver per section (18 for the watch
    page) that never sees a packet; each video one holds a bitrate estimator
    of ~95 KB (aiortc's RateCounter) and a 512-slot jitter buffer. Without
    this a browser viewer costs ~2 MiB of server memory instead of ~0.3.
    """
    for name in ("__remote_bitrate_estimator", "__nack_generator"):
        attr = "_RTCRtpReceiver" + name
        if not hasattr(receiver, attr):
            raise AiortcMismatch(f"RTCRtpReceiver has no {name}")
        setattr(receiver, attr, None)
    setattr(receiver, _JITTER_ATTR, _Tap(_ignore))


def _ignore(packet: RtpPacket) -> None:
    return None


def enable_mid_routing(dtls: RTCDtlsTransport) -> None:
    """Route incoming RTP by the MID header extension before SSRC/payload type.

    aiortc routes by the SSRCs listed in the remote SDP, else by a payload type
    unique to one m-line. A browser's second video section (the screen slot,
    created without a track) is announced without SSRC and shares every payload
    type with the camera, so aiortc drops its packets. Browsers send MID until
    the SSRC is acknowledged; we learn SSRC -> receiver from it.
    """
    router = dtls._rtp_router
    if getattr(router, "_halqa_mid_routing", False):
        return
    original = router.route_rtp

    def route(packet: RtpPacket) -> Any:
        mid = packet.extensions.mid
        if mid is not None:
            receiver = router.mid_table.get(mid)
            if receiver is not None:
                router.ssrc_table[packet.ssrc] = receiver
                return receiver
        return original(packet)

    router.route_rtp = route  # type: ignore[method-assign]
    router._halqa_mid_routing = True  # type: ignore[attr-defined]


def grow_receive_buffers(dtls: RTCDtlsTransport, size: int) -> None:
    """Give a publisher's UDP sockets a large receive buffer.

    While the loop fans one packet out to hundreds of viewers, the publisher's
    next packets (a keyframe is dozens of them at once) queue in the kernel;
    with the default ~200 KB a busy or briefly descheduled server drops them,
    and then every viewer loses them. The kernel caps this at rmem_max.
    """
    import contextlib
    import socket

    for protocol in dtls.transport._connection._protocols:
        transport = getattr(protocol, "transport", None)
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):  # capped or refused: keep the default
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


async def send_pli(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Ask the publisher for a keyframe (RTCP PLI on the receiver's transport)."""
    await receiver._send_rtcp_pli(media_ssrc)


def detach_sender(
    sender: RTCRtpSender,
    on_started: Callable[[RTCRtpSendParameters], None],
    on_rtcp: Callable[[Any], Awaitable[None]],
) -> None:
    """Make a sender a pure SSRC slot: registered for RTCP routing, no tasks.

    aiortc would start an RTP loop (track.recv + encode) and an RTCP loop per
    sender; with 18 slots per browser viewer that is 36 tasks per viewer. We
    send RTP and SR ourselves, so neither runs. `stop()` stays a no-op because
    the sender never counts as started.
    """

    async def send(parameters: RTCRtpSendParameters) -> None:
        sender.transport._register_rtp_sender(sender, parameters)
        on_started(parameters)

    sender.send = send  # type: ignore[method-assign]
    sender._handle_rtcp_packet = on_rtcp  # type: ignore[method-assign,assignment]


def sender_ssrc(sender: RTCRtpSender) -> int:
    return int(sender._ssrc)


Writer = Callable[[bytes], None]


def _fast_protect(session: Any) -> Callable[[bytes], bytes]:
    """pylibsrtp's protect() without its per-call allocation (same libsrtp call).

    Falls back to session.protect when pylibsrtp's layout is not the one we know.
    """
    try:
        from pylibsrtp._binding import ffi, lib

        srtp = session._srtp[0]
        cdata = session._cdata
        buffer = session._buffer
    except (ImportError, AttributeError):
        return session.protect  # type: ignore[no-any-return]
    limit = len(cdata) - 16 - 128  # pylibsrtp's SRTP_MAX_TRAILER_LEN
    length = ffi.new("int *")
    slow = session.protect

    def protect(data: bytes) -> bytes:
        n = len(data)
        if n > limit:
            return slow(data)  # type: ignore[no-any-return]
        buffer[0:n] = data
        length[0] = n
        if lib.srtp_protect(srtp, cdata, length) != 0:
            return slow(data)  # type: ignore[no-any-return]  # raises with libsrtp's reason
        return buffer[0 : length[0]]  # type: ignore[no-any-return]

    return protect


def _pair(dtls: RTCDtlsTransport) -> tuple[Any, tuple[str, int]] | None:
    connection = dtls.transport._connection
    pair = connection._nominated.get(1)
    if pair is None or dtls._tx_srtp is None or pair.protocol.transport is None:
        return None
    return pair.protocol.transport, pair.remote_addr


def rtp_writer(dtls: RTCDtlsTransport, on_drop: Callable[[], None]) -> Writer | None:
    """A synchronous `bytes -> None` that SRTP-protects and sends one RTP packet.

    None until ICE has nominated a pair and DTLS has keyed SRTP. Writes go to
    the UDP socket itself, not through asyncio's transport: a full socket
    buffer drops the packet (as the network would) instead of queueing it.
    """
    found = _pair(dtls)
    if found is None:
        return None
    udp, addr = found
    protect = _fast_protect(dtls._tx_srtp)
    sock = getattr(udp, "_sock", None)
    send = udp.sendto if sock is None else sock.sendto

    def write(data: bytes) -> None:
        try:
            send(protect(data), addr)
        except OSError:  # BlockingIOError (buffer full) or the socket is closing
            on_drop()

    return write


def rtcp_writer(dtls: RTCDtlsTransport) -> Writer | None:
    found = _pair(dtls)
    if found is None:
        return None
    udp, addr = found
    protect = dtls._tx_srtp.protect_rtcp

    def write(data: bytes) -> None:
        udp.sendto(protect(data), addr)

    return write


def sender_report(ssrc: int, rtp_ts: int, packets: int, octets: int) -> bytes:
    """An RTCP SR so the viewer can line audio up with video (lip sync)."""
    ntp = int((time.time() + _NTP_EPOCH) * (1 << 32)) & 0xFFFFFFFFFFFFFFFF
    info = RtcpSenderInfo(
        ntp_timestamp=ntp,
        rtp_timestamp=rtp_ts & 0xFFFFFFFF,
        packet_count=packets & 0xFFFFFFFF,
        octet_count=octets & 0xFFFFFFFF,
    )
    return bytes(RtcpSrPacket(ssrc=ssrc, sender_info=info))


def rtcp_kind(packet: Any) -> tuple[str, list[int]]:
    """Classify an RTCP packet a viewer sent: ('nack', seqs), ('pli', []), ('other', [])."""
    from aiortc.rtp import (
        RTCP_PSFB_FIR,
        RTCP_PSFB_PLI,
        RTCP_RTPFB_NACK,
        RtcpPsfbPacket,
        RtcpRtpfbPacket,
    )

    if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
        return "nack", list(packet.lost)
    if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
        return "pli", []
    return "other", []


__all__ = [
    "PINNED_AIORTC",
    "AiortcMismatch",
    "RtcpPacket",
    "RtpPacket",
    "Writer",
    "add_trickle_candidate",
    "check_compatible",
    "detach_sender",
    "enable_mid_routing",
    "grow_receive_buffers",
    "parse_sdp",
    "rtcp_kind",
    "rtcp_writer",
    "rtp_writer",
    "send_pli",
    "sender_report",
    "sender_ssrc",
    "slim_receiver",
    "tap_receiver",
]
