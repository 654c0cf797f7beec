"""Fails loudly when aiortc moves the internals signaling/ relies on."""

from __future__ import annotations

import aiortc
import pytest
from aiortc import RTCPeerConnection

from signaling import aiortc_internals as ai


def test_pinned_version_is_installed() -> None:
    assert aiortc.__version__ == ai.PINNED_AIORTC, (
        "aiortc changed: re-check signaling/aiortc_internals.py before bumping the pin"
    )
    ai.check_compatible()


async def test_receiver_has_a_jitter_buffer_to_tap() -> None:
    pc = RTCPeerConnection()
    try:
        t = pc.addTransceiver("video", direction="recvonly")
        seen: list[object] = []
        ai.tap_receiver(t.receiver, seen.append)
        buffer = t.receiver._RTCRtpReceiver__jitter_buffer
        assert buffer.add("pkt") == (False, None)
        assert seen == ["pkt"]
    finally:
        await pc.close()


async def test_sender_can_be_detached() -> None:
    pc = RTCPeerConnection()
    try:
        t = pc.addTransceiver("video", direction="sendonly")
        assert isinstance(ai.sender_ssrc(t.sender), int)

        async def on_rtcp(packet: object) -> None:
            return None

        ai.detach_sender(t.sender, lambda params: None, on_rtcp)
        assert t.sender._handle_rtcp_packet is on_rtcp
    finally:
        await pc.close()


def test_ice_and_srtp_attributes_exist() -> None:
    """rtp_writer reads these; a rename must fail here, not in production."""
    import aioice

    conn = aioice.Connection(ice_controlling=True)
    assert hasattr(conn, "_nominated")
    from aiortc.rtcdtlstransport import RTCDtlsTransport

    assert "_tx_srtp" in RTCDtlsTransport.__init__.__code__.co_names
    from aiortc.rtcicetransport import RTCIceTransport

    assert "_connection" in RTCIceTransport.__init__.__code__.co_names


def test_rtcp_classification() -> None:
    from aiortc.rtp import RTCP_PSFB_PLI, RTCP_RTPFB_NACK, RtcpPsfbPacket, RtcpRtpfbPacket

    nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=2)
    nack.lost = [5, 6]
    assert ai.rtcp_kind(nack) == ("nack", [5, 6])
    assert ai.rtcp_kind(RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=2)) == ("pli", [])
    assert ai.rtcp_kind(object()) == ("other", [])


def test_sender_report_is_valid_rtcp() -> None:
    data = ai.sender_report(1234, 90000, 10, 1000)
    (packet,) = ai.RtcpPacket.parse(data)
    assert packet.ssrc == 1234


@pytest.mark.parametrize("name", ["_handle_rtp_packet", "_send_rtcp_pli"])
def test_receiver_methods(name: str) -> None:
    assert callable(getattr(aiortc.RTCRtpReceiver, name))


def test_fast_protect_matches_pylibsrtp() -> None:
    from pylibsrtp import Policy, Session

    def session() -> Session:
        policy = Policy(key=bytes(range(30)), ssrc_type=Policy.SSRC_ANY_OUTBOUND)
        policy.allow_repeat_tx = True
        return Session(policy)

    slow, fast_session = session(), session()
    fast = ai._fast_protect(fast_session)
    assert fast is not fast_session.protect, "pylibsrtp layout changed: fast path disabled"
    from signaling.rtp import rtp_header

    for seq in (1, 2, 2, 3):  # 2 twice: a NACK retransmission must protect again
        packet = rtp_header(False, 96, seq, seq * 3000, 42) + bytes(range(200))
        assert fast(packet) == slow.protect(packet)
    big = rtp_header(False, 96, 4, 0, 42) + bytes(1400)
    import pytest as _pytest

    with _pytest.raises(ValueError):
        fast(big)  # too long for pylibsrtp's buffer: the slow path raises, no overflow


async def test_receive_buffers_can_grow() -> None:
    import socket

    pc = RTCPeerConnection()
    try:
        t = pc.addTransceiver("audio", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        dtls = t.receiver.transport
        ai.grow_receive_buffers(dtls, 1 << 20)
        protocols = dtls.transport._connection._protocols
        assert protocols, "aioice no longer keeps its protocols in _protocols"
        sock = protocols[0].transport.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= 1 << 20
    finally:
        await pc.close()


async def test_slim_receiver() -> None:
    pc = RTCPeerConnection()
    try:
        t = pc.addTransceiver("video", direction="sendonly")
        ai.slim_receiver(t.receiver)
        assert t.receiver._RTCRtpReceiver__remote_bitrate_estimator is None  # type: ignore[attr-defined]
    finally:
        await pc.close()
