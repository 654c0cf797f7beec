"""WebRTC for halqa: WHIP/WHEP, stages, and the forwarding relay.

`setup(app)` attaches the routes, the stage registry (started and stopped in
`app.cleanup_ctx`) and, when the app has a Socket.IO server, the `stage:*`
events. `live_sessions(app)` names the sessions with a speaker live.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from signaling import aiortc_internals
from signaling.keys import REGISTRY, RESOLVE_TOKEN
from signaling.registry import StageRegistry
from signaling.settings import MediaSettings, media_settings

__all__ = ["MediaSettings", "live_sessions", "setup"]


def setup(app: web.Application) -> None:
    """Attach WHIP/WHEP routes, the stage registry and Socket.IO stage events."""
    # Refuse to start on an aiortc whose internals moved (see aiortc_internals).
    aiortc_internals.check_compatible()
    from signaling.whip import add_routes

    add_routes(app)
    app.cleanup_ctx.append(_stages)


async def _stages(app: web.Application) -> AsyncIterator[None]:
    registry = StageRegistry(media_settings(app))
    app[REGISTRY] = registry
    if RESOLVE_TOKEN not in app:
        from server.auth import resolve_token  # type: ignore[import-not-found,unused-ignore]

        app[RESOLVE_TOKEN] = resolve_token
    sio = _sio(app)
    if sio is not None:
        from signaling.sio_events import register

        register(app, sio)
    registry.start()
    yield
    await registry.close()


def _sio(app: web.Application) -> object | None:
    try:
        from server.keys import SIO  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    return app.get(SIO)


def counts(app: web.Application) -> dict[str, int]:
    """This process's stages, publishers, viewers, tasks and forwarding drops."""
    registry = app.get(REGISTRY)
    return registry.counts() if registry is not None else {}


def live_sessions(app: web.Application) -> set[str]:
    """Ids of the sessions whose stage has at least one publisher live."""
    registry = app.get(REGISTRY)
    return registry.live_sessions() if registry is not None else set()
