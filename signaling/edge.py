"""Edge pulls: a node serving viewers of a stage held elsewhere pulls it once.

The pull is a WHEP-style peer connection from the edge (offerer, receive-only)
to the holder, with every slot of the stage: `positions × 3` sections laid out
as the watch page's (audio, camera, screen per position), then the on-air speaker's
audio and video, then two audio sections per interpretation language the edge
names in the request (`?languages=ar,fr`): the language's channel alone
(`interpretation:ar`, silent while nobody interprets; a browser's
interpretation slot) and what a `?audio=ar` player hears (`audio:ar`: the
channel while an interpreter is on air, the floor otherwise). The holder
decides both, as for its own viewers, so an interpreter going on air, a
hand-over and the fall back to the floor reach edge viewers as a source swap
at the holder: the edge needs no copy of the booths' state, and its pulled
tracks never stop. On the holder it is one `Viewer` in mode "pull"; on the edge
each section feeds a `SourceTrack`, and the edge's own viewers subscribe to
those exactly as origin viewers subscribe to publishers' tracks: same RTP
rewrite, same keyframe waits. Packets are forwarded as they arrive (no
decoding, no frame buffering), so the hop adds the two sockets' time.

Upstream feedback is per edge, not per viewer: an edge viewer's PLI goes
through the edge track's short coalescing (one per 50 ms) to the holder, whose
own coalescing reaches the publisher; an edge viewer's NACK is served from
the edge track's cache, and the edge's receivers NACK the holder for what the
hop itself lost (aiortc's NACK generator on the pull).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
from aiortc import RTCSessionDescription

from signaling import aiortc_internals as ai
from signaling.booths import channel_label, check_language, language_of_label, with_floor_label
from signaling.cluster import ClusterConfig
from signaling.errors import Invalid
from signaling.forward import SourceTrack
from signaling.peers import close_pc, new_pc
from signaling.sdp import MediaLine, parse_offer
from signaling.settings import MediaSettings
from signaling.stage import LABELS

log = logging.getLogger("halqa.edge")
Spawn = Callable[[Any], None]
PULL_PATH = "/internal/pull/{session_id}"
# The holder coalesces keyframe requests for the publisher (the encoder's
# protection, signaling/forward.py's KeyframeGate); coalescing again on the
# edge with the same window only stacks a second one on a new viewer's first
# frame. One PLI per 50 ms per track is still no storm on the pull. (The
# ~560 ms waits once blamed on this window were the holder's deferred PLI
# landing inside the speaker's own 300 ms, and ignored: see
# MediaSettings.keyframe_min_interval_ms.)
EDGE_KEYFRAME_INTERVAL_S = 0.05


# A pulled channel that sent nothing this long is off air (audio is ~50 packets/s).
FLOWING_S = 1.0
# Languages one pull carries at most (two audio sections each): an event has a
# handful; more in a request is a mistake or an attack on the holder.
MAX_PULL_LANGUAGES = 8


def pull_layout(positions: int, languages: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(kind, label) of each section of a pull: every position's slots, who is
    on air, then each language's channel and its `?audio=` mix (booths.py labels)."""
    slots = [("audio" if label == "audio" else "video", label)
             for label in (LABELS[i % 3] for i in range(positions * 3))]
    langs = [("audio", label) for lang in languages
             for label in (channel_label(lang), with_floor_label(lang))]
    return [*slots, ("audio", "audio"), ("video", "camera"), *langs]


def pull_kinds(positions: int, languages: Sequence[str] = ()) -> list[str]:
    """Section kinds of a pull offer."""
    return [kind for kind, _ in pull_layout(positions, languages)]


def pull_languages(query: str | None) -> list[str]:
    """The languages a pull request names (`?languages=ar,fr`); Invalid if malformed."""
    if not query:
        return []
    languages = query.split(",")
    if len(languages) > MAX_PULL_LANGUAGES:
        raise Invalid("invalid", f"a pull carries at most {MAX_PULL_LANGUAGES} languages")
    if len(set(languages)) != len(languages):
        raise Invalid("invalid", "a pull names each language once")
    return [check_language(lang) for lang in languages]


def check_pull_offer(
    lines: list[MediaLine], positions: int, languages: Sequence[str] = ()
) -> str | None:
    """Why a pull offer does not fit this stage's layout, or None."""
    kinds = pull_kinds(positions, languages)
    if len(lines) != len(kinds):
        return f"a pull offer has {len(kinds)} media sections"
    for i, (line, kind) in enumerate(zip(lines, kinds, strict=True)):
        if line.kind != kind:
            return f"media section {i} must be {kind}"
    return None


