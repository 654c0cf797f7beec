"""This process as a node of the cluster: claims, beats, pulls, drain.

Every second the node beats into the stage directory (signaling/directory.py):
it renews its claims on the stages whose publishers it holds, says how many
viewers it serves of which stage, and reads the other nodes back. From that:
  * as a holder, it learns how many viewers other nodes serve of its stages
    (the count every viewer sees), and whether a claim was taken over (its
    publishers are then closed, so they reconnect to the stage's one origin);
  * as an edge, it keeps exactly one pull per stage it serves viewers of and
    does not hold, from the directory's holder and from nowhere else, and
    re-pulls when the holder changes (a holder died, a stage moved).
Requests between nodes are signed (signaling/cluster.py); routing public
WHIP/WHEP requests to the right node is signaling/relay.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import aiohttp

from signaling.cluster import ClusterConfig
from signaling.directory import NodeInfo, StageDirectory
from signaling.edge import Pull, PullRefused
from signaling.registry import StageRegistry
from signaling.stage import Publisher, Stage

log = logging.getLogger("halqa.node")
BEAT_S = 1.0
TTL_S = 3.0  # a node silent this long is dead: its claims free, edges re-pull
PULL_IDLE_S = 5.0  # a pull with no viewer left closes after this long


class Node:
    def __init__(
        self, registry: StageRegistry, cluster: ClusterConfig, directory: StageDirectory
    ) -> None:
        self.registry = registry
        self.cluster = cluster
        self.directory = directory
        self.id = cluster.node_id
        self.pulls: dict[str, Pull] = {}
        self.nodes: dict[str, NodeInfo] = {}
        self.held: set[str] = set()
        self.draining = False
        self.http: aiohttp.ClientSession | None = None
        self._pulling: dict[str, asyncio.Task[None]] = {}
        self._idle_since: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._cpu = (time.monotonic(), time.process_time())
        self.load = 0.0
        self.directory_ok = True
        registry.new_id = cluster.new_resource_id

    # -- lifecycle ----------------------------------------------------------
    async def start(self) -> None:
        self.http = aiohttp.ClientSession()
        with contextlib.suppress(Exception):
            await self.beat()
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for task in list(self._pulling.values()):
            task.cancel()
        await asyncio.gather(*self._pulling.values(), return_exceptions=True)
        for session in list(self.pulls):
            await self.drop_pull(session)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.directory.leave(self.id), 2)
        if self.http is not None:
            await self.http.close()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(BEAT_S)
            try:
                await self.beat()
                if not self.directory_ok:
                    log.warning("stage directory reachable again")
                self.directory_ok = True
            except Exception as exc:  # Redis away: keep serving what we serve
                if self.directory_ok:
                    log.warning("stage directory unreachable: %r; serving on", exc)
                self.directory_ok = False

    # -- the beat -----------------------------------------------------------
    def info(self) -> NodeInfo:
        now, cpu = time.monotonic(), time.process_time()
        then, cpu_then = self._cpu
        if now - then > 0.2:
            self.load = round((cpu - cpu_then) / (now - then), 3)
            self._cpu = (now, cpu)
        stages = self.registry.stages
        return NodeInfo(
            id=self.id,
            url=self.cluster.internal_url,
            viewers=self.registry.viewer_total(),
            capacity=self.registry.media.max_viewers_total,
            draining=self.draining,
            held=tuple(sorted(self.held)),
            pulls=len(self.pulls),
            served_pulls=sum(
                1 for s in stages.values() for v in s.viewers.values() if v.mode == "pull"
            ),
            load=self.load,
            audience={sid: n for sid, s in stages.items() if (n := s.local_viewers())},
            at=time.time(),
        )

    async def beat(self) -> None:
        stages = self.registry.stages
        holding = {sid for sid, s in stages.items() if s.held}
        for session in self.held - holding:
            await self.directory.release(session, self.id)
        self.held = holding
        lost = await self.directory.beat(self.info(), TTL_S)
        for session in lost:
            await self._lost(session)
        self.nodes = {n.id: n for n in await self.directory.nodes()}
        for sid in self.held:
            stage = stages.get(sid)
            if stage is not None:
                stage.remote_viewers = sum(
                    n.audience.get(sid, 0) for n in self.nodes.values() if n.id != self.id
                )
        await self._refresh_pulls()

    async def _lost(self, session: str) -> None:
        """Another node holds this stage now: one origin per stage, so ours yields."""
        self.held.discard(session)
        stage = self.registry.stages.get(session)
        if stage is None:
            return
        log.warning("stage %s is held by another node now; closing its publishers here", session)
        for pub in _publishers(stage):
            await self.registry._close_publisher(stage, pub)

    async def claim(self, session: str) -> str:
        holder = await self.directory.claim(session, self.id, TTL_S)
        if holder == self.id:
            self.held.add(session)
        return holder

    async def takeover(self, session: str, dead: str) -> str:
        log.warning("node %s does not answer; taking stage %s over", dead, session)
        holder = await self.directory.takeover(session, self.id, dead, TTL_S)
        if holder == self.id:
            self.held.add(session)
        return holder

    async def holder_of(self, session: str) -> str | None:
        """Who holds `session` now; None if nobody does or the directory is away
        (the caller then answers as a lone process would)."""
        try:
            return (await self.directory.holders([session]))[session]
        except Exception:
            return None

    def url_of(self, node: str) -> str | None:
        info = self.nodes.get(node)
        return info.url if info is not None else None

    def with_room(self, session: str) -> NodeInfo | None:
        """The live node (not us) with the most room for one more viewer."""
        now = time.time()
        fits = [
            n for n in self.nodes.values()
            if n.id != self.id and n.room > 0 and now - n.at < TTL_S
            and n.audience.get(session, 0) < self.registry.media.max_viewers
        ]
        return max(fits, key=lambda n: n.room, default=None)

    # -- edge ---------------------------------------------------------------
    async def _refresh_pulls(self) -> None:
        now = time.monotonic()
        wanted = {
            sid for sid, s in self.registry.stages.items()
            if not s.held and s.local_viewers() + _pending(s) > 0
        }
        for sid in list(self.pulls):
            if sid in wanted:
                self._idle_since.pop(sid, None)
            elif now - self._idle_since.setdefault(sid, now) > PULL_IDLE_S:
                await self.drop_pull(sid)
        wanted |= set(self.pulls)
        if not wanted:
            return
        holders = await self.directory.holders(sorted(wanted))
        for sid, holder in holders.items():
            self.follow(sid, holder)

    def follow(self, session: str, holder: str | None) -> None:
        """Make sure our viewers of `session` are fed from `holder` (None: nobody)."""
        stage = self.registry.stages.get(session)
        pull = self.pulls.get(session)
        if stage is None:
            # Our last viewer left: the pull idles PULL_IDLE_S (`_refresh_pulls`
            # closes it then) so that the next viewer does not wait for a new
            # one, unless it pulls from a node that no longer holds the stage.
            # (Dropped at the next beat instead, 12 of 20 joins in
            # bench.join_latency --edge set up a pull, and waited for it.)
            if pull is not None and pull.holder != holder:
                self.registry.spawn(self.drop_pull(session))
            return
        if stage.held or holder in (None, self.id):
            if pull is not None:
                self.registry.spawn(self.drop_pull(session))
            if not stage.held:
                stage.follows = None
            return
        stage.follows = holder
        if pull is not None and pull.holder == holder and pull.pc.connectionState not in (
            "failed", "closed"
        ):
            if stage.upstream is not pull:
                # The stage emptied and was dropped while its pull idled (it
                # outlives its last viewer by PULL_IDLE_S): this is a new Stage
                # object, and without the pull its viewers get no media at all.
                stage.upstream = pull
                stage.rebind()
            return
        if session in self._pulling:
            return
        task = asyncio.create_task(self._pull(stage, holder))
        self._pulling[session] = task
        task.add_done_callback(lambda _t: self._pulling.pop(session, None))

    async def _pull(self, stage: Stage, holder: str) -> None:
        session = stage.session_id
        url = self.url_of(holder)
        if url is None or self.http is None:
            with contextlib.suppress(Exception):
                self.nodes = {n.id: n for n in await self.directory.nodes()}
            url = self.url_of(holder)
            if url is None or self.http is None:
                log.info("stage %s: holder %s has no address yet", session, holder)
                return
        old = self.pulls.pop(session, None)
        pull = Pull(session, holder, url, stage.max_publishers, self.registry.media,
                    self.registry.spawn, self.registry.languages)
        try:
            await pull.open(self.cluster, self.http)
        except BaseException as exc:
            # Whatever went wrong (a refusal, the network, a bad answer, our own
            # shutdown), the new pull closes and the old one stays tracked: an
            # untracked pull is never idle-dropped and the holder would feed it
            # for the life of the process.
            if isinstance(exc, PullRefused | aiohttp.ClientError | TimeoutError | OSError):
                log.warning("pull of %s from %s failed: %s", session, holder, exc)
            elif isinstance(exc, Exception):
                log.exception("pull of %s from %s failed", session, holder)
            await pull.close(self.cluster, None)
            if old is not None:
                self.pulls[session] = old
            if not isinstance(exc, Exception):
                raise
            return
        self.pulls[session] = pull
        # The stage as it is now: the one we started for may have emptied and
        # been replaced by a new viewer's while the pull connected.
        current = self.registry.stages.get(session)
        if current is not None and not current.held:
            current.upstream = pull
            current.rebind()  # our viewers' slots switch to the new pull's tracks
        log.info("stage %s: pulling from %s", session, holder)
        if old is not None:
            await old.close(self.cluster, self.http)

    async def drop_pull(self, session: str) -> None:
        pull = self.pulls.pop(session, None)
        self._idle_since.pop(session, None)
        stage = self.registry.stages.get(session)
        if stage is not None and stage.upstream is pull:
            stage.upstream = None
            stage.rebind()
        if pull is not None:
            await pull.close(self.cluster, self.http)

    # -- drain --------------------------------------------------------------
    async def drain(self, grace_s: float = 0.5) -> None:
        """SIGTERM: take no more viewers, hand stages over, let viewers go elsewhere.

        Claims are released first, so the publishers, reconnecting through
        any node, make that node the new holder; our viewers reconnect too
        (their pages do it by themselves) and land on nodes with room.
        """
        self.draining = True
        self.registry.draining = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.directory.beat(self.info(), TTL_S), 2)
        for session in list(self.held):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.directory.release(session, self.id), 2)
        self.held.clear()
        held_stages = [s for s in self.registry.stages.values() if s.held]
        for stage in held_stages:
            log.info("draining: handing stage %s over", stage.session_id)
            for pub in _publishers(stage):
                await self.registry._close_publisher(stage, pub)
        for stage in list(self.registry.stages.values()):
            for viewer in list(stage.viewers.values()):
                await self.registry.close_viewer(stage, viewer)
        await asyncio.sleep(grace_s if held_stages else 0)

    def counts(self) -> dict[str, Any]:
        return {
            "pulls": len(self.pulls),
            "pulls_connected": sum(1 for p in self.pulls.values() if p.connected),
            "held": len(self.held),
            "nodes": len(self.nodes),
            "draining": int(self.draining),
        }


def _publishers(stage: Stage) -> list[Publisher]:
    """Speakers and interpreters: all of them go where the stage goes."""
    return [*stage.publishers.values(), *stage.booths.interpreters.values()]


def _pending(stage: Stage) -> int:
    """Viewers still connecting: they need the pull as much as connected ones."""
    return sum(1 for v in stage.viewers.values() if not v.connected and v.mode != "pull")
