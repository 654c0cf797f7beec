"""Organizer-only: the event report (JSON and CSV) and registration figures."""

from __future__ import annotations

from aiohttp import web

from server import report, visitors
from server.auth import require_organizer
from server.errors import NotFound, invalid_fields
from server.keys import DB


async def _report(request: web.Request) -> dict[str, object]:
    await require_organizer(request)
    async with request.app[DB].session() as s:
        data = await report.build(s)
    # Unique visitors of the site per day (no cookies, no addresses kept).
    data["visitors"] = await visitors.per_day(request.app)
    return data


async def get_report(request: web.Request) -> web.Response:
    return web.json_response(await _report(request))


async def get_report_csv(request: web.Request) -> web.Response:
    data = await _report(request)
    table = request.match_info["table"]
    if table in ("sessions", "polls"):
        lang = request.query.get("lang", "fr")
        if lang not in ("fr", "ar", "en"):
            raise invalid_fields({"lang": "fr, ar or en"})
        body = (report.sessions_csv if table == "sessions" else report.polls_csv)(data, lang)
    elif table == "countries":
        body = report.countries_csv(data)
    else:
        raise NotFound("not_found", "no such table; use sessions, polls or countries")
    # A BOM so spreadsheet programs read the Arabic and French titles as UTF-8.
    return web.Response(
        body=("\ufeff" + body).encode(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="halqa-{table}.csv"'},
    )


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/api/report", get_report)
    app.router.add_get("/api/report/{table}.csv", get_report_csv)
