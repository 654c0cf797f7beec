"""The mixer child, seen from halqa: start it, tell it the layout, read its TS.

Chunks are read from the child's stdout and handed to `on_chunk(feed, key,
data)`, which tees them to the outputs. If the mixer dies it is started again
(after a backoff) and `on_restart()` lets the outputs wait for the new
stream's first keyframe; the layout and titles are sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from broadcast.children import Children
from broadcast.wire import HEADER, MAX_CHUNK, STATS

log = logging.getLogger("halqa.broadcast")
OnChunk = Callable[[int, bool, bytes], None]


class MixerProcess:
    def __init__(self, config: dict[str, Any], children: Children, on_chunk: OnChunk,
                 on_restart: Callable[[], None]) -> None:
        self.config = config  # carries the watch credential: never logged
        self.children = children
        self.on_chunk = on_chunk
        self.on_restart = on_restart
        self.state = "starting"  # starting | running | restarting | stopped
        self.error: str | None = None
        self.restarts = 0
        self.stats: dict[str, Any] = {}
        self._cpu_before = 0.0  # CPU seconds of the mixers that ended
        self._snapshot: dict[str, Any] | None = None
        self._titles: tuple[str, str] = ("", "")
        self._proc: asyncio.subprocess.Process | None = None
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def layout(self, snapshot: dict[str, Any]) -> None:
        self._snapshot = snapshot
        self._send({"op": "layout", "snapshot": snapshot})

    def titles(self, event: str, session: str) -> None:
        self._titles = (event, session)
        self._send({"op": "titles", "event": event, "session": session})

    def _send(self, msg: dict[str, Any]) -> None:
        proc = self._proc
        if proc is not None and proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.write((json.dumps(msg) + "\n").encode())

    async def stop(self) -> None:
        self._stopping = True
        if self._proc is not None:
            # EOF on stdin: the mixer flushes its encoders and exits.
            await self.children.end(self._proc)
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, 5)
        self.state = "stopped"

    async def _run(self) -> None:
        backoff = 1.0
        while not self._stopping:
            await self._once()
            if self._stopping:
                return
            self.state = "restarting"
            self.restarts += 1
            log.error("mixer for %s stopped (%s); restarting in %.0f s",
                      self.config.get("session"), self.error, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 15.0)
            self.on_restart()

    async def _once(self) -> None:
        proc = await self.children.spawn("broadcast.mixer")
        self._proc = proc
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        proc.stdin.write((json.dumps(self.config) + "\n").encode())
        self.titles(*self._titles)
        if self._snapshot is not None:
            self.layout(self._snapshot)
        stderr = asyncio.create_task(self._read_stderr(proc.stderr))
        tail: list[str] = []
        try:
            await self._read_chunks(proc.stdout)
            await proc.wait()
        except (asyncio.IncompleteReadError, ValueError) as exc:
            tail.append(repr(exc))
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            await asyncio.gather(stderr, return_exceptions=True)
            self._proc = None
            self.children.reaped(proc)
            self._cpu_before += float(self.stats.pop("cpu_s", 0.0))
        if not self._stopping:
            self.error = f"the mixer exited with {proc.returncode}" + (
                f" ({tail[0]})" if tail else "")

    async def _read_chunks(self, stdout: asyncio.StreamReader) -> None:
        while True:
            try:
                head = await stdout.readexactly(HEADER.size)
            except asyncio.IncompleteReadError as exc:
                if exc.partial:
                    raise
                return  # clean end
            flags, feed, length = HEADER.unpack(head)
            if length > MAX_CHUNK:
                raise ValueError(f"mixer chunk of {length} bytes")
            data = await stdout.readexactly(length)
            if flags & STATS:
                self._on_stats(data)
                continue
            if self.state != "running":
                self.state, self.error = "running", None
            self.on_chunk(feed, bool(flags & 0x01), data)

    def _on_stats(self, data: bytes) -> None:
        with contextlib.suppress(json.JSONDecodeError):
            self.stats = json.loads(data)

    @property
    def cpu_seconds(self) -> float:
        return self._cpu_before + float(self.stats.get("cpu_s", 0.0))

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip()
            if text:
                log.warning("mixer %s: %s", self.config.get("session"), text[:300])

    def status(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "error": self.error,
            "restarts": self.restarts,
            "cpu": self.stats.get("cpu"),
            "fps": self.stats.get("fps"),
            "stage": self.stats.get("whep"),
            # Whom the program lays out: the speakers of the last stage change it got.
            "speakers": len((self._snapshot or {}).get("publishers") or []),
        }
