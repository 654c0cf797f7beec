"""WebRTC for halqa: WHIP/WHEP, stages, and the forwarding relay."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Attach WHIP/WHEP routes, the stage registry and Socket.IO stage events.

    Filled in by the live-stage work (issue 3); the app factory calls it already.
    """


def live_sessions(app: web.Application) -> set[str]:
    """Ids of the sessions whose stage has at least one publisher live."""
    return set()