class PullRefused(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"holder answered {status}: {body[:200]}")
        self.status = status


class Pull:
    """The edge's side of one pull: one stage, from one holder."""

    def __init__(
        self, session_id: str, holder: str, holder_url: str, positions: int,
        media: MediaSettings, spawn: Spawn, languages: Sequence[str] = (),
    ) -> None:
        self.session_id = session_id
        self.holder = holder
        self.holder_url = holder_url
        self.positions = positions
        self.languages = tuple(languages)
        self.by_label: dict[str, SourceTrack] = {}  # language sections, by booths.py label
        self.media = media
        self.spawn = spawn
        self.pc = new_pc()
        self.tracks: list[SourceTrack] = []
        self.location: str | None = None
        self.created_at = time.monotonic()
        self.closed = False

    @property
    def connected(self) -> bool:
        return self.pc.connectionState == "connected"

    def source(
        self, mode: str, kind: str, label: str, position: int, language: str | None = None
    ) -> SourceTrack | None:
        """The pulled track an edge viewer's slot follows (same rules as the origin)."""
        if not self.tracks:
            return None
        if mode == "whep" or position < 0:
            if kind == "audio" and language and (mix := self.by_label.get(
                    with_floor_label(language))):
                return mix  # `?audio=ar`: the holder switches it between channel and floor
            return self.tracks[self.positions * 3 + (0 if kind == "audio" else 1)]
        if position >= self.positions:
            return None
        return self.tracks[position * 3 + LABELS.index(label)]

    def channel(self, language: str | None) -> SourceTrack | None:
        """A language's channel alone (silent while nobody interprets it)."""
        return self.by_label.get(channel_label(language)) if language else None

    def flowing(self, within_s: float = FLOWING_S) -> list[str]:
        """Languages whose channel reached us lately: the holder sends one only
        while an interpreter is on air for it."""
        now = time.monotonic()
        return [lang for lang in self.languages
                if (track := self.channel(lang)) is not None
                and now - track.last_packet_at < within_s]

    async def open(self, cluster: ClusterConfig, http: aiohttp.ClientSession) -> None:
        layout = pull_layout(self.positions, self.languages)
        for kind, _ in layout:
            self.pc.addTransceiver(kind, direction="recvonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        offer = self.pc.localDescription.sdp
        lines = parse_offer(offer, want="recv")
        for transceiver, line, (_, label) in zip(
                self.pc.getTransceivers(), lines, layout, strict=True):
            receiver = transceiver.receiver

            def ask(ssrc: int, receiver: Any = receiver) -> None:
                self.spawn(ai.send_pli(receiver, ssrc))

            track = SourceTrack(
                line.kind, label, dict(line.mimes), ask,
                cache_size=self.media.packet_cache,
                min_interval=min(
                    self.media.keyframe_min_interval_ms / 1000, EDGE_KEYFRAME_INTERVAL_S),
            )
            ai.tap_receiver(receiver, track.on_packet)
            self.tracks.append(track)
            if language_of_label(label) is not None:
                self.by_label[label] = track
        path = PULL_PATH.format(session_id=self.session_id)
        if self.languages:
            path += "?languages=" + ",".join(self.languages)
        body = offer.encode()
        headers = {**cluster.sign("POST", path, body), "Content-Type": "application/sdp"}
        async with http.post(self.holder_url + path, data=body, headers=headers,
                             timeout=aiohttp.ClientTimeout(total=10)) as r:
            text = await r.text()
            if r.status != 201:
                raise PullRefused(r.status, text)
            self.location = r.headers.get("Location")
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=text, type="answer"))
        ai.grow_receive_buffers(self.pc.getTransceivers()[0].receiver.transport, 4 << 20)

    def retry_keyframes(self, retry_s: float) -> None:
        """Edge viewers still waiting for a keyframe ask again (as the registry's tick does)."""
        now = time.monotonic()
        for track in self.tracks:
            if track.waiting and now - track.last_packet_at < retry_s:
                track.request_keyframe()

    async def close(self, cluster: ClusterConfig, http: aiohttp.ClientSession | None) -> None:
        if self.closed:
            return
        self.closed = True
        for track in self.tracks:
            track.close()
        if http is not None and self.location:
            # Tell the holder at once; without it the holder notices by ICE timeout.
            try:
                headers = cluster.sign("DELETE", self.location)
                async with http.delete(self.holder_url + self.location, headers=headers,
                                       timeout=aiohttp.ClientTimeout(total=2)):
                    pass
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.info("pull of %s: DELETE at the holder failed: %r", self.session_id, exc)
        await close_pc(self.pc)
