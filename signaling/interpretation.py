"""Simultaneous interpretation on the live stage: publishing, hand-over, listening.

    interpreter  POST /whip/{session}[?language=ar]   audio only; the token's language
    viewer       POST /whep/{session}?audio=ar        a player hears the ar channel
    Socket.IO    interpretation:listen   {session, viewer, language|null}  (the viewer's owner)
                 interpretation:handover {session}                          (the one on air)

Interpretation channels are audio-only sources forwarded like a speaker's
audio (RTP, never decoded). A browser viewer negotiates one more audio
section than the stage's fixed slots, the interpretation slot; choosing a
language only changes which source feeds that slot, so the viewer's peer
connection, its video and its floor audio are untouched. A WHEP player has
one audio track: with `?audio=` it carries the language's channel while an
interpreter is on air and the floor otherwise.

Who is on air is kept in signaling/booths.py; which source feeds which
viewer slot is decided in Stage.source_for (signaling/stage.py).

Several processes: interpreters publish to the stage's holder like speakers
(signaling/relay.py); an edge's pull carries each of the event's languages
twice, the channel alone and the `?audio=` mix, both decided at the holder
(signaling/edge.py), so viewers on any process hear the same. A listener's
Socket.IO connection and their viewer may be on different processes:
`interpretation:listen` then goes, signed, to the node the viewer's id names,
and `interpretation:handover` to the stage's holder (signaling/relay.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from signaling.booths import check_language
from signaling.errors import Conflict, Forbidden, NotFound
from signaling.host import Ack, Caller, Sockets
from signaling.peers import open_publisher
from signaling.sdp import parse_offer
from signaling.stage import Publisher, Stage

if TYPE_CHECKING:
    from signaling.registry import StageRegistry

# Two interpreters per language take turns; a third can stand by. More is a mistake.
MAX_PER_LANGUAGE = 3
AUDIO_HEADER = "Halqa-Audio"


async def publish(
    registry: StageRegistry, session_id: str, caller: Caller, offer: str, asked: str | None
) -> tuple[Publisher, str]:
    """An interpreter's WHIP offer: one audio section into their own language's booth."""
    language = caller.interpreter_language(session_id)
    if language is None:
        raise Forbidden("forbidden", "this token does not interpret this session")
    if asked is not None and asked != language:
        raise Forbidden("wrong_language", f"this token interprets into {language}, not {asked}",
                        fields={"language": f"must be {language}"})
    registry._rate_limit(caller.key)
    lines = parse_offer(offer, want="send", max_sections=2)  # one audio channel
    if registry.admit is not None:  # the session is in the program (before any resource)
        await registry.admit(caller, session_id, "publish")
    if len(lines) != 1 or lines[0].kind != "audio":
        raise Forbidden("audio_only", "an interpreter publishes one audio section and no video")
    stage = registry.stage(session_id)
    # One person, one seat: a console reload replaces the previous connection.
    for old in [p for p in stage.booths.interpreters.values() if p.owner == caller.key]:
        await registry._close_publisher(stage, old)
    if sum(1 for lang in stage.booths.language_of.values() if lang == language) \
            >= MAX_PER_LANGUAGE:
        registry._drop_if_empty(stage)
        raise Conflict("booth_full", f"{MAX_PER_LANGUAGE} interpreters are already on {language}")
    try:
        pub, answer = await open_publisher(
            stage, owner=caller.key, name=caller.name, role="interpreter", position=-1,
            offer_text=offer, lines=lines, media=registry.media, spawn=registry.spawn,
            rid=registry.new_id(),  # names this node: its DELETE routes here from any node
        )
    except BaseException:
        registry._drop_if_empty(stage)
        raise
    stage.booths.add(pub, language)

    @pub.pc.on("connectionstatechange")
    def _state() -> None:
        state = pub.pc.connectionState
        if state == "connected" and not pub.connected:
            pub.connected = True
            if stage.booths.connected(pub):
                stage.rebind()
            stage.changed()
        elif state in ("failed", "closed") and pub.id in stage.booths.interpreters:
            registry.spawn(registry._close_publisher(stage, pub))

    return pub, answer


def _stage(registry: StageRegistry, session_id: str) -> Stage:
    stage = registry.stages.get(session_id)
    if stage is None:
        raise NotFound("not_found", "nothing is live on this stage")
    return stage


async def hand_over(registry: StageRegistry, session_id: str, caller: Caller) -> dict[str, Any]:
    """The interpreter on air passes the channel on, at the stage's holder."""
    language = caller.interpreter_language(session_id)
    if language is None:
        raise Forbidden("forbidden", "only an interpreter of this session hands over")
    stage = registry.stages.get(session_id)
    if (stage is None or not stage.held) and registry.interpretation_elsewhere is not None:
        return await registry.interpretation_elsewhere(
            "handover", session_id, {"owner": caller.key, "language": language})
    return {"stage": hand_over_here(registry, session_id, caller.key, language).snapshot()}


