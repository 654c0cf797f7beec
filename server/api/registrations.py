"""POST /api/registrations: free registration with a personal access link."""

from __future__ import annotations

import structlog
from aiohttp import web

from server.api.common import client_ip, json_response, read_json
from server.errors import Conflict, RateLimited
from server.keys import DB, METRICS, SETTINGS, SHARED
from server.mailer import send_access_link
from server.registration import (
    DuplicateRace,
    RegistrationIn,
    access_url,
    register,
    reissue,
)

log = structlog.get_logger("halqa.registration")


async def create_registration(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    limit = settings.limits.registrations_per_minute
    if not await request.app[SHARED].hit(f"register:{client_ip(request)}", limit, 60):
        raise RateLimited("rate_limited", "too many registrations; try again in a minute",
                          retry_after=60)
    data = await read_json(request, RegistrationIn)
    try:
        result = await register(request.app[DB], data)
    except DuplicateRace:
        result = None
    if result is None or result.token is None:
        mailed = False
        if result is not None and settings.smtp.host:
            token, who = await reissue(request.app[DB], result.participant_id)
            url = access_url(settings.base_url, token, data.session)
            mailed = await send_access_link(settings.smtp, who.email, who.name, who.language, url)
        raise Conflict(
            "already_registered",
            "this email is already registered; "
            + ("your personal link was mailed to it again" if mailed
               else "use the personal link you received, or ask the organizers"),
            fields={"email": "already registered"},
        )
    request.app[METRICS].registrations.inc()
    url = access_url(settings.base_url, result.token, result.session)
    if settings.smtp.host:
        await send_access_link(settings.smtp, data.email, data.name, data.language, url)
    log.info("registered", participant=result.participant_id, country=data.country)
    return json_response(
        {"participant": result.participant_id, "token": result.token, "access_url": url},
        status=201,
    )
