"""Offer checks that run before any peer connection exists."""

from __future__ import annotations

import pytest
from aiortc import RTCPeerConnection

from signaling.errors import BadRequest
from signaling.sdp import parse_offer, strip_mdns


async def offer(kinds: list[str], direction: str) -> str:
    pc = RTCPeerConnection()
    for kind in kinds:
        pc.addTransceiver(kind, direction=direction)
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


async def test_good_publisher_offer() -> None:
    lines = parse_offer(await offer(["audio", "video"], "sendonly"), want="send")
    assert [ln.kind for ln in lines] == ["audio", "video"]
    assert "video/vp8" in lines[1].mimes.values()


@pytest.mark.parametrize(
    ("text", "code"),
    [("", "sdp_missing"), ("hello", "sdp_malformed"), ("v=0\r\nm=nonsense\r\n", "sdp_malformed")],
)
def test_garbage(text: str, code: str) -> None:
    with pytest.raises(BadRequest) as err:
        parse_offer(text, want="send")
    assert err.value.code == code


async def test_no_usable_codec() -> None:
    sdp = await offer(["video"], "sendonly")
    # Keep only H.264 packetization-mode=0 ... simplest: rename every codec to VP9.
    sdp = sdp.replace("VP8/90000", "VP9/90000").replace("H264/90000", "AV1/90000")
    with pytest.raises(BadRequest) as err:
        parse_offer(sdp, want="send")
    assert err.value.code == "no_usable_codec"


async def test_direction_must_match_role() -> None:
    with pytest.raises(BadRequest) as err:
        parse_offer(await offer(["video"], "recvonly"), want="send")
    assert err.value.code == "sdp_direction"


def test_strip_mdns() -> None:
    text = (
        "v=0\r\na=candidate:1 1 udp 1 abc.local 5000 typ host\r\n"
        "a=candidate:2 1 udp 1 10.0.0.1 5000 typ host\r\n"
    )
    out = strip_mdns(text)
    assert ".local" not in out and "10.0.0.1" in out