def hand_over_here(registry: StageRegistry, session_id: str, owner: str, language: str) -> Stage:
    stage = _stage(registry, session_id)
    stage.booths.hand_over(owner, language)
    stage.rebind()  # one source swap per viewer: the next packet is the partner's
    stage.changed()
    return stage


async def live_languages(registry: StageRegistry, session_id: str) -> list[str]:
    """Languages an interpreter is on air for now, as the stage's holder says
    (an edge asks it: its own view lags by up to FLOWING_S, edge.py)."""
    stage = registry.stages.get(session_id)
    if stage is not None and stage.held:
        return stage.booths.live()
    snapshot = await registry.current(session_id)  # the holder's, wherever it is
    return [str(lang) for lang in (snapshot.get("interpretation") or {}).get("live") or []]


async def listen(
    registry: StageRegistry, session_id: str, caller: Caller, viewer_id: str,
    language: str | None,
) -> dict[str, Any]:
    """Point a viewer's interpretation slot at a language (None: the floor only),
    here or on the node serving that viewer."""
    if language is not None:
        check_language(language)
    stage = registry.stages.get(session_id)
    if (stage is None or viewer_id not in stage.viewers) \
            and registry.interpretation_elsewhere is not None:
        return await registry.interpretation_elsewhere(
            "listen", session_id, {"viewer": viewer_id, "owner": caller.key, "language": language})
    return await listen_here(registry, session_id, caller.key, viewer_id, language)


async def listen_here(
    registry: StageRegistry, session_id: str, owner: str, viewer_id: str, language: str | None,
) -> dict[str, Any]:
    """`listen` for a viewer of this process (`owner`: the caller's key, checked here)."""
    stage = _stage(registry, session_id)
    viewer = stage.viewers.get(viewer_id)
    if viewer is None:
        raise NotFound("not_found", "no such viewer on this stage")
    if viewer.owner != owner:
        raise Forbidden("not_owner", "this viewer belongs to someone else")
    viewer.language = language
    stage.rebind([viewer])
    live = language is not None and language in await live_languages(registry, session_id)
    return {"language": language, "live": live}


def listening(registry: StageRegistry) -> list[tuple[str, str, str, str]]:
    """(session, viewer id, owner, language) of every viewer hearing a live channel now."""
    out = []
    for stage in registry.stages.values():
        live = set(stage.live_languages())
        for v in stage.viewers.values():
            if v.connected and v.language in live:
                out.append((stage.session_id, v.id, v.owner, v.language or ""))
    return out


SessionId = Annotated[str, Field(min_length=1, max_length=64)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ListenIn(_Payload):
    session: SessionId
    viewer: Annotated[str, Field(min_length=1, max_length=64)]
    language: Annotated[str, Field(max_length=8)] | None


class HandOverIn(_Payload):
    session: SessionId


def register(registry: StageRegistry, sio: Sockets) -> None:
    async def on_listen(sid: str, caller: Caller, p: ListenIn) -> Ack:
        return await listen(registry, p.session, caller, p.viewer, p.language)

    async def on_handover(sid: str, caller: Caller, p: HandOverIn) -> Ack:
        return await hand_over(registry, p.session, caller)

    sio.on("interpretation:listen", ListenIn, on_listen)
    sio.on("interpretation:handover", HandOverIn, on_handover)
