"""WebRTC for halqa: WHIP/WHEP, stages, and the forwarding relay.

A leaf: it imports nothing from server/. The app hands it a `Host` (settings,
a token resolver, its Socket.IO server; see signaling/host.py):

    signaling.setup(app, Host(media, resolve_token, sio))

attaches the routes, the stage registry (started and stopped in
`app.cleanup_ctx`) and, when `sio` is given, the `stage:*` events.
`live_sessions(app)` names the sessions with a speaker live.

Importing this package is cheap: aiortc loads with `setup`, so the CLI and
`server.config` never pay for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from signaling.host import EVERY_SESSION, Caller, Host, Sockets, TokenResolver
from signaling.keys import HOST, REGISTRY
from signaling.settings import MediaSettings

__all__ = [
    "EVERY_SESSION",
    "Caller",
    "Host",
    "MediaSettings",
    "Sockets",
    "TokenResolver",
    "close_owner",
    "cluster_view",
    "counts",
    "listening",
    "live_sessions",
    "setup",
]


def setup(app: web.Application, host: Host) -> None:
    """Attach WHIP/WHEP routes, the stage registry and Socket.IO stage events."""
    from signaling import aiortc_internals, relay
    from signaling.whip import add_routes

    # Refuse to start on an aiortc whose internals moved (see aiortc_internals).
    aiortc_internals.check_compatible()
    app[HOST] = host
    add_routes(app)
    relay.add_routes(app)
    # Innermost: the app's own middlewares (errors, rate limits) run first.
    app.middlewares.append(relay.relay)
    app.cleanup_ctx.append(_stages)
    app.on_shutdown.append(_drain)


async def _stages(app: web.Application) -> AsyncIterator[None]:
    from signaling.registry import StageRegistry

    host = app[HOST]
    registry = StageRegistry(host.media, host.admit)
    app[REGISTRY] = registry
    if host.sio is not None:
        from signaling.sio_events import register

        register(registry, host.sio)
    from signaling.cluster import ClusterConfig
    from signaling.directory import open_directory
    from signaling.interpretation_relay import interpretation_elsewhere
    from signaling.node import Node
    from signaling.relay import NODE_KEY, on_air_elsewhere, snapshot

    cluster = host.cluster or ClusterConfig.single()
    directory = await open_directory(cluster.directory_url)
    node = Node(registry, cluster, directory)
    app[NODE_KEY] = node
    registry.lookup = lambda session: snapshot(node, session)
    registry.on_air_elsewhere = lambda session, pub: on_air_elsewhere(node, session, pub)
    registry.interpretation_elsewhere = lambda op, session, payload: interpretation_elsewhere(
        node, op, session, payload)
    registry.languages = host.languages
    registry.start()
    await node.start()
    from signaling import gcpause

    gcpause.count_pauses()  # for the answers' Server-Timing (whip.py)
    yield
    await node.close()
    await registry.close()
    await directory.close()


async def _drain(app: web.Application) -> None:
    """SIGTERM: hand this node's stages over before the process exits."""
    from signaling.relay import NODE_KEY

    node = app.get(NODE_KEY)
    if node is not None:
        await node.drain()


def counts(app: web.Application) -> dict[str, int]:
    """This process's stages, publishers, viewers, pulls, tasks and forwarding drops."""
    from signaling.relay import NODE_KEY

    registry = app.get(REGISTRY)
    node = app.get(NODE_KEY)
    out = registry.counts() if registry is not None else {}
    if node is not None:
        out.update(node.counts())
    return out


async def cluster_view(app: web.Application) -> dict[str, Any]:
    """This node's id and every live node's last beat (the dashboard's per-process table)."""
    from dataclasses import asdict

    from signaling.relay import NODE_KEY

    node = app.get(NODE_KEY)
    if node is None:
        return {"node": None, "nodes": []}
    try:
        nodes = await node.directory.nodes()
    except Exception:  # the directory is away: what we knew at the last beat
        nodes = list(node.nodes.values())
    if not any(n.id == node.id for n in nodes):
        nodes.append(node.info())
    return {"node": node.id, "nodes": [asdict(n) for n in nodes]}


def listening(app: web.Application) -> list[tuple[str, str, str, str]]:
    """(session, viewer id, owner key, language) of each viewer hearing a live
    interpretation channel in this process (server/interpretation.py counts them)."""
    registry = app.get(REGISTRY)
    if registry is None:
        return []
    from signaling.interpretation import listening as now_listening

    return now_listening(registry)


def close_owner(app: web.Application, owner: str, session_id: str | None = None) -> int:
    """Cut every media resource of one identity in this process (revocation, ban)."""
    registry = app.get(REGISTRY)
    return registry.close_owner(owner, session_id) if registry is not None else 0


def live_sessions(app: web.Application) -> set[str]:
    """Ids of the sessions whose stage has at least one publisher live."""
    registry = app.get(REGISTRY)
    return registry.live_sessions() if registry is not None else set()
