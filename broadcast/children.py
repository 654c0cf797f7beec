"""Starting and ending child processes so that none is ever left behind.

Every child runs in its own process group (a terminal's Ctrl-C reaches halqa,
which then stops them in order), learns its parent's pid (it exits if the
parent is already gone) and asks the kernel to kill it when halqa dies
(broadcast.lifeline).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Sequence


class Children:
    """The child processes one Broadcaster started and has not reaped yet."""

    def __init__(self) -> None:
        self.running: set[int] = set()

    async def spawn(self, module: str, args: Sequence[str] = ()) -> asyncio.subprocess.Process:
        env = {**os.environ, "HALQA_PARENT_PID": str(os.getpid())}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,
            limit=1 << 20,
        )
        self.running.add(proc.pid)
        return proc

    async def end(self, proc: asyncio.subprocess.Process, grace: float = 5.0) -> None:
        """Close stdin (the child finishes its work and exits), then kill if it lingers."""
        try:
            if proc.stdin is not None and not proc.stdin.is_closing():
                proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), grace)
            except TimeoutError:
                kill_now(proc)
                await proc.wait()
        finally:
            self.running.discard(proc.pid)

    def reaped(self, proc: asyncio.subprocess.Process) -> None:
        self.running.discard(proc.pid)

    def kill_all(self) -> None:
        for pid in list(self.running):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        self.running.clear()


def kill_now(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
