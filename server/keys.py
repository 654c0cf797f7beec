"""Typed keys for the state kept on the aiohttp application (no globals)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import socketio
from aiohttp import web

if TYPE_CHECKING:
    from server.config import Settings
    from server.db import Database
    from server.grants import Grants
    from server.hls import Signer, Store
    from server.metrics import Metrics
    from server.public_cache import ProgramCache
    from server.shared import SharedState

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
DB: web.AppKey[Database] = web.AppKey("db")
GRANTS: web.AppKey[Grants] = web.AppKey("grants")
SIO: web.AppKey[socketio.AsyncServer] = web.AppKey("sio")
SHARED: web.AppKey[SharedState] = web.AppKey("shared_state")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
PROGRAM_CACHE: web.AppKey[ProgramCache] = web.AppKey("program_cache")
HLS_SIGNER: web.AppKey[Signer] = web.AppKey("hls_signer")
HLS_STORE: web.AppKey[Store] = web.AppKey("hls_store")
