"""The browser client: static pages and ES modules (found by server/assets.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog
from aiohttp import web

from server import assets, visitors
from server.api.common import CSP

log = structlog.get_logger("halqa")

# URL → page. A page that is not in client/ yet is simply not routed.
PAGES = {
    "/": "index.html",
    "/join": "join.html",
    "/session/{id}": "session.html",
    "/studio/{id}": "studio.html",
    "/moderate": "moderate.html",
    "/moderate/{id}": "moderate.html",
    "/admin": "admin.html",
    "/interpret/{id}": "interpret.html",
}


def _page(path: Path) -> Callable[[web.Request], Awaitable[web.FileResponse]]:
    async def handler(request: web.Request) -> web.FileResponse:
        await visitors.count_request(request)
        resp = web.FileResponse(path)
        resp.headers["Cache-Control"] = "no-cache"
        resp.headers["Content-Security-Policy"] = CSP
        return resp

    return handler


def setup_pages(app: web.Application) -> None:
    client, socket_io = assets.client_dir(), assets.socket_io_dir()
    if not (client / "index.html").is_file() or not socket_io.is_dir():
        # Said once at start-up: otherwise the only symptom is a 404 on "/".
        log.warning("client_missing", client=str(client), socket_io=str(socket_io),
                    hint="install halqa from a wheel, or run `npm ci` in client/")
    for url, name in PAGES.items():
        if (client / name).exists():
            app.router.add_get(url, _page(client / name))
    for folder in ("js", "css", "i18n", "img"):
        if (client / folder).is_dir():
            app.router.add_static(f"/{folder}/", client / folder)
    if socket_io.is_dir():
        app.router.add_static("/vendor/socket.io/", socket_io)
    hls_js = assets.hls_js_dir()
    if hls_js.is_dir():
        app.router.add_static("/vendor/hls.js/", hls_js)
