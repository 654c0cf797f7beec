"""Liveness, readiness and metrics."""

from __future__ import annotations

import asyncio

from aiohttp import web

from server.keys import DB, METRICS, SHARED


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    checks: dict[str, str] = {}
    probes = (("database", request.app[DB].ping), ("shared_state", request.app[SHARED].ping))
    for name, probe in probes:
        try:
            await asyncio.wait_for(probe(), timeout=2)
            checks[name] = "ok"
        except Exception as exc:  # any failure means not ready; say which
            checks[name] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return web.json_response(
        {"status": "ready" if ok else "not_ready", "checks": checks}, status=200 if ok else 503
    )


async def metrics(request: web.Request) -> web.Response:
    return request.app[METRICS].render()
