"""Interpretation events whose subject is on another node of the cluster.

The Socket.IO connection that sends `interpretation:listen` or
`interpretation:handover` lands on any process (round robin), but the viewer
lives on the node its id names and the booths on the stage's holder. So the
event goes on, signed (signaling/cluster.py), as

    POST /internal/interpretation/{session}
         {"op": "listen", "viewer": id, "owner": key, "language": code | null}
         {"op": "handover", "owner": key, "language": code}

The sending node resolved the caller and vouches for its key and language;
the receiving node checks ownership (the viewer's owner, the interpreter on
air) as for its own callers, and never sends the event on again.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from signaling.booths import check_language
from signaling.cluster import resource_node
from signaling.errors import BadRequest, NotFound
from signaling.interpretation import hand_over_here, listen_here
from signaling.node import Node
from signaling.relay import (
    NODE_KEY,
    ask_node,
    error_response,
    lookup_node_url,
    read_capped,
    signed_by_node,
)

PATH = "/internal/interpretation/{session_id}"


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    op: Literal["listen", "handover"]
    owner: Annotated[str, Field(min_length=1, max_length=200)]
    language: Annotated[str, Field(max_length=8)] | None
    viewer: Annotated[str, Field(max_length=64)] = ""


async def interpretation_post(request: web.Request) -> web.StreamResponse:
    node = request.app[NODE_KEY]
    body = await read_capped(request, 4096)
    await signed_by_node(request, body)
    try:
        event = Event.model_validate_json(body)
    except ValidationError as exc:
        return error_response(
            BadRequest("invalid", f"interpretation event refused: {exc.errors()[:1]}"))
    session = request.match_info["session_id"]
    if event.op == "listen":
        if event.language is not None:
            check_language(event.language)
        reply = await listen_here(node.registry, session, event.owner, event.viewer,
                                  event.language)
    else:
        reply = {"stage": hand_over_here(node.registry, session, event.owner,
                                         check_language(event.language or "")).snapshot()}
    return web.json_response(reply)


async def interpretation_elsewhere(
    node: Node, op: str, session: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """Send an interpretation event to the node it concerns."""
    if op == "listen":
        target = resource_node(str(payload["viewer"]))
    else:
        target = await node.holder_of(session)
    url = None
    if target is not None and target != node.id:
        url = node.url_of(target) or await lookup_node_url(node, target)
    if url is None or node.http is None:
        if op == "listen":
            raise NotFound("not_found", "no such viewer on this stage")
        # Nobody else holds the stage: here, then (it says what is wrong).
        owner, language = str(payload["owner"]), str(payload["language"])
        return {"stage": hand_over_here(node.registry, session, owner, language).snapshot()}
    return await ask_node(node, url, PATH.format(session_id=session), {"op": op, **payload},
                          f"interpretation:{op} on {session}")
