"""The live stage inside the real app: real tokens, real Socket.IO, aiortc peers."""

from __future__ import annotations

import asyncio
from typing import Any

import socketio
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)

from tests.stage_helpers import Peer, bearer, wait_for, whep_play, whip_publish


async def sio_client(url: str, token: str, updates: list[dict[str, Any]]) -> socketio.AsyncClient:
    client = socketio.AsyncClient()
    client.on("stage:update", updates.append)
    await client.connect(url, auth={"token": token}, transports=["websocket"])
    return client


async def stage_layout_viewer(http: Any, base: str, session_id: str, token: str) -> Peer:
    """What the browser watch page does, with aiortc: 6 positions x (audio, camera, screen)."""
    # max-bundle: aiortc's default policy mis-bundles repeated sections (see signaling/peers.py).
    pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    for _ in range(6):
        for kind in ("audio", "video", "video"):
            pc.addTransceiver(kind, direction="recvonly")
    peer = Peer(pc, token=token)
    peer.frames = {}

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        mid = next(t.mid for t in pc.getTransceivers() if t.receiver.track is track)

        async def count() -> None:
            try:
                while True:
                    await track.recv()
                    peer.frames[mid] = peer.frames.get(mid, 0) + 1
            except Exception:
                return

        peer.tasks.append(asyncio.ensure_future(count()))

    await pc.setLocalDescription(await pc.createOffer())
    async with http.post(
        f"{base}/whep/{session_id}?layout=stage",
        data=pc.localDescription.sdp,
        headers={**bearer(token), "Content-Type": "application/sdp"},
    ) as r:
        assert r.status == 201, await r.text()
        answer = await r.text()
        peer.location = r.headers["Location"]
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return peer


async def test_real_tokens_panel_screen_program_and_updates(live_app: Any) -> None:
    halqa = live_app
    http = halqa.http
    ids = await halqa.session_ids()
    session_id, other = ids[0], ids[1]
    spk_a = await halqa.invite("speaker", session_id)
    spk_b = await halqa.invite("speaker", session_id)
    spk_other = await halqa.invite("speaker", other)
    moderator = await halqa.invite("moderator", session_id)
    viewer = await halqa.register(name="Nadia <script>")

    # Nobody without a valid token for that session gets any media.
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    offer = pc.localDescription.sdp
    await pc.close()
    sdp = {"Content-Type": "application/sdp"}
    for headers, code in (
        (sdp, 401),
        ({**sdp, **bearer("not-a-token")}, 401),
        ({**sdp, **bearer(spk_other)}, 403),
        ({**sdp, **bearer(viewer)}, 403),
    ):
        async with http.post(f"{halqa.url}/whip/{session_id}", data=offer, headers=headers) as r:
            assert r.status == code
            assert (await r.json())["error"]["code"] in ("unauthorized", "forbidden")
    async with http.post(f"{halqa.url}/whep/{session_id}", data=offer, headers=sdp) as r:
        assert r.status == 401

    updates: list[dict[str, Any]] = []
    watcher = await sio_client(halqa.url, viewer, updates)
    state = await watcher.call("stage:state", {"session": session_id})
    assert state["ok"] and state["stage"]["live"] is False

    a = await whip_publish(http, halqa.url, session_id, spk_a, screen=True)
    await wait_for(lambda: any(u["live"] for u in updates), what="stage:update live")
    async with http.get(f"{halqa.url}/api/program") as r:
        program = await r.json()
    live = {s["id"]: s.get("live") for s in program["sessions"]}
    if "live" in program["sessions"][0]:
        assert live[session_id] is True

    b = await whip_publish(http, halqa.url, session_id, spk_b)
    browser = await stage_layout_viewer(http, halqa.url, session_id, viewer)
    player = await whep_play(http, halqa.url, session_id, viewer)
    # mids: position 0 -> 0 audio, 1 camera, 2 screen; position 1 -> 3, 4, 5
    await wait_for(
        lambda: all(browser.frames.get(m, 0) > 5 for m in ("1", "2", "4")),
        timeout=20,
        what="panel cameras and A's screen on the stage-layout viewer",
    )
    await wait_for(lambda: player.frames["video"] > 5, what="WHEP program")
    snap = updates[-1]
    assert [p["position"] for p in snap["publishers"]] == [0, 1]
    assert snap["publishers"][0]["screen"] is True
    # Count-only changes are batched (at most every 1.5 s): wait for it.
    await wait_for(lambda: updates[-1]["viewers"] == 2, what="viewer count in stage:update")

    # Only a moderator puts someone on air.
    b_id = b.location.rsplit("/", 1)[1]
    refused = await watcher.call("stage:program", {"session": session_id, "publisher": b_id})
    assert refused["ok"] is False and refused["error"] == "forbidden"
    mod = await sio_client(halqa.url, moderator, [])
    done = await mod.call("stage:program", {"session": session_id, "publisher": b_id})
    assert done["ok"] and done["stage"]["program"] == b_id
    before = player.frames["video"]
    await wait_for(lambda: player.frames["video"] > before + 10, what="program switched to B")

    for peer in (browser, player, a, b):
        await peer.close(http, halqa.url)
    await wait_for(lambda: updates[-1]["live"] is False, what="stage:update not live")
    await watcher.disconnect()
    await mod.disconnect()
