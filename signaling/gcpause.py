"""The garbage collector's pauses, kept off the media path and made visible.

CPython's full (generation 2) collection walks every tracked object, and
while it runs the event loop forwards nothing and answers nothing. Measured
in the join benchmark (bench/RESULTS.md, "Viewer click"): 100-400 ms pauses
landing inside a viewer's answer, i.e. the whole p95 of a join, and the same
gap in every viewer's media. Most tracked objects are the interpreter's own
(modules, functions, classes) and the app's, created once at start-up:
`gc.freeze()` moves them to the permanent generation so full collections
only walk what came after (peer connections, packets).
"""

from __future__ import annotations

import gc
import time
from typing import Any

_state = {"total_s": 0.0, "started": 0.0, "worst_s": 0.0}


def _track(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _state["started"] = time.perf_counter()
        return
    took = time.perf_counter() - _state["started"]
    _state["total_s"] += took
    _state["worst_s"] = max(_state["worst_s"], took)


def settle() -> None:
    """Once start-up is done: freeze what exists, count every pause from now."""
    gc.collect()
    gc.freeze()
    if _track not in gc.callbacks:
        gc.callbacks.append(_track)


def paused_s() -> float:
    """Seconds this process spent in the collector since settle()."""
    return _state["total_s"]


def worst_s() -> float:
    return _state["worst_s"]
