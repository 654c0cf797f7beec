"""Typed application keys for the live stage's state (no module globals)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from signaling.settings import MediaSettings

if TYPE_CHECKING:
    from server.roles import Principal
    from signaling.registry import StageRegistry

TokenResolver = Callable[[web.Application, str], Awaitable["Principal | None"]]

REGISTRY: web.AppKey[StageRegistry] = web.AppKey("signaling.registry")
MEDIA: web.AppKey[MediaSettings] = web.AppKey("signaling.media", MediaSettings)
# Overridable so the engine can be tested before/without the full app.
RESOLVE_TOKEN: web.AppKey[TokenResolver] = web.AppKey("signaling.resolve_token")
