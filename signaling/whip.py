"""WHIP (RFC 9725) and WHEP over HTTP.

    POST   /whip/{session}              offer -> 201 answer + Location
    PATCH  /whip/{session}/{resource}   trickle ICE (application/trickle-ice-sdpfrag)
    DELETE /whip/{session}/{resource}   stop publishing
    OPTIONS on both                     CORS preflight, Accept-Post
and the same under /whep for receive-only players.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from signaling import aiortc_internals as ai
from signaling import gcpause, interpretation
from signaling.booths import check_language
from signaling.errors import (
    BadRequest,
    Failure,
    Forbidden,
    Invalid,
    NotFound,
    TooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from signaling.host import Caller
from signaling.http_errors import failure_response
from signaling.keys import HOST, REGISTRY
from signaling.sdp import MAX_SDP_BYTES

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, PATCH, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match",
    "Access-Control-Expose-Headers": "Location, Link, ETag, Accept-Patch, Retry-After, "
                                     "Halqa-Audio, Server-Timing",
    "Access-Control-Max-Age": "600",
}
SDP = "application/sdp"
FRAG = "application/trickle-ice-sdpfrag"


def cors(handler: Handler) -> Handler:
    """CORS headers on every answer, errors included (RFC 9725 section 4.6).

    Also this endpoint's error adapter: a `Failure` becomes the JSON error
    answer here, so a bare media server (no halqa middleware) answers alike.
    """

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except Failure as failure:
            response = failure_response(failure)
        except web.HTTPException as exc:
            exc.headers.update(CORS)
            raise
        response.headers.update(CORS)
        return response

    return wrapped


async def caller(request: web.Request) -> Caller:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("unauthorized", "a Bearer token is required")
    who = await request.app[HOST].resolve_token(token.strip())
    if who is None:
        raise Unauthorized("unauthorized", "unknown or revoked token")
    return who


async def read_body(request: web.Request, content_type: str) -> str:
    if request.content_type != content_type:
        raise UnsupportedMediaType("unsupported_media_type", f"the body must be {content_type}")
    if request.content_length is not None and request.content_length > MAX_SDP_BYTES:
        raise TooLarge("too_large", "the body is larger than 128 KiB")
    # StreamReader.read(n) returns what has arrived so far, not n bytes: an
    # offer split over several TCP segments must be read to its end.
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(65536):
        size += len(chunk)
        if size > MAX_SDP_BYTES:
            raise TooLarge("too_large", "the body is larger than 128 KiB")
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("sdp_malformed", "the body is not UTF-8") from None


def ice_links(request: web.Request) -> list[str]:
    links = []
    for ice in request.app[HOST].media.client_ice_servers():
        for url in ice.urls:
            link = f'<{url}>; rel="ice-server"'
            if ice.username and ice.credential:
                link += (
                    f'; username="{ice.username}"; credential="{ice.credential}"'
                    '; credential-type="password"'
                )
            links.append(link)
    return links


def _created(request: web.Request, prefix: str, resource_id: str, answer: str) -> web.Response:
    session_id = request.match_info["session_id"]
    response = web.Response(status=201, text=answer, content_type=SDP)
    response.headers["Location"] = f"/{prefix}/{session_id}/{resource_id}"
    response.headers["ETag"] = f'"{resource_id}"'
    response.headers["Accept-Patch"] = FRAG
    for link in ice_links(request):
        response.headers.add("Link", link)
    return response


@cors
async def whip_post(request: web.Request) -> web.StreamResponse:
    who = await caller(request)
    offer = await read_body(request, SDP)
    session_id = path_session(request)
    if who.interprets is not None:  # an interpreter's language channel, audio only
        pub, answer = await interpretation.publish(
            request.app[REGISTRY], session_id, who, offer, request.query.get("language"))
    else:
        pub, answer = await request.app[REGISTRY].publish(session_id, who, offer)
    return _created(request, "whip", pub.id, answer)


@cors
async def whep_post(request: web.Request) -> web.StreamResponse:
    started = time.perf_counter()
    collected = gcpause.paused_s()
    who = await caller(request)
    offer = await read_body(request, SDP)
    # `?layout=stage`: the browser watch page's fixed slots (every position);
    # otherwise a plain WHEP player gets whoever is on air (one audio, one video).
    mode = "browser" if request.query.get("layout") == "stage" else "whep"
    # `?audio=ar`: the Arabic interpretation instead of the floor (interpretation.py).
    audio = request.query.get("audio")
    if audio is not None:
        check_language(audio)
    registry = request.app[REGISTRY]
    host = request.app[HOST]
    address = host.address_of(request) if host.address_of else (request.remote or "")
    viewer, answer = await registry.watch(path_session(request), who, offer, mode, address)
    response = _created(request, "whep", viewer.id, answer)
    # The server's share of a join, for the page and the operator (join time
    # is click -> first frame; bench/join_latency.py reads this).
    response.headers["Server-Timing"] = (
        f"answer;dur={(time.perf_counter() - started) * 1000:.1f}, "
        f"gc;dur={(gcpause.paused_s() - collected) * 1000:.1f}")
    if audio is not None:
        viewer.language = audio
        live = audio in await interpretation.live_languages(registry, viewer.session_id)
        # What the player hears now; the floor until that channel is on air.
        response.headers[interpretation.AUDIO_HEADER] = (
            audio if live else f"floor; requested={audio}; reason=no_live_channel")
    return response


def path_session(request: web.Request) -> str:
    """The session named in the path, refused cheaply when it cannot be one."""
    sid = request.match_info["session_id"]
    if not 0 < len(sid) <= 64 or not sid.isprintable():
        raise NotFound("not_found", "no such session")
    return sid


def _kind(request: web.Request) -> str:
    return "publisher" if request.path.startswith("/whip/") else "viewer"


@cors
async def resource_delete(request: web.Request) -> web.StreamResponse:
    who = await caller(request)
    m = request.match_info
    await request.app[REGISTRY].delete(_kind(request), m["session_id"], m["resource_id"], who)
    return web.Response(status=200)


@cors
async def resource_patch(request: web.Request) -> web.StreamResponse:
    """Trickle ICE: add the client's candidates to its peer connection."""
    who = await caller(request)
    m = request.match_info
    _, res = request.app[REGISTRY].find(_kind(request), m["session_id"], m["resource_id"])
    if res.owner != who.key:
        raise Forbidden("not_owner", "this resource belongs to someone else")
    frag = await read_body(request, FRAG)
    if "a=ice-ufrag:" in frag:
        remote = res.pc.remoteDescription
        if remote is not None and f"a=ice-ufrag:{_ufrag(frag)}" not in remote.sdp:
            # ICE restart needs a new ICE agent; aiortc cannot swap it in place.
            raise Invalid(
                "ice_restart_unsupported", "ICE restart is not supported; POST a new offer"
            )
    for line in frag.splitlines():
        if line.startswith("a=candidate:") and ".local " not in line:
            await ai.add_trickle_candidate(res.pc, line)
    return web.Response(status=204)


def _ufrag(frag: str) -> str:
    for line in frag.splitlines():
        if line.startswith("a=ice-ufrag:"):
            return line.split(":", 1)[1].strip()
    return ""


@cors
async def options(request: web.Request) -> web.StreamResponse:
    response = web.Response(status=204)
    if "resource_id" in request.match_info:
        response.headers["Accept-Patch"] = FRAG
    else:
        response.headers["Accept-Post"] = SDP
    return response


def add_routes(app: web.Application) -> None:
    for prefix, post in (("whip", whip_post), ("whep", whep_post)):
        app.router.add_route("POST", f"/{prefix}/{{session_id}}", post)
        app.router.add_route("OPTIONS", f"/{prefix}/{{session_id}}", options)
        res = f"/{prefix}/{{session_id}}/{{resource_id}}"
        app.router.add_route("PATCH", res, resource_patch)
        app.router.add_route("DELETE", res, resource_delete)
        app.router.add_route("OPTIONS", res, options)
