"""The browser client: static pages and ES modules from client/."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from server.api.common import CSP

CLIENT = Path(__file__).resolve().parent.parent.parent / "client"
SOCKET_IO = CLIENT / "node_modules" / "socket.io-client" / "dist"

# URL → page. A page that is not in client/ yet is simply not routed.
PAGES = {
    "/": "index.html",
    "/join": "join.html",
    "/session/{id}": "session.html",
    "/studio/{id}": "studio.html",
    "/moderate": "moderate.html",
    "/moderate/{id}": "moderate.html",
    "/admin": "admin.html",
}


def _page(path: Path) -> Callable[[web.Request], Awaitable[web.FileResponse]]:
    async def handler(request: web.Request) -> web.FileResponse:
        resp = web.FileResponse(path)
        resp.headers["Cache-Control"] = "no-cache"
        resp.headers["Content-Security-Policy"] = CSP
        return resp

    return handler


def setup_pages(app: web.Application) -> None:
    for url, name in PAGES.items():
        if (CLIENT / name).exists():
            app.router.add_get(url, _page(CLIENT / name))
    for folder in ("js", "css", "i18n", "img"):
        if (CLIENT / folder).is_dir():
            app.router.add_static(f"/{folder}/", CLIENT / folder)
    if SOCKET_IO.is_dir():
        app.router.add_static("/vendor/socket.io/", SOCKET_IO)
