"""A stage server for the live-stage benchmarks, run as its own (pinned) process.

    python -m bench.stage_server --mode forward|reencode --port P

forward:  halqa's signaling package (RTP forwarding), WHIP/WHEP as in production.
reencode: the baseline every aiortc tutorial builds: MediaRelay, one encoder
          per viewer. Same endpoints, so the same clients drive both.
Any Bearer token is accepted (the benchmark measures media, not auth).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
from typing import Any

from aiohttp import web
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay

import signaling
from signaling.cluster import ClusterConfig
from signaling.host import EVERY_SESSION, Caller, Host
from signaling.settings import MediaSettings

_ids = itertools.count(1)


async def any_token(token: str) -> Caller:
    if token.startswith("pub"):
        every = frozenset({EVERY_SESSION})
        return Caller("organizer", "Bench publisher", "organizer", publish_to=every,
                      moderate=every, unlimited_viewers=True)
    return Caller(f"p{next(_ids)}", "Bench viewer", "participant")


def forward_app(cluster: ClusterConfig | None = None) -> web.Application:
    app = web.Application(client_max_size=1 << 20)
    media = MediaSettings(
        max_viewers=5000,
        max_viewers_total=5000,
        offers_per_10s=100000,
        max_viewers_per_caller=100000,
        max_viewers_per_address=100000,  # every bench viewer comes from 127.0.0.1
        connect_timeout_s=120,
    )
    signaling.setup(app, Host(media, any_token, cluster=cluster))

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(signaling.counts(request.app))

    app.router.add_get("/bench/stats", stats)
    return app


def reencode_app() -> web.Application:
    relay = MediaRelay()
    tracks: dict[str, MediaStreamTrack] = {}
    pcs: set[RTCPeerConnection] = set()

    async def answer(pc: RTCPeerConnection, request: web.Request) -> web.Response:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=await request.text(), type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return web.Response(
            status=201,
            text=pc.localDescription.sdp,
            content_type="application/sdp",
            headers={"Location": f"/x/{id(pc)}"},
        )

    async def whip(request: web.Request) -> web.Response:
        pc = RTCPeerConnection()
        pcs.add(pc)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            tracks[track.kind] = track

        return await answer(pc, request)

    async def whep(request: web.Request) -> web.Response:
        pc = RTCPeerConnection()
        pcs.add(pc)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=await request.text(), type="offer"))
        for t in pc.getTransceivers():
            if t.kind in tracks:
                t.sender.replaceTrack(relay.subscribe(tracks[t.kind]))
                t.direction = "sendonly"
        await pc.setLocalDescription(await pc.createAnswer())
        return web.Response(
            status=201,
            text=pc.localDescription.sdp,
            content_type="application/sdp",
            headers={"Location": f"/x/{id(pc)}"},
        )

    async def close(app: web.Application) -> None:
        await asyncio.gather(*(pc.close() for pc in pcs))

    app = web.Application(client_max_size=1 << 20)
    app.router.add_post("/whip/{session_id}", whip)
    app.router.add_post("/whep/{session_id}", whep)
    app.on_cleanup.append(close)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["forward", "reencode"], default="forward")
    parser.add_argument("--port", type=int, required=True)
    # A node of a cluster (bench.cluster): the shared Redis, this node's id, the secret.
    parser.add_argument("--redis")
    parser.add_argument("--node")
    parser.add_argument("--secret", default="bench-cluster-secret-0123456789")
    args = parser.parse_args()
    cluster = None
    if args.redis:
        cluster = ClusterConfig(args.node or f"n{args.port}", f"http://127.0.0.1:{args.port}",
                                args.secret.encode(), directory_url=args.redis)
    import logging

    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s %(message)s')
    logging.getLogger('aioice').setLevel(logging.INFO)
    app: Any = forward_app(cluster) if args.mode == "forward" else reencode_app()
    print(f"READY {args.port}", flush=True)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, handle_signals=True)


if __name__ == "__main__":
    main()
