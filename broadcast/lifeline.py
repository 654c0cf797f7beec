"""Children die with halqa: no mixer or output may outlive the process that owns it.

A clean stop closes the child's stdin (it finishes and exits). If halqa is
SIGKILLed nothing runs in it any more, so the kernel must do it: Linux's
PR_SET_PDEATHSIG sends SIGKILL to the child when its parent thread exits.
Elsewhere the stdin EOF still ends the child.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int | None = None) -> None:
    """Called first thing in a child of ours (the parent's pid in `parent` or
    HALQA_PARENT_PID), or as `preexec_fn` of one that is not Python."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    expected = parent or int(os.environ.get("HALQA_PARENT_PID") or 0)
    # The parent may have died before prctl ran: then nobody would kill us.
    if expected and os.getppid() != expected:
        os._exit(0)
