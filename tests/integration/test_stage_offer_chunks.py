"""A large offer that arrives in several TCP segments is read whole.

The watch page's 18-section offer is 20-65 KB; the server once parsed only the
bytes that had arrived and refused a quarter of page loads (slots_mismatch).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiortc import RTCPeerConnection

from tests.support import Halqa


async def test_a_stage_offer_sent_in_slow_chunks_is_accepted(live_app: Halqa) -> None:
    token = await live_app.register()
    pc = RTCPeerConnection()
    try:
        for _ in range(6):  # positions × (audio, camera, screen)
            for kind in ("audio", "video", "video"):
                pc.addTransceiver(kind, direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp.encode()
        assert sdp.count(b"\nm=") == 18

        async def trickle() -> AsyncIterator[bytes]:
            for i in range(0, len(sdp), 1000):
                yield sdp[i:i + 1000]
                await asyncio.sleep(0.01)

        async with live_app.http.post(
            f"{live_app.url}/whep/panel-climate?layout=stage", data=trickle(),
            headers={"Content-Type": "application/sdp", **live_app.auth(token)},
        ) as r:
            body = await r.text()
            assert r.status == 201, body
            location = r.headers["Location"]
        async with live_app.http.delete(live_app.url + location,
                                        headers=live_app.auth(token)) as r:
            assert r.status in (200, 204)
    finally:
        await pc.close()
