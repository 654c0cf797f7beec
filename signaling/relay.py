"""Any node serves any WHIP/WHEP request: route it to the node that must handle it.

    POST   /whip/{s}             -> the stage's holder (one origin per stage);
                                    nobody holds it: this node claims it
    POST   /whep/{s}             -> here (pulling the stage if held elsewhere);
                                    here full or draining: the node with most room
    PATCH, DELETE /wh{i,e}p/{s}/{resource}
                                 -> the node the resource id names
Forwarded requests carry the user's own Authorization (the target checks it
again) and a node signature; they are never forwarded a second time. The SDP
answer names the target's ICE candidates, so media then flows straight
between the client and that node.

Node-to-node routes (signed, see signaling/cluster.py):
    POST   /internal/pull/{s}[?languages=ar,fr]   an edge pulls a stage it does not hold
    DELETE /internal/pull/{s}/{resource}          ... and stops
    GET    /internal/stage/{s}                    the holder's stage snapshot
    POST   /internal/program/{s}                  a moderator's on-air choice, to the holder
    POST   /internal/interpretation/{s}           interpretation:listen (to the viewer's
                                                  node) and :handover (to the holder);
                                                  signaling/interpretation_relay.py
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from signaling.cluster import FORWARDED_HEADER, ClusterAuthError, resource_node
from signaling.edge import PULL_PATH, check_pull_offer, pull_languages, pull_layout
from signaling.errors import (
    BadRequest,
    Conflict,
    Failure,
    Forbidden,
    Invalid,
    NotFound,
    Unauthorized,
    Unavailable,
)
from signaling.http_errors import failure_response
from signaling.keys import HOST
from signaling.node import Node
from signaling.sdp import parse_offer

log = logging.getLogger("halqa.relay")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PASS_REQUEST = ("Authorization", "Content-Type", "If-Match")
PASS_RESPONSE = (
    "Content-Type", "Location", "ETag", "Accept-Patch", "Accept-Post", "Link", "Retry-After",
    "Halqa-Audio", "Server-Timing",
    "WWW-Authenticate", "Access-Control-Allow-Origin", "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers", "Access-Control-Expose-Headers", "Access-Control-Max-Age",
)
NODE_KEY: web.AppKey[Node] = web.AppKey("signaling.node", Node)
# Failures another node answered with, raised again as the caller's own.
FAILURES: dict[int, type[Failure]] = {
    400: BadRequest, 403: Forbidden, 404: NotFound, 409: Conflict, 422: Invalid}
SDP = "application/sdp"


def error_response(failure: Failure) -> web.Response:
    response = failure_response(failure)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _route(request: web.Request) -> str:
    info = request.match_info.route.resource
    return info.canonical if info is not None else ""


@web.middleware
async def relay(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = _route(request)
    if not route.startswith(("/whip/", "/whep/")) or request.method == "OPTIONS":
        return await handler(request)
    node = request.app[NODE_KEY]
    if FORWARDED_HEADER in request.headers:
        try:  # signed without the body: the target checks the user's token itself
            node.cluster.verify(request.method, request.path_qs, request.headers, b"")
        except ClusterAuthError as exc:
            log.warning("refused a forwarded %s %s: %s", request.method, request.path, exc)
            return error_response(Unauthorized("cluster_unauthorized", "node signature refused"))
        if route == "/whip/{session_id}" and request.method == "POST":
            holder = await node.claim(request.match_info["session_id"])
            if holder != node.id:
                return error_response(
                    Unavailable("stage_moving", "this stage moved; retry", retry_after=1))
        return await handler(request)
    session = request.match_info["session_id"]
    if "resource_id" in request.match_info:
        owner = resource_node(request.match_info["resource_id"])
        if owner is None or owner == node.id:
            return await handler(request)
        url = node.url_of(owner) or await lookup_node_url(node, owner)
        if url is None:
            return error_response(NotFound("not_found", "no such resource (its node is gone)"))
        return await _forward(node, request, url)
    if route.startswith("/whip/"):
        return await _publish(node, request, handler, session)
    if node.registry.has_room(session) or await _own_process(request):
        response = await handler(request)
        if response.status == 201:  # in the background: the answer goes out now
            node.registry.spawn(_follow_now(node, session))
        return response
    other = node.with_room(session)
    if other is None:
        return await handler(request)  # answers stage_full: the whole cluster is full
    return await _forward(node, request, other.url)


async def _own_process(request: web.Request) -> bool:
    """The process's own viewer (the broadcast mixer): served here even when full.
    Asked only when full, so the token is resolved twice only then."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    caller = await request.app[HOST].resolve_token(token.strip())
    return caller is not None and caller.own_process


