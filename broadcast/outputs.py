"""One output's life in the parent: its child process, its state, its retries.

Each destination and the recording is an `OutputProcess`. The program's TS
chunks are handed to every output (`feed`); an output that is (re)connecting
waits for the next keyframe chunk, then pipes everything to its child. When
the child exits (the ingest refused, dropped, or went quiet), the output goes
`retrying` with the child's last error and starts again after a backoff; no
other output notices.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

from broadcast.children import Children, kill_now

log = logging.getLogger("halqa.broadcast")
State = Literal["connecting", "live", "retrying", "stopped"]
STATES: tuple[State, ...] = ("connecting", "live", "retrying", "stopped")
# Bytes waiting in an output's pipe before it counts as stalled (≈ 10 s at 3 Mbit/s).
MAX_BACKLOG = 4 << 20


@dataclass(frozen=True, slots=True)
class OutputSpec:
    id: str
    name: str
    kind: Literal["rtmp", "file", "hls"]
    url: str = ""
    key: str = ""  # the stream key: a secret, never logged nor answered
    path: str = ""  # the recording's file; an HLS rendition's folder
    feed: int = 0
    segment_s: float = 0.0  # HLS only
    audio: str = "floor"  # the language this output carries (the floor, or fr, ar, en...)
    video: bool = True  # False: an HLS audio rendition

    def config(self, timeout_s: float) -> dict[str, Any]:
        return {"kind": self.kind, "url": self.url, "key": self.key, "path": self.path,
                "timeout_s": timeout_s, "segment_s": self.segment_s, "audio": self.audio,
                "video": self.video}


class OutputProcess:
    def __init__(self, spec: OutputSpec, children: Children, *, connect_timeout_s: float,
                 backoff_min_s: float, backoff_max_s: float) -> None:
        self.spec = spec
        self.children = children
        self.connect_timeout_s = connect_timeout_s
        self.backoff_min_s, self.backoff_max_s = backoff_min_s, backoff_max_s
        self.state: State = "connecting"
        self.error: str | None = None
        self.since: float | None = None  # wall time it went live
        self.reconnects = 0
        self.bytes_sent = 0  # over every connection
        self._conn_bytes = 0
        self._samples: deque[tuple[float, int]] = deque(maxlen=8)
        self._proc: asyncio.subprocess.Process | None = None
        self._waiting_key = True
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    # -- the program's chunks ----------------------------------------------
    def feed(self, key: bool, data: bytes) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdin.is_closing():
            return
        if self._waiting_key:
            if not key:
                return
            self._waiting_key = False
        transport = proc.stdin.transport
        if transport.get_write_buffer_size() > MAX_BACKLOG:
            self.error = "the ingest stopped taking data"
            kill_now(proc)
            return
        proc.stdin.write(data)

    def resync(self) -> None:
        """The program restarted: start again at its next keyframe."""
        self._waiting_key = True

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stopping = True
        proc = self._proc
        if proc is not None:
            await self.children.end(proc)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.state, self.since = "stopped", None

    async def _run(self) -> None:
        backoff = self.backoff_min_s
        while not self._stopping:
            self.state, self.since = "connecting", None
            started = time.monotonic()
            await self._once()
            if self._stopping:
                return
            if self.since is not None and time.monotonic() - started > 30:
                backoff = self.backoff_min_s  # it had been up a while: retry soon
            self.state, self.since = "retrying", None
            self.reconnects += 1
            log.warning("output %s (%s) retrying in %.1f s: %s",
                        self.spec.id, self.spec.name, backoff, self.error)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.backoff_max_s)

    async def _once(self) -> None:
        proc = await self.children.spawn("broadcast.output")
        self._proc = proc
        self._waiting_key = True
        self._conn_bytes = 0
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        proc.stdin.write((json.dumps(self.spec.config(self.connect_timeout_s)) + "\n").encode())
        stderr = asyncio.create_task(self._read_stderr(proc.stderr))
        watchdog = asyncio.create_task(self._watchdog(proc))
        try:
            while line := await proc.stdout.readline():
                self._on_event(line)
            await proc.wait()
        finally:
            watchdog.cancel()
            await asyncio.gather(stderr, return_exceptions=True)
            self._proc = None
            self.children.reaped(proc)
        if proc.returncode not in (0, None) and self.error is None:
            self.error = f"the output process exited with {proc.returncode}"

    async def _watchdog(self, proc: asyncio.subprocess.Process) -> None:
        await asyncio.sleep(self.connect_timeout_s)
        if self.state == "connecting":
            self.error = f"not connected after {self.connect_timeout_s:.0f} s"
            kill_now(proc)

    def _on_event(self, line: bytes) -> None:
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            return
        event = msg.get("event")
        if event == "live":
            self.state, self.since, self.error = "live", time.time(), None
        elif event == "bytes":
            n = int(msg.get("n", 0))
            self.bytes_sent += max(0, n - self._conn_bytes)
            self._conn_bytes = n
            self._samples.append((time.monotonic(), self.bytes_sent))
        elif event == "error":
            self.error = self.masked(str(msg.get("message", "")))

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        # The child's (and FFmpeg's) own messages: logged, with the key masked.
        while line := await stream.readline():
            text = self.masked(line.decode(errors="replace").rstrip())
            if text:
                log.info("output %s: %s", self.spec.id, text[:300])

    def masked(self, text: str) -> str:
        return text.replace(self.spec.key, "****") if self.spec.key else text

    # -- what the API shows -------------------------------------------------
    @property
    def bitrate_kbps(self) -> float:
        if self.state != "live" or len(self._samples) < 2:
            return 0.0
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return round((b1 - b0) * 8 / 1000 / (t1 - t0), 1) if t1 > t0 else 0.0

    def status(self) -> dict[str, Any]:
        return {
            "id": self.spec.id,
            "name": self.spec.name,
            "state": self.state,
            "bitrate_kbps": self.bitrate_kbps,
            "since": _iso(self.since),
            "error": self.error,
            "reconnects": self.reconnects,
            "bytes": self.bytes_sent,
        }


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
