"""How long the garbage collector stopped this process: reported per answer.

While CPython collects, the event loop forwards nothing and answers nothing.
In the join benchmark (bench/RESULTS.md, "Viewer click") full collections
of 100-400 ms landed inside viewers' answers and made the join p95;
`halqa serve` now freezes start-up's objects and raises the thresholds
(server/gcpolicy.py). The WHEP answer's `Server-Timing: gc;dur=` says how
much of each answer was still the collector.
"""

from __future__ import annotations

import gc
import time
from typing import Any

_state = {"total_s": 0.0, "started": 0.0}


def _track(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _state["started"] = time.perf_counter()
    else:
        _state["total_s"] += time.perf_counter() - _state["started"]


def count_pauses() -> None:
    """Count every collection's time from now on (once per process)."""
    if _track not in gc.callbacks:
        gc.callbacks.append(_track)


def paused_s() -> float:
    """Seconds this process spent in the collector since count_pauses()."""
    return _state["total_s"]