async def _publish(
    node: Node, request: web.Request, handler: Handler, session: str
) -> web.StreamResponse:
    if node.draining:  # shutting down: the stage must start (or go on) elsewhere
        other = node.with_room(session)
        if other is None:
            return error_response(Unavailable(
                "node_unavailable", "this node is shutting down; retry", retry_after=1))
        return await _forward(node, request, other.url)
    try:
        holder = await node.claim(session)
    except Exception as exc:  # the directory is away: serve here rather than refuse
        log.warning("stage directory unreachable (%r): publishing %s here", exc, session)
        return await handler(request)
    if holder == node.id:
        return await handler(request)
    url = node.url_of(holder) or await lookup_node_url(node, holder)
    if url is not None and await _alive(node, url):
        return await _forward(node, request, url)
    # The holder does not answer (crashed before its claim expired): take over.
    if await node.takeover(session, holder) == node.id:
        return await handler(request)
    return error_response(Unavailable("stage_moving", "this stage is moving; retry", retry_after=1))


async def _follow_now(node: Node, session: str) -> None:
    """A new viewer here: start pulling at once rather than at the next beat."""
    stage = node.registry.stages.get(session)
    if stage is None or stage.held:
        return
    try:
        holder = (await node.directory.holders([session]))[session]
    except Exception:  # the beat will try again
        return
    node.follow(session, holder)


async def _alive(node: Node, url: str) -> bool:
    """Asked before forwarding a publisher: the body can be read only once."""
    assert node.http is not None
    try:
        async with node.http.get(url + "/healthz", timeout=aiohttp.ClientTimeout(total=1)) as r:
            return r.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def lookup_node_url(node: Node, other: str) -> str | None:
    try:
        node.nodes = {n.id: n for n in await node.directory.nodes()}
    except Exception:
        return None
    return node.url_of(other)


async def _forward(node: Node, request: web.Request, url: str) -> web.StreamResponse:
    body = await read_capped(request) if request.can_read_body else b""
    headers = {k: request.headers[k] for k in PASS_REQUEST if k in request.headers}
    headers.update(node.cluster.sign(request.method, request.path_qs, b""))
    headers[FORWARDED_HEADER] = "1"
    # The client's address as this node judges it (its proxy rule): the target
    # applies per-address caps and rate limits to the client, not to us.
    host = request.app.get(HOST)
    address = host.address_of(request) if host is not None and host.address_of else None
    headers["X-Forwarded-For"] = address or request.remote or ""
    assert node.http is not None
    try:
        async with node.http.request(
            request.method, url + request.path_qs, data=body, headers=headers,
            timeout=aiohttp.ClientTimeout(total=15, connect=2),
        ) as r:
            payload = await r.read()
            response = web.Response(status=r.status, body=payload)
            for name in PASS_RESPONSE:
                for value in r.headers.getall(name, []):
                    response.headers.add(name, value)
            return response
    except (aiohttp.ClientConnectionError, TimeoutError) as exc:
        log.warning("forwarding %s %s to %s failed: %r", request.method, request.path, url, exc)
        return error_response(Unavailable(
            "node_unavailable", "the node serving this is unreachable; retry", retry_after=1))


async def read_capped(request: web.Request, limit: int = 128 * 1024) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(65536):
        size += len(chunk)
        if size > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
        chunks.append(chunk)
    return b"".join(chunks)


# -- node-to-node routes ----------------------------------------------------
async def signed_by_node(request: web.Request, body: bytes = b"") -> str:
    node = request.app[NODE_KEY]
    try:
        return node.cluster.verify(request.method, request.path_qs, request.headers, body)
    except ClusterAuthError as exc:
        log.warning("refused %s %s from %s: %s", request.method, request.path,
                    request.remote, exc)
        raise Unauthorized("cluster_unauthorized", "node signature refused") from None


async def pull_post(request: web.Request) -> web.StreamResponse:
    node = request.app[NODE_KEY]
    body = await read_capped(request)
    edge = await signed_by_node(request, body)
    session = request.match_info["session_id"]
    registry = node.registry
    stage = registry.stages.get(session)
    # Only the holder serves pulls, and never to itself: no loop can form.
    if edge == node.id or stage is None or not stage.held or session not in node.held:
        log.warning("node %s asked to pull %s, which this node does not hold", edge, session)
        return error_response(Conflict("not_holder", "this node does not hold that stage"))
    languages = pull_languages(request.query.get("languages"))  # Invalid: 422
    try:
        lines = parse_offer(body.decode("utf-8", "replace"), want="recv")
    except Exception as exc:
        return error_response(BadRequest("sdp_malformed", f"pull offer refused: {exc}"))
    problem = check_pull_offer(lines, stage.max_publishers, languages)
    if problem is not None:
        return error_response(BadRequest("slots_mismatch", problem))
    labels = [label for _, label in pull_layout(stage.max_publishers, languages)]
    viewer, answer = await registry.attach_viewer(
        stage, f"node:{edge}", "pull", body.decode(), lines, labels
    )
    log.info("stage %s: node %s pulls it", session, edge)
    response = web.Response(status=201, text=answer, content_type=SDP)
    response.headers["Location"] = PULL_PATH.format(session_id=session) + f"/{viewer.id}"
    return response


