"""All stages this process hosts: admission, ownership, lifecycle, the ticker."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from signaling.errors import Conflict, Forbidden, NotFound, RateLimited, Unavailable
from signaling.host import Admit, Caller
from signaling.peers import close_pc, new_id, open_publisher, open_viewer
from signaling.sdp import parse_offer
from signaling.settings import MediaSettings
from signaling.stage import Publisher, Stage, Viewer

log = logging.getLogger("halqa.stage")
Listener = Callable[[dict[str, Any]], Awaitable[None]]


class StageRegistry:
    def __init__(self, media: MediaSettings, admit: Admit | None = None) -> None:
        self.media = media
        # The host's say before any resource is made (session in the program,
        # caller not banned); None admits everyone (a bare media server).
        self.admit = admit
        # Viewers being negotiated now (owner, address): counted by the caps
        # so concurrent offers cannot all slip past them.
        self._opening: list[tuple[str, str]] = []
        self.stages: dict[str, Stage] = {}
        self.listeners: list[Listener] = []
        self._tasks: set[asyncio.Future[Any]] = set()
        self._offers: dict[str, deque[float]] = {}
        self._ticker: asyncio.Task[None] | None = None
        # Resource ids; a cluster node makes them name itself (signaling/cluster.py).
        self.new_id: Callable[[], str] = new_id
        # Set on a node that stops taking viewers (SIGTERM drain).
        self.draining = False
        # The stage as its holder sees it, whichever node holds it (the node sets it).
        self.lookup: Callable[[str], Awaitable[dict[str, Any]]] | None = None
        # Choosing the program where the stage's publishers are (the node sets it).
        self.on_air_elsewhere: Callable[[str, str | None], Awaitable[dict[str, Any]]] | None = None
        # The event's interpretation languages: an edge pulls each one's channel.
        self.languages: tuple[str, ...] = ()
        # interpretation:listen/:handover when the viewer or the booths are on
        # another node (the node sets it): (op, session, payload) -> the reply.
        self.interpretation_elsewhere: Callable[
            [str, str, dict[str, Any]], Awaitable[dict[str, Any]]] | None = None

    # -- plumbing -----------------------------------------------------------
    def spawn(self, coro: Any) -> None:
        """Run a coroutine we do not await, but keep it owned (no lost tasks)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def stage(self, session_id: str) -> Stage:
        stage = self.stages.get(session_id)
        if stage is None:
            stage = Stage(session_id, self.media.max_publishers, self.media.screen_idle_s)
            stage.on_change = self._notify
            self.stages[session_id] = stage
        return stage

    def snapshot(self, session_id: str) -> dict[str, Any]:
        """What clients see of a stage: an empty one when nobody is on it."""
        stage = self.stages.get(session_id)
        if stage is None:
            stage = Stage(session_id, self.media.max_publishers, self.media.screen_idle_s)
        return stage.snapshot()

    async def current(self, session_id: str) -> dict[str, Any]:
        """Like `snapshot`, but asks the stage's holder when it is another node."""
        if self.lookup is None:
            return self.snapshot(session_id)
        return await self.lookup(session_id)

    def _drop_if_empty(self, stage: Stage) -> None:
        if stage.empty and self.stages.get(stage.session_id) is stage:
            del self.stages[stage.session_id]

    def _notify(self, stage: Stage) -> None:
        snap = stage.snapshot()
        for listener in self.listeners:
            self.spawn(listener(snap))

    def live_sessions(self) -> set[str]:
        return {sid for sid, stage in self.stages.items() if stage.live}

    def counts(self) -> dict[str, int]:
        return {
            "stages": len(self.stages),
            "publishers": sum(len(s.publishers) for s in self.stages.values()),
            "viewers": self.viewer_total(),
            "pulls_served": sum(
                1 for s in self.stages.values() for v in s.viewers.values() if v.mode == "pull"
            ),
            "tasks": len(self._tasks),
            "send_drops": sum(v.drops for s in self.stages.values() for v in s.viewers.values()),
            "packets_in": sum(
                t.packets
                for s in self.stages.values()
                for p in s.publishers.values()
                for t in p.tracks.values()
            ),
        }

    def viewer_total(self) -> int:
        """Viewers this process serves across its stages (pulls excluded)."""
        return sum(
            1 for s in self.stages.values() for v in s.viewers.values() if v.mode != "pull"
        )

    def has_room(self, session_id: str) -> bool:
        stage = self.stages.get(session_id)
        here = 0 if stage is None else sum(1 for v in stage.viewers.values() if v.mode != "pull")
        return (not self.draining and here < self.media.max_viewers
                and self.viewer_total() + len(self._opening) < self.media.max_viewers_total)

    def _rate_limit(self, key: str) -> None:
        now = time.monotonic()
        window = self._offers.setdefault(key, deque())
        while window and now - window[0] > 10:
            window.popleft()
        if len(window) >= self.media.offers_per_10s:
            raise RateLimited(
                "too_many_offers",
                "too many offers from you in 10 seconds; wait and retry",
                retry_after=10,
            )
        window.append(now)

    # -- publishers ---------------------------------------------------------
    async def publish(
        self, session_id: str, caller: Caller, offer: str
    ) -> tuple[Publisher, str]:
        if not caller.can_publish(session_id):
            raise Forbidden("forbidden", "this token may not publish to this session")
        self._rate_limit(caller.key)
        # Audio, camera and a screen (the studio); one spare for other encoders.
        lines = parse_offer(offer, want="send", max_sections=4)
        if self.admit is not None:
            await self.admit(caller, session_id, "publish")
        stage = self.stage(session_id)
        replaced: Publisher | None = None
        if caller.one_seat:
            # A speaker is one person: a new publish from the same token is the
            # studio reloading, so it takes over the old position at once
            # instead of waiting ~30 s for the old connection's ICE to expire.
            replaced = next(
                (p for p in stage.publishers.values() if p.owner == caller.key), None
            )
        if replaced is not None:
            position: int | None = replaced.position
            await self._close_publisher(stage, replaced, notify=False)
        else:
            position = stage.free_position()
        if position is None:
            self._drop_if_empty(stage)
            raise Conflict(
                "too_many_speakers",
                f"this stage already has {stage.max_publishers} speakers live",
            )
        pub, answer = await open_publisher(
            stage,
            owner=caller.key,
            name=caller.name,
            role=caller.role,
            position=position,
            offer_text=offer,
            lines=lines,
            media=self.media,
            spawn=self.spawn,
            rid=self.new_id(),
        )
        stage.add_publisher(pub)

        @pub.pc.on("connectionstatechange")
        def _state() -> None:
            state = pub.pc.connectionState
            if state == "connected" and not pub.connected:
                pub.connected = True
                stage.rebind()
                stage.changed()
            elif state in ("failed", "closed") and pub.id in stage.publishers:
                log.warning("publisher %s on %s: connection %s", pub.id, stage.session_id, state)
                self.spawn(self._close_publisher(stage, pub))

        return pub, answer

    async def _close_publisher(self, stage: Stage, pub: Publisher, notify: bool = True) -> None:
        # A speaker, or an interpreter (signaling/interpretation.py): the
        # booth puts the next interpreter on air when this one was.
        if stage.publishers.get(pub.id) is pub or stage.booths.remove(pub):
            stage.remove_publisher(pub, notify=notify)
        await close_pc(pub.pc)
        self._drop_if_empty(stage)

    # -- viewers ------------------------------------------------------------
    def _admit(self, session_id: str, caller: Caller, address: str) -> None:
        """Room on the stage, then the caps over every stage of this process
        together, viewers still negotiating included: one identity or one
        address cannot fill the stages however many offers it sends."""
        if not self.has_room(session_id) and not caller.own_process:
            raise Unavailable(
                "stage_full",
                "this stage is serving as many viewers as it can; try again shortly",
                retry_after=30,
            )
        if caller.unlimited_viewers:
            return
        viewers = [v for s in self.stages.values() for v in s.viewers.values() if v.mode != "pull"]
        mine = sum(1 for v in viewers if v.owner == caller.key) + sum(
            1 for owner, _ in self._opening if owner == caller.key)
        if mine >= self.media.max_viewers_per_caller:
            raise RateLimited(
                "too_many_viewers",
                f"you already hold {mine} players or tabs; close one first",
                retry_after=int(self.media.pending_timeout_s) + 1,
            )
        if address:
            near = sum(1 for v in viewers if v.address == address) + sum(
                1 for _, a in self._opening if a == address)
            if near >= self.media.max_viewers_per_address:
                raise RateLimited(
                    "too_many_viewers",
                    "too many players from your network address; try again shortly",
                    retry_after=int(self.media.pending_timeout_s) + 1,
                )

    async def watch(
        self, session_id: str, caller: Caller, offer: str, mode: str, address: str = ""
    ) -> tuple[Viewer, str]:
        # Every caller the host resolves may watch (registration is for the
        # event), unless the host says no (unknown session, a ban).
        self._rate_limit(caller.key)
        # A browser: three slots per position, and the interpretation slot (peers.py).
        max_sections = self.media.max_publishers * 3 + 1 if mode == "browser" else 4
        lines = parse_offer(offer, want="recv", max_sections=max_sections)
        if self.admit is not None:
            await self.admit(caller, session_id, "watch")
        self._admit(session_id, caller, address)
        held = (caller.key, address)
        self._opening.append(held)
        try:
            viewer, answer = await self.attach_viewer(
                self.stage(session_id), caller.key, mode, offer, lines)
        finally:
            self._opening.remove(held)
        viewer.address = address
        return viewer, answer

    async def attach_viewer(
        self, stage: Stage, owner: str, mode: str, offer: str, lines: list[Any],
        labels: Sequence[str] = (),
    ) -> tuple[Viewer, str]:
        """Open an admitted viewer's peer connection and put it on the stage."""
        try:
            viewer, answer = await open_viewer(
                stage, owner=owner, mode=mode, offer_text=offer, lines=lines, rid=self.new_id(),
                labels=labels,
            )
        except BaseException:
            self._drop_if_empty(stage)
            raise
        stage.viewers[viewer.id] = viewer

        @viewer.pc.on("connectionstatechange")
        def _state() -> None:
            state = viewer.pc.connectionState
            if state == "connected" and not viewer.connected:
                self._wire_viewer(stage, viewer)
            elif state in ("failed", "closed") and viewer.id in stage.viewers:
                self.spawn(self.close_viewer(stage, viewer))

        return viewer, answer

    def _wire_viewer(self, stage: Stage, viewer: Viewer) -> None:
        if viewer.id not in stage.viewers or not viewer.wire():
            return  # not keyed yet; the ticker tries again
        viewer.connected = True
        stage.rebind([viewer])
        stage.changed()

    async def close_viewer(self, stage: Stage, viewer: Viewer) -> None:
        if stage.remove_viewer(viewer.id) is not None:
            stage.changed()
        await close_pc(viewer.pc)
        self._drop_if_empty(stage)

    # -- resources ----------------------------------------------------------
    def find(
        self, kind: str, session_id: str, resource_id: str
    ) -> tuple[Stage, Publisher | Viewer]:
        stage = self.stages.get(session_id)
        table: dict[str, Any] = {}
        if stage is not None:
            table = ({**stage.publishers, **stage.booths.interpreters} if kind == "publisher"
                     else stage.viewers)
        res = table.get(resource_id)
        if stage is None or res is None:
            raise NotFound("not_found", f"no such {kind} resource")
        return stage, res

    async def delete(
        self, kind: str, session_id: str, resource_id: str, caller: Caller
    ) -> None:
        stage, res = self.find(kind, session_id, resource_id)
        if res.owner != caller.key and not caller.can_moderate(session_id):
            raise Forbidden("not_owner", "this resource belongs to someone else")
        if isinstance(res, Publisher):
            await self._close_publisher(stage, res)
        else:
            await self.close_viewer(stage, res)

    async def choose_on_air(self, session_id: str, publisher_id: str | None) -> dict[str, Any]:
        """`put_on_air` on the node holding the stage, whichever node is asked."""
        stage = self.stages.get(session_id)
        if (stage is None or not stage.publishers) and self.on_air_elsewhere is not None:
            return await self.on_air_elsewhere(session_id, publisher_id)
        return self.put_on_air(session_id, publisher_id).snapshot()

    def close_owner(self, owner: str, session_id: str | None = None) -> int:
        """Revocation: close every resource (publisher or viewer) of one identity
        in this process, in one session or (None) all. They leave the stage at
        once (viewers stop getting packets, a speaker leaves the air); their
        peer connections are closed in the background. Returns how many.

        Other processes are told by the host (a revocation or ban is announced
        through the shared store, and each process calls this)."""
        closed = 0
        for stage in list(self.stages.values()):
            if session_id is not None and stage.session_id != session_id:
                continue
            for pub in [p for p in stage.publishers.values() if p.owner == owner]:
                self.spawn(self._close_publisher(stage, pub))
                closed += 1
            for viewer in [v for v in stage.viewers.values() if v.owner == owner]:
                self.spawn(self.close_viewer(stage, viewer))
                closed += 1
        return closed

    def put_on_air(self, session_id: str, publisher_id: str | None) -> Stage:
        stage = self.stages.get(session_id)
        if stage is None or (publisher_id is not None and publisher_id not in stage.publishers):
            raise NotFound("not_found", "no such speaker live on this stage")
        stage.on_air_id = publisher_id
        stage.rebind()
        stage.changed()
        return stage

    # -- housekeeping -------------------------------------------------------
    def tick(self) -> None:
        """Twice a second: timeouts, late wiring, keyframe retries, screen idle, SRs."""
        now = time.monotonic()
        limit = self.media.connect_timeout_s
        retry = self.media.keyframe_retry_ms / 1000
        for stage in list(self.stages.values()):
            for pub in [*stage.publishers.values(), *stage.booths.interpreters.values()]:
                if not pub.connected and now - pub.created_at > limit:
                    log.warning("publisher %s never connected; closing", pub.id)
                    self.spawn(self._close_publisher(stage, pub))
            for viewer in list(stage.viewers.values()):
                if not viewer.connected:
                    if viewer.pc.connectionState == "connected":
                        self._wire_viewer(stage, viewer)
                    elif now - viewer.created_at > self.media.pending_timeout_s:
                        self.spawn(self.close_viewer(stage, viewer))
                    continue
                viewer.send_reports()
            for pub in stage.publishers.values():
                for track in pub.tracks.values():
                    # Viewers still waiting for a keyframe (the first was lost,
                    # or the publisher ignored the ask): ask again.
                    if track.waiting and now - track.last_packet_at < retry:
                        track.request_keyframe()
            if stage.upstream is not None:  # an edge: the same, through the pull
                stage.upstream.retry_keyframes(retry)
            # Screen shares start/stop by packet flow (OBS has no socket);
            # rebinding only when that changes keeps the tick cheap.
            screens = tuple(p.screen_active(stage.screen_idle_s) for p in stage.publishers.values())
            if screens != stage.screen_key:
                stage.screen_key = screens
                stage.rebind()
            stage.changed()

    async def _run_ticker(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            try:
                self.tick()
            except Exception:  # keep ticking: one bad stage must not stop them all
                log.exception("stage ticker failed")

    def start(self) -> None:
        self._ticker = asyncio.create_task(self._run_ticker())

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        for stage in list(self.stages.values()):
            for pub in [*stage.publishers.values(), *stage.booths.interpreters.values()]:
                await self._close_publisher(stage, pub, notify=False)
            for viewer in list(stage.viewers.values()):
                await self.close_viewer(stage, viewer)
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
