"""The broadcasts of every session this process runs, and when each one runs.

A session's program runs while it is wanted:
- its destinations go out while the organizer has started the broadcast, or,
  with "automatic" set, while the stage is live (until the organizer stops it);
- it is recorded while the stage is live (or broadcast) and recording is on.
"Live" lasts `stop_after_s` past the last speaker leaving, so a speaker who
reloads does not end the broadcast or split the recording.

The engine knows nothing of HTTP or the database: the app hands it a planner
(what the organizer configured for a session), the stage's snapshots, and the
URL and watch credential the mixer uses to reach the stage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from broadcast.children import Children
from broadcast.encode import FeedSpec
from broadcast.hls import HlsPlan, audio_outputs
from broadcast.hls import feeds as hls_feeds
from broadcast.hls import outputs as hls_outputs
from broadcast.leases import Leases
from broadcast.outputs import STATES
from broadcast.recordings import Recordings
from broadcast.session import SessionBroadcast, SessionPlan
from broadcast.settings import BroadcastSettings

log = logging.getLogger("halqa.broadcast")
Planner = Callable[[str], Awaitable[SessionPlan]]
LEASE_TTL_S = 15.0


class HeldElsewhere(Exception):
    """Another process runs this session's broadcast."""


class Broadcaster:
    def __init__(self, settings: BroadcastSettings, *, data_dir: Path, node: str,
                 leases: Leases, planner: Planner,
                 snapshot: Callable[[str], dict[str, Any]],
                 whep_url: Callable[[str], str], token: str, positions: int,
                 hls: HlsPlan | None = None) -> None:
        self.settings = settings
        self.hls = hls  # live HLS renditions, packaged from the mixer's feeds
        self.node = node
        self.leases = leases
        self.planner = planner
        self.snapshot = snapshot
        self.whep_url = whep_url
        self._token = token  # the mixers' watch-only credential: never logged
        self.positions = positions
        self.children = Children()
        self.recordings = Recordings(data_dir / "recordings", node)
        self.sessions: dict[str, SessionBroadcast] = {}
        self.manual: set[str] = set()  # started by the organizer
        self.suppressed: set[str] = set()  # stopped by the organizer while automatic
        self._live: dict[str, bool] = {}
        self._empty_since: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._renewer: asyncio.Task[None] | None = None
        # Totals of the broadcasts that ended, so /metrics counters never go back.
        self._ended = {"reconnects": 0, "bytes_sent": 0, "mixer_cpu_seconds": 0.0}
        self.closing = False

    # -- when -----------------------------------------------------------------
    def live(self, session_id: str) -> bool:
        if self._live.get(session_id):
            return True
        since = self._empty_since.get(session_id)
        return since is not None and time.monotonic() - since < self.settings.stop_after_s

    async def on_stage(self, snap: dict[str, Any]) -> None:
        """A stage changed (a speaker joined or left, a screen, who is on air)."""
        session_id = str(snap.get("session"))
        running = self.sessions.get(session_id)
        if running is not None:
            running.layout(snap)
        was, now = self._live.get(session_id, False), bool(snap.get("live"))
        if was == now:
            return
        self._live[session_id] = now
        if now:
            self._empty_since.pop(session_id, None)
        else:
            self._empty_since[session_id] = time.monotonic()
            self._later(self.settings.stop_after_s + 0.1, session_id)
        self._spawn(self.reconcile(session_id))

    def _later(self, delay: float, session_id: str) -> None:
        async def run() -> None:
            await asyncio.sleep(delay)
            if not self.live(session_id):
                self._empty_since.pop(session_id, None)
                self.suppressed.discard(session_id)  # the next go-live starts afresh
            await self.reconcile(session_id)

        self._spawn(run())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("broadcast task failed: %r", task.exception())

    # -- organizer actions ----------------------------------------------------
    async def start(self, session_id: str) -> None:
        self.manual.add(session_id)
        self.suppressed.discard(session_id)
        try:
            await self.reconcile(session_id, raise_held=True)
        except HeldElsewhere:
            self.manual.discard(session_id)
            raise

    async def stop(self, session_id: str) -> None:
        self.manual.discard(session_id)
        self.suppressed.add(session_id)
        await self.reconcile(session_id)

    async def reconcile(self, session_id: str, raise_held: bool = False) -> None:
        """Make what runs match what is wanted (idempotent; one at a time per session)."""
        lock = self._locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            if self.closing:
                return
            plan = await self.planner(session_id)
            live = self.live(session_id)
            manual = session_id in self.manual
            want_out = manual or (plan.automatic and live and session_id not in self.suppressed)
            want_rec = plan.record and (live or manual)
            # Live HLS for the audience WebRTC can't reach: whenever the program runs live.
            want_hls = self.hls is not None and plan.hls and (live or manual)
            running = self.sessions.get(session_id)
            if not (want_out or want_rec or want_hls):
                if running is not None:
                    await self._end(session_id)
                return
            if running is None:
                if not await self.leases.acquire(f"broadcast:{session_id}", self.node, LEASE_TTL_S):
                    log.warning("broadcast of %s runs in another process", session_id)
                    if raise_held:
                        raise HeldElsewhere(session_id)
                    return
                running = self._begin(session_id, plan)
            dests = plan.destinations[: self.settings.max_destinations] if want_out else []
            await running.apply(dests, want_rec, plan, hls=want_hls)

    def _begin(self, session_id: str, plan: SessionPlan) -> SessionBroadcast:
        s = self.settings
        config = {
            "session": session_id,
            "whep_url": self.whep_url(session_id),
            "token": self._token,
            "positions": self.positions,
            "width": s.width, "height": s.height, "fps": s.fps,
            "gop_s": s.gop_s, "preset": s.preset, "font": s.font,
            "event": plan.event_title, "session_title": plan.session_title,
        }
        # The program carries the floor's audio and one stream per language (the
        # recording keeps them all; each destination and HLS audio rendition
        # picks one); the mixer gets each language's channel on its own connection.
        languages = plan.languages
        config["languages"] = list(languages)
        program = FeedSpec(width=s.width, height=s.height, video_kbps=s.video_kbps,
                           audio_kbps=s.audio_kbps, languages=languages)
        # The program, then HLS's smaller renditions (scaled from the same picture
        # in the mixer, the floor's sound only).
        extra, index = hls_feeds(self.hls, program)
        config["feeds"] = [asdict(f) for f in (program, *extra)]
        packagers = []
        if self.hls:
            packagers = [*hls_outputs(self.hls, session_id, index),
                         *audio_outputs(self.hls, session_id, languages)]
        sb = SessionBroadcast(session_id, config, s, self.children, self.recordings,
                              hls=packagers)
        sb.layout(self.snapshot(session_id))
        sb.start()
        self.sessions[session_id] = sb
        self._ensure_renewer()
        log.info("broadcast of %s started", session_id)
        return sb

    async def _end(self, session_id: str) -> None:
        sb = self.sessions.get(session_id)
        if sb is None:
            return
        # Shielded: halqa shutting down must not cut a stop in half (orphans).
        await asyncio.shield(sb.stop())
        self.sessions.pop(session_id, None)
        self._ended["mixer_cpu_seconds"] += sb.mixer.cpu_seconds
        for out in sb.ended_outputs:
            self._ended["reconnects"] += out.reconnects
            self._ended["bytes_sent"] += out.bytes_sent
        with contextlib.suppress(Exception):
            await self.leases.release(f"broadcast:{session_id}", self.node)
        log.info("broadcast of %s stopped", session_id)

    def _ensure_renewer(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew())

    async def _renew(self) -> None:
        while self.sessions:
            await asyncio.sleep(LEASE_TTL_S / 3)
            for session_id in list(self.sessions):
                try:
                    ok = await self.leases.acquire(f"broadcast:{session_id}", self.node,
                                                   LEASE_TTL_S)
                except Exception as exc:  # the store is away: keep running, retry
                    log.warning("broadcast lease renewal failed: %r", exc)
                    continue
                if not ok:
                    log.error("broadcast lease of %s lost; stopping here", session_id)
                    await self._end(session_id)

    # -- what the API and /metrics show ----------------------------------------
    async def status(self, session_id: str) -> dict[str, Any]:
        plan = await self.planner(session_id)
        sb = self.sessions.get(session_id)
        running = sb.status() if sb is not None else None
        outs = running["outputs"] if running else {}
        # What each destination carries now: its language while that channel is
        # live (and in the running program), the floor otherwise.
        on_air = set((self.snapshot(session_id).get("interpretation") or {}).get("live") or [])
        mixed = set(sb.languages) if sb is not None else set()
        dests = []
        for d in plan.destinations:
            st = outs.get(d.id) or {"id": d.id, "name": d.name, "state": "stopped",
                                    "bitrate_kbps": 0.0, "since": None, "error": None}
            row = {k: st.get(k) for k in
                   ("id", "name", "state", "bitrate_kbps", "since", "error")}
            hearing = d.audio if d.audio in on_air and d.audio in mixed else "floor"
            row.update(audio=d.audio, audio_now=hearing, audio_note=(
                None if hearing == d.audio else "no_live_channel"))
            dests.append(row)
        if sb is None:
            state = "stopped"
        elif outs:
            state = "live"
        else:
            state = "recording"
        return {
            "state": state,
            "started_at": running["started_at"] if running else None,
            "manual": session_id in self.manual,
            "automatic": plan.automatic,
            "record": plan.record,
            "stage_live": self.live(session_id),
            "mixer": running["mixer"] if running else None,
            "destinations": dests,
            "recording": running["recording"] if running else None,
        }

    def counts(self) -> dict[str, float]:
        by_state: Counter[str] = Counter()
        reconnects, bytes_sent = int(self._ended["reconnects"]), int(self._ended["bytes_sent"])
        cpu = float(self._ended["mixer_cpu_seconds"])
        for sb in self.sessions.values():
            cpu += sb.mixer.cpu_seconds
            for out in sb.all_outputs():
                by_state[out.state] += 1
                reconnects += out.reconnects
                bytes_sent += out.bytes_sent
        figures: dict[str, float] = {f"outputs_{s}": by_state[s] for s in STATES}
        figures.update(sessions=len(self.sessions), reconnects=reconnects,
                       bytes_sent=bytes_sent, mixer_cpu_seconds=round(cpu, 2),
                       children=len(self.children.running))
        return figures

    async def close(self) -> None:
        self.closing = True
        if self._renewer is not None:
            self._renewer.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(self._end(s) for s in list(self.sessions)),
                             return_exceptions=True)
        self.children.kill_all()  # whatever a failed stop left behind
        await self.leases.close()