async def pull_delete(request: web.Request) -> web.StreamResponse:
    node = request.app[NODE_KEY]
    edge = await signed_by_node(request)
    m = request.match_info
    stage = node.registry.stages.get(m["session_id"])
    viewer = stage.viewers.get(m["resource_id"]) if stage is not None else None
    if stage is None or viewer is None or viewer.owner != f"node:{edge}":
        return error_response(NotFound("not_found", "no such pull"))
    await node.registry.close_viewer(stage, viewer)
    return web.Response(status=200)


async def stage_get(request: web.Request) -> web.StreamResponse:
    node = request.app[NODE_KEY]
    await signed_by_node(request)
    return web.json_response(node.registry.snapshot(request.match_info["session_id"]))


async def on_air_post(request: web.Request) -> web.StreamResponse:
    """Another node's moderator chose who is on air; the holder applies it."""
    node = request.app[NODE_KEY]
    body = await read_capped(request, 4096)
    await signed_by_node(request, body)
    try:
        publisher = json.loads(body)["publisher"]
        if publisher is not None and not isinstance(publisher, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return error_response(BadRequest("invalid", "expected {\"publisher\": id | null}"))
    stage = node.registry.put_on_air(request.match_info["session_id"], publisher)
    return web.json_response(stage.snapshot())


async def on_air_elsewhere(node: Node, session: str, publisher: str | None) -> dict[str, Any]:
    """Forward a moderator's on-air choice to the stage's holder."""
    holder = await node.holder_of(session)
    url = node.url_of(holder) if holder and holder != node.id else None
    if url is None or node.http is None:
        return node.registry.put_on_air(session, publisher).snapshot()  # says not_found
    path = f"/internal/program/{session}"  # wire name kept (nodes of two versions)
    return await ask_node(node, url, path, {"publisher": publisher},
                          f"on-air choice for {session}")


async def ask_node(
    node: Node, url: str, path: str, payload: dict[str, Any], what: str
) -> dict[str, Any]:
    """POST signed JSON to another node: its answer, or its failure raised again
    here as the caller's own (403, 404, 409, 422), or `node_unavailable`."""
    assert node.http is not None
    body = json.dumps(payload).encode()
    headers = {**node.cluster.sign("POST", path, body), "Content-Type": "application/json"}
    try:
        async with node.http.post(url + path, data=body, headers=headers,
                                  timeout=aiohttp.ClientTimeout(total=5)) as r:
            data: dict[str, Any] = await r.json()
            if r.status == 200:
                return data
            error = data.get("error", {})
            failure = FAILURES.get(r.status)
            if failure is not None:
                raise failure(error.get("code", "failed"), error.get("message", ""))
            if r.status == 401:  # not a passing failure: the nodes' secrets differ
                log.error("%s: %s refused our signature (HALQA_CLUSTER_SECRET differs?)",
                          what, url)
            else:
                log.warning("%s: %s answered %s", what, url, r.status)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("%s: %s did not answer: %r", what, url, exc)
    raise Unavailable("node_unavailable", "the node serving this did not answer; retry",
                      retry_after=1)


async def snapshot(node: Node, session: str) -> dict[str, Any]:
    """The stage as its holder sees it, whichever node is asked."""
    stage = node.registry.stages.get(session)
    if stage is not None and stage.held:
        return node.registry.snapshot(session)
    holder = await node.holder_of(session)
    url = node.url_of(holder) if holder and holder != node.id else None
    if url is not None and node.http is not None:
        path = f"/internal/stage/{session}"
        try:
            async with node.http.get(url + path, headers=node.cluster.sign("GET", path),
                                     timeout=aiohttp.ClientTimeout(total=2)) as r:
                if r.status == 200:
                    data: dict[str, Any] = await r.json()
                    return data
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("stage %s: holder %s did not answer: %r", session, holder, exc)
    return node.registry.snapshot(session)


def _answers(handler: Handler) -> Handler:
    """Node routes answer failures themselves (a bare media server has no error middleware)."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Failure as failure:
            return error_response(failure)

    return wrapped


def add_routes(app: web.Application) -> None:
    app.router.add_post(PULL_PATH, _answers(pull_post))
    app.router.add_delete(PULL_PATH + "/{resource_id}", _answers(pull_delete))
    app.router.add_get("/internal/stage/{session_id}", _answers(stage_get))
    app.router.add_post("/internal/program/{session_id}", _answers(on_air_post))
    from signaling.interpretation_relay import interpretation_post

    app.router.add_post("/internal/interpretation/{session_id}", _answers(interpretation_post))
