"""Building the server side of a publisher's or a viewer's peer connection."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable, Sequence
from typing import Any

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from signaling import aiortc_internals as ai
from signaling.booths import INTERPRETATION
from signaling.errors import BadRequest
from signaling.forward import OutStream, SourceTrack
from signaling.rtp import codec_usable
from signaling.sdp import MediaLine, strip_mdns
from signaling.settings import MediaSettings
from signaling.stage import LABELS, Publisher, Stage, Viewer

Spawn = Callable[[Any], None]


def new_pc() -> RTCPeerConnection:
    # max-bundle, not aiortc's default "balanced": with balanced, a second
    # section of the same kind is pre-bundled onto the first one's transport
    # before BUNDLE negotiation moves that one, so it is left on a transport
    # that never connects (a browser's screen slot got no media).
    #
    # iceServers=[]: aiortc's default is Google's STUN server, i.e. a DNS
    # lookup and a STUN round trip inside every answer (up to aioice's 5 s
    # timeout where outbound UDP is filtered), for a server-reflexive
    # candidate a server with a public address does not need. The ICE
    # servers in settings are for clients (MediaSettings.ice_servers).
    return RTCPeerConnection(RTCConfiguration(iceServers=[],
                                              bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))


def new_id() -> str:
    # Unguessable: the resource URL is not a capability, but it must not be enumerable.
    return secrets.token_urlsafe(16)


async def _accept_offer(pc: RTCPeerConnection, offer_text: str) -> None:
    try:
        await pc.setRemoteDescription(
            RTCSessionDescription(sdp=strip_mdns(offer_text), type="offer")
        )
    except Exception as exc:  # aiortc's own checks (codecs, BUNDLE, DTLS) say why
        raise BadRequest("sdp_rejected", f"the SDP offer was rejected: {exc}") from None


async def open_publisher(
    stage: Stage,
    *,
    owner: str,
    name: str,
    role: str,
    position: int,
    offer_text: str,
    lines: list[MediaLine],
    media: MediaSettings,
    spawn: Spawn,
    rid: str | None = None,
) -> tuple[Publisher, str]:
    audio = [line for line in lines if line.kind == "audio"]
    video = [line for line in lines if line.kind == "video"]
    if len(audio) > 1 or len(video) > 2:
        raise BadRequest(
            "too_many_tracks",
            "a publisher sends at most one audio and two video sections (camera, screen)",
        )
    pc = new_pc()
    pub = Publisher(rid or new_id(), stage.session_id, owner, name, role, position, pc)
    try:
        await _accept_offer(pc, offer_text)
        video_labels = iter(("camera", "screen"))
        for transceiver, line in zip(pc.getTransceivers(), lines, strict=True):
            label = "audio" if line.kind == "audio" else next(video_labels)
            receiver = transceiver.receiver

            def ask(ssrc: int, receiver: Any = receiver) -> None:
                spawn(ai.send_pli(receiver, ssrc))

            track = SourceTrack(
                line.kind,
                label,
                dict(line.mimes),
                ask,
                cache_size=media.packet_cache,
                min_interval=media.keyframe_min_interval_ms / 1000,
            )
            ai.tap_receiver(receiver, track.on_packet)
            ai.enable_mid_routing(receiver.transport)
            pub.tracks[label] = track
        await pc.setLocalDescription(await pc.createAnswer())
        ai.grow_receive_buffers(pc.getTransceivers()[0].receiver.transport, 4 << 20)
    except BaseException:
        await pc.close()
        raise
    return pub, pc.localDescription.sdp


async def open_viewer(
    stage: Stage,
    *,
    owner: str,
    mode: str,
    offer_text: str,
    lines: list[MediaLine],
    rid: str | None = None,
    labels: Sequence[str] = (),
) -> tuple[Viewer, str]:
    """`labels`: a pull's, one per section (signaling/edge.py's pull_layout:
    every position's slots, who is on air, then the languages)."""
    slots = stage.max_publishers * len(LABELS)  # browser and pull: every position
    if mode == "browser":
        # Slot i carries position i // 3, label LABELS[i % 3]; the client builds
        # its transceivers in exactly that order (client/js/stage.js).
        want = stage.max_publishers * len(LABELS)
        # An optional last audio section: the interpretation slot (booths.py).
        if len(lines) not in (want, want + 1):
            raise BadRequest("slots_mismatch", f"a stage viewer offer has {want} media sections"
                             f" (or {want + 1}: the last one the interpretation slot)")
        for i, line in enumerate(lines):
            expected = "audio" if i == want or LABELS[i % 3] == "audio" else "video"
            if line.kind != expected:
                raise BadRequest("slots_mismatch", f"media section {i} must be {expected}")
    pc = new_pc()
    viewer = Viewer(rid or new_id(), stage.session_id, owner, mode, pc)
    try:
        await _accept_offer(pc, offer_text)
        have_audio = have_video = False
        for i, transceiver in enumerate(pc.getTransceivers()):
            if mode == "browser" and i == slots:  # the interpretation slot (booths.py)
                out = OutStream("audio", INTERPRETATION, -1)
            elif mode == "browser" and i < slots:
                out = OutStream(transceiver.kind, LABELS[i % 3], i // 3)
            elif mode == "pull":
                out = OutStream(transceiver.kind, labels[i], i // 3 if i < slots else -1)
            else:
                first = not (have_audio if transceiver.kind == "audio" else have_video)
                if not first:
                    transceiver.direction = "inactive"  # a WHEP player gets one of each
                    continue
                if transceiver.kind == "audio":
                    have_audio = True
                else:
                    have_video = True
                out = OutStream(
                    transceiver.kind, "audio" if transceiver.kind == "audio" else "camera", -1
                )
            transceiver.direction = "sendonly"
            ai.slim_receiver(transceiver.receiver)
            _attach(out, transceiver.sender)
            viewer.outs.append(out)
        await pc.setLocalDescription(await pc.createAnswer())
    except BaseException:
        await pc.close()
        raise
    return viewer, pc.localDescription.sdp


def _attach(out: OutStream, sender: Any) -> None:
    out.ssrc = ai.sender_ssrc(sender)

    def started(params: Any) -> None:
        pts: dict[str, int] = {}
        for codec in params.codecs:
            mime = codec.mimeType.lower()
            if codec_usable(mime, codec.parameters):
                pts.setdefault(mime, codec.payloadType)
        out.pts = pts

    async def on_rtcp(packet: Any) -> None:
        kind, seqs = ai.rtcp_kind(packet)
        if kind == "nack":
            out.on_nack(seqs)
        elif kind == "pli":
            out.on_pli()

    ai.detach_sender(sender, started, on_rtcp)


async def close_pc(pc: RTCPeerConnection) -> None:
    # Closing is best effort: a peer stuck in DTLS must not block the caller.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(pc.close(), timeout=5)
