"""Bench-only probe (bench.chat_rate --gc-log): log every garbage collection
of this process that takes ≥ 5 ms, as `end_time generation wall_ms collected cpu cpu_ms`,
to $HALQA_GC_LOG/<pid>.txt, to match against slow chat deliveries.
Loaded through PYTHONPATH as sitecustomize; nothing in halqa imports it."""

import collections
import gc
import os
import time

_dir = os.environ.get("HALQA_GC_LOG")
_threshold = os.environ.get("HALQA_GC_THRESHOLD")  # an experiment: "gen0,gen1,gen2"
if _threshold:
    gc.set_threshold(*(int(x) for x in _threshold.split(",")))
if _dir:
    _start = [0.0, 0.0]
    _census: list[int] = []
    _out = open(os.path.join(_dir, f"{os.getpid()}.txt"), "a", buffering=1)  # noqa: SIM115

    def _probe(phase: str, info: dict) -> None:  # type: ignore[type-arg]
        if phase == "start":
            _start[0], _start[1] = time.perf_counter(), time.thread_time()
            return
        ms = (time.perf_counter() - _start[0]) * 1000
        cpu_ms = (time.thread_time() - _start[1]) * 1000  # wall > cpu: others had the core
        if ms >= 5:
            _out.write(f"{time.time():.3f} {info['generation']} {ms:.1f} {info['collected']} "
                       f"cpu {cpu_ms:.1f}\n")
        if info["generation"] == 2 and ms >= 180 and not _census:
            # Once: what the full collection had to walk, by type.
            objs = gc.get_objects()
            _census.append(1)
            top = collections.Counter(type(o).__name__ for o in objs).most_common(25)
            _out.write(f"# tracked {len(objs)} frozen {gc.get_freeze_count()} top {top}\n")

    gc.callbacks.append(_probe)
