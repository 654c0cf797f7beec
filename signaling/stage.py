"""A stage: one session's publishers, viewers, and who is on air.

Publishers sit at positions 0..max-1. A browser viewer has fixed slots, three
per position (audio, camera, screen); each slot follows whoever holds that
position, so a speaker who reloads lands in the same slots and viewers resume
with no signaling at all. A WHEP viewer has two slots that follow who is on air.

Words: the *on-air* publisher is the one a single-video player shows (the
moderator's pick, else the first live); the event's schedule is the *program*
(server/program.py). On the wire the on-air publisher keeps its first name,
`program` (snapshot key and the `stage:program` event), so clients keep working.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiortc import RTCPeerConnection

from signaling import aiortc_internals as ai
from signaling.booths import INTERPRETATION, Booths, language_of_label
from signaling.forward import OutStream, SourceTrack

if TYPE_CHECKING:
    from signaling.edge import Pull

LABELS = ("audio", "camera", "screen")
STALL_S = 1.5  # seconds without any packet from a publisher (audio alone is ~50/s)
VIEWER_COUNT_EVERY = 1.5  # seconds; keeps the shown count within 2 s of the truth


@dataclass(eq=False)
class Publisher:
    id: str
    session_id: str
    owner: str  # Principal.key
    name: str
    role: str
    position: int
    pc: RTCPeerConnection
    tracks: dict[str, SourceTrack] = field(default_factory=dict)
    created_at: float = field(default_factory=time.monotonic)
    connected: bool = False
    joined_seq: int = 0  # order of going live, for the "first live" on-air default

    def screen_active(self, idle_s: float) -> bool:
        track = self.tracks.get("screen")
        return track is not None and time.monotonic() - track.last_packet_at < idle_s

    def stalled(self) -> bool:
        """Connected, but no packet on any track for STALL_S: the speaker's
        network dropped. ICE takes ~30 s to call it failed; viewers are told
        at once (they show "reconnecting"), and the speaker's new connection
        takes this position over."""
        if not self.connected or not self.tracks:
            return False
        last = max(t.last_packet_at for t in self.tracks.values())
        return last > 0 and time.monotonic() - last > STALL_S

    def public(self, idle_s: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "position": self.position,
            "audio": "audio" in self.tracks,
            "camera": "camera" in self.tracks,
            "screen": self.screen_active(idle_s),
            "connected": self.connected,
            "stalled": self.stalled(),
        }


@dataclass(eq=False)
class Viewer:
    id: str
    session_id: str
    owner: str
    # "whep" (follows who is on air) | "browser" (every position) | "pull"
    # (another node: every position, then who is on air; see signaling/edge.py)
    mode: str
    pc: RTCPeerConnection
    address: str = ""  # the client's network address (per-address caps)
    outs: list[OutStream] = field(default_factory=list)
    created_at: float = field(default_factory=time.monotonic)
    connected: bool = False
    rtcp: ai.Writer | None = None
    # The interpretation language this viewer listens to (None: the floor).
    language: str | None = None
    drops: int = 0  # RTP packets the socket refused (buffer full): overload shows here

    def _dropped(self) -> None:
        self.drops += 1

    def wire(self) -> bool:
        """Point every slot at the viewer's SRTP socket once ICE+DTLS are up."""
        dtls = self.pc.getSenders()[0].transport if self.pc.getSenders() else None
        if dtls is None:
            return False
        writer = ai.rtp_writer(dtls, self._dropped)
        if writer is None:
            return False
        self.rtcp = ai.rtcp_writer(dtls)
        for out in self.outs:
            out.write = writer
        return True

    def send_reports(self) -> None:
        if self.rtcp is None:
            return
        reports = [r for r in (out.sender_report() for out in self.outs) if r is not None]
        if reports:
            try:
                self.rtcp(b"".join(reports))
            except Exception:
                self.rtcp = None


