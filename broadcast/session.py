"""One session's broadcast while it runs: one mixer, its outputs, its recording.

The fan-out: every chunk the mixer produces goes to each output of its feed.
Outputs are added and removed while the program runs (a destination added
mid-session starts at the next keyframe); the mixer never restarts for that.
An output is anything `OutputProcess` can run: RTMP(S) destinations and the
recording today; HLS is one more `OutputSpec` kind (and, for a smaller
rendition, one more feed in the mixer's configuration).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from broadcast.children import Children
from broadcast.mixerproc import MixerProcess
from broadcast.outputs import OutputProcess, OutputSpec
from broadcast.recordings import Recordings
from broadcast.settings import BroadcastSettings

log = logging.getLogger("halqa.broadcast")


@dataclass
class SessionPlan:
    """What the organizer configured for a session (read from the database)."""

    destinations: list[OutputSpec] = field(default_factory=list)
    automatic: bool = False
    record: bool = True
    hls: bool = True  # package live HLS while the program runs live
    # Interpretation languages the program carries a mix of (the session's
    # interpreters' languages; fixed while a program runs: TS streams are).
    languages: tuple[str, ...] = ()
    event_title: str = ""
    session_title: str = ""


class SessionBroadcast:
    def __init__(self, session_id: str, mixer_config: dict[str, Any],
                 settings: BroadcastSettings, children: Children,
                 recordings: Recordings, hls: list[OutputSpec] | None = None) -> None:
        self.session_id = session_id
        self.settings = settings
        self.children = children
        self.recordings = recordings
        self.started_at = time.time()
        self.outputs: dict[str, OutputProcess] = {}
        self.recording: tuple[str, OutputProcess] | None = None
        # HLS packagers (broadcast/hls.py): one per rendition, while `hls` is wanted.
        self.hls_specs = hls or []
        self.languages: tuple[str, ...] = tuple(mixer_config.get("languages") or ())
        self.hls: dict[str, OutputProcess] = {}
        self.ended_outputs: list[OutputProcess] = []  # for the totals in /metrics
        self.mixer = MixerProcess(mixer_config, children, self._on_chunk, self._on_restart)
        self._lock = asyncio.Lock()

    def start(self) -> None:
        self.mixer.start()

    # -- fan-out --------------------------------------------------------------
    def _on_chunk(self, feed: int, key: bool, data: bytes) -> None:
        for out in self.outputs.values():
            if out.spec.feed == feed:
                out.feed(key, data)
        if self.recording is not None and feed == 0:
            self.recording[1].feed(key, data)
        for out in self.hls.values():
            if out.spec.feed == feed:
                out.feed(key, data)

    def _on_restart(self) -> None:
        for out in (*self.outputs.values(), *self.hls.values()):
            out.resync()
        # A new mixer starts its clock again: the recording starts a new file
        # rather than carry a timestamp jump that players mis-time.
        asyncio.get_running_loop().create_task(self._rotate_recording())

    async def _rotate_recording(self) -> None:
        async with self._lock:
            if self.recording is not None:
                await self._stop_recording()
                self._start_recording()

    def _new_output(self, spec: OutputSpec) -> OutputProcess:
        out = OutputProcess(spec, self.children,
                            connect_timeout_s=self.settings.connect_timeout_s,
                            backoff_min_s=self.settings.retry_min_s,
                            backoff_max_s=self.settings.retry_max_s)
        out.start()
        return out

    # -- what runs ------------------------------------------------------------
    async def apply(self, destinations: list[OutputSpec], record: bool, plan: SessionPlan,
                    hls: bool = False) -> None:
        async with self._lock:
            self.mixer.titles(plan.event_title, plan.session_title)
            wanted = {d.id: d for d in destinations}
            for out_id in [i for i in self.outputs if wanted.get(i) != self.outputs[i].spec]:
                out = self.outputs.pop(out_id)
                await out.stop()
                self.ended_outputs.append(out)
            for out_id, spec in wanted.items():
                if out_id not in self.outputs:
                    self.outputs[out_id] = self._new_output(spec)
            if record and self.recording is None:
                self._start_recording()
            elif not record and self.recording is not None:
                await self._stop_recording()
            if hls and not self.hls:
                self.hls = {spec.id: self._new_output(spec) for spec in self.hls_specs}
            elif not hls and self.hls:
                await self._stop_hls()

    async def _stop_hls(self) -> None:
        outs, self.hls = list(self.hls.values()), {}
        await asyncio.gather(*(out.stop() for out in outs))
        self.ended_outputs.extend(outs)

    def _start_recording(self) -> None:
        rec_id, path = self.recordings.begin(self.session_id)
        spec = OutputSpec(id=rec_id, name="recording", kind="file", path=str(path))
        self.recording = (rec_id, self._new_output(spec))

    async def _stop_recording(self) -> None:
        if self.recording is None:
            return
        rec_id, out = self.recording
        self.recording = None
        await out.stop()
        self.ended_outputs.append(out)
        await self.recordings.finish(self.session_id, rec_id)

    def layout(self, snapshot: dict[str, Any]) -> None:
        self.mixer.layout(snapshot)

    async def stop(self) -> None:
        """Mixer first (it flushes its last frames to the outputs), then the outputs."""
        async with self._lock:
            await self.mixer.stop()
            await asyncio.gather(*(out.stop() for out in self.outputs.values()))
            self.ended_outputs.extend(self.outputs.values())
            self.outputs.clear()
            await self._stop_recording()
            await self._stop_hls()

    # -- what the API shows ---------------------------------------------------
    def status(self) -> dict[str, Any]:
        rec = None
        if self.recording is not None:
            rec_id, out = self.recording
            rec = {**out.status(), "id": rec_id}
            rec.pop("name", None)
        return {
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started_at)),
            "mixer": self.mixer.status(),
            "outputs": {i: o.status() for i, o in self.outputs.items()},
            "recording": rec,
            "hls": {i: o.status() for i, o in self.hls.items()},
        }

    def all_outputs(self) -> list[OutputProcess]:
        outs = list(self.outputs.values())
        if self.recording is not None:
            outs.append(self.recording[1])
        return [*outs, *self.hls.values()]
