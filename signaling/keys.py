"""Typed application keys for the live stage's state (no module globals)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from signaling.host import Host

if TYPE_CHECKING:
    from signaling.registry import StageRegistry

REGISTRY: web.AppKey[StageRegistry] = web.AppKey("signaling.registry")
HOST: web.AppKey[Host] = web.AppKey("signaling.host", Host)