class Stage:
    def __init__(self, session_id: str, max_publishers: int, screen_idle_s: float) -> None:
        self.session_id = session_id
        self.max_publishers = max_publishers
        self.screen_idle_s = screen_idle_s
        self.publishers: dict[str, Publisher] = {}
        self.booths = Booths()  # interpretation channels (signaling/booths.py)
        self.viewers: dict[str, Viewer] = {}
        self.on_air_id: str | None = None  # the moderator's pick
        self._joined = 0
        self.screen_key: tuple[bool, ...] = ()
        self._last_emit = 0.0
        self._last_snapshot: dict[str, Any] | None = None
        self.on_change: Callable[[Stage], None] = lambda stage: None
        # On an edge: the holder's node id, and the pull feeding our viewers.
        # An edge never speaks for the stage (the holder's snapshot does).
        self.follows: str | None = None
        self.upstream: Pull | None = None
        # On the holder: viewers other nodes serve (read from the directory).
        self.remote_viewers = 0

    # -- publishers ---------------------------------------------------------
    def free_position(self) -> int | None:
        taken = {p.position for p in self.publishers.values()}
        return next((i for i in range(self.max_publishers) if i not in taken), None)

    def add_publisher(self, pub: Publisher) -> None:
        self._joined += 1
        pub.joined_seq = self._joined
        self.publishers[pub.id] = pub

    def remove_publisher(self, pub: Publisher, *, notify: bool = True) -> None:
        """Take a speaker (or an interpreter, already out of its booth) off the
        stage: its tracks end and viewers' slots fall back (rebind) unless
        `notify` is False (its replacement is about to take the position)."""
        self.publishers.pop(pub.id, None)
        for track in pub.tracks.values():
            track.close()
        if notify:
            self.rebind()
            self.changed()

    def publisher_at(self, position: int) -> Publisher | None:
        return next((p for p in self.publishers.values() if p.position == position), None)

    @property
    def on_air(self) -> Publisher | None:
        """The speaker on air: the moderator's pick, else the first one live."""
        if self.on_air_id in self.publishers:
            return self.publishers[self.on_air_id]
        live = [p for p in self.publishers.values() if p.connected]
        return min(live, key=lambda p: p.joined_seq) if live else None

    @property
    def live(self) -> bool:
        return any(p.connected for p in self.publishers.values())

    @property
    def held(self) -> bool:
        """This process is the stage's origin: a speaker or an interpreter
        publishes here. (Interpreters count: one who reaches the stage before
        any speaker claims it, and the speakers must then come to them.)"""
        return bool(self.publishers or self.booths.interpreters)

    # -- viewers ------------------------------------------------------------
    def channel(self, language: str | None) -> SourceTrack | None:
        """A language's interpretation channel, None (or silent) while nobody interprets it."""
        if self.upstream is not None and not self.held:
            return self.upstream.channel(language)
        return self.booths.source(language)

    def live_languages(self) -> list[str]:
        """Languages an interpreter is on air for. The holder knows from its
        booths; an edge from its pull: the holder sends a language's channel
        only while someone interprets it (for what a listener hears now, ask
        the holder: `interpretation.live_languages`)."""
        if self.upstream is not None and not self.held:
            return self.upstream.flowing()
        return self.booths.live()

    def source_for(self, viewer: Viewer, out: OutStream) -> SourceTrack | None:
        if out.label == INTERPRETATION:  # a browser viewer's interpretation slot
            return self.channel(viewer.language)
        if self.upstream is not None and not self.held:
            # An edge: the pull feeds us. Publishers or interpreters here (this
            # node just became the holder) win at once, before the next beat
            # drops the pull.
            return self.upstream.source(
                viewer.mode, out.kind, out.label, out.position, viewer.language)
        pulled = language_of_label(out.label)
        if pulled is not None:  # an edge's pull: a language's channel, or its `?audio=` mix
            language, with_floor = pulled
            return self._audio(language) if with_floor else self.booths.source(language)
        if viewer.mode == "whep" or out.position < 0:
            if out.kind == "audio":
                return self._audio(viewer.language)
            pub = self.on_air
            if pub is None:
                return None
            # The on-air speaker's screen share, when there is one, is what a
            # single-video player should show; otherwise its camera.
            if pub.screen_active(self.screen_idle_s):
                return pub.tracks.get("screen")
            return pub.tracks.get("camera")
        pub = self.publisher_at(out.position)
        if pub is None or not pub.connected:
            return None
        return pub.tracks.get(out.label)

    def _audio(self, language: str | None) -> SourceTrack | None:
        """What a one-audio-track player hears (`?audio=ar`): the language's
        channel while an interpreter is on air, the floor otherwise."""
        if channel := self.booths.source(language):
            return channel
        pub = self.on_air
        return pub.tracks.get("audio") if pub is not None else None

    def rebind(self, viewers: list[Viewer] | None = None) -> None:
        for viewer in viewers if viewers is not None else list(self.viewers.values()):
            if not viewer.connected:
                continue
            for out in viewer.outs:
                out.set_source(self.source_for(viewer, out))

    def remove_viewer(self, viewer_id: str) -> Viewer | None:
        viewer = self.viewers.pop(viewer_id, None)
        if viewer is not None:
            for out in viewer.outs:
                out.close()
            viewer.rtcp = None
        return viewer

    # -- what clients see ---------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        on_air = self.on_air
        return {
            "session": self.session_id,
            "live": self.live,
            "program": on_air.id if on_air else None,  # wire name: who is on air
            "publishers": sorted(
                (p.public(self.screen_idle_s) for p in self.publishers.values() if p.connected),
                key=lambda p: p["position"],
            ),
            "viewers": self.local_viewers() + self.remote_viewers,
            "interpretation": self.booths.public(),
            "slots": {"positions": self.max_publishers, "labels": list(LABELS)},
        }

    def local_viewers(self) -> int:
        """Viewers this process serves (another node's pull is not one)."""
        return sum(1 for v in self.viewers.values() if v.connected and v.mode != "pull")

    def changed(self) -> None:
        """Tell listeners if what clients see has changed (idempotent).

        Speakers, screens and who is on air go out at once; a change of the
        viewer count alone at most every VIEWER_COUNT_EVERY seconds (the ticker
        calls this twice a second), so a crowd joining is not a broadcast storm.
        """
        if self.follows is not None and not self.held:
            return
        snap = self.snapshot()
        last = self._last_snapshot
        if snap == last:
            return
        now = time.monotonic()
        only_count = last is not None and {**snap, "viewers": 0} == {**last, "viewers": 0}
        if only_count and now - self._last_emit < VIEWER_COUNT_EVERY:
            return
        self._last_snapshot = snap
        self._last_emit = now
        self.on_change(self)

    @property
    def empty(self) -> bool:
        return not self.publishers and not self.viewers and not self.booths.interpreters
