"""Bench-only probe (bench.chat_rate --gc-log): log every garbage collection
of this process that takes ≥ 5 ms, as `wall_time generation ms objects_collected`,
to $HALQA_GC_LOG/<pid>.txt, to match against slow chat deliveries.
Loaded through PYTHONPATH as sitecustomize; nothing in halqa imports it."""

import gc
import os
import time

_dir = os.environ.get("HALQA_GC_LOG")
if _dir:
    _start = [0.0]
    _out = open(os.path.join(_dir, f"{os.getpid()}.txt"), "a", buffering=1)  # noqa: SIM115

    def _probe(phase: str, info: dict) -> None:  # type: ignore[type-arg]
        if phase == "start":
            _start[0] = time.perf_counter()
            return
        ms = (time.perf_counter() - _start[0]) * 1000
        if ms >= 5:
            _out.write(f"{time.time():.3f} {info['generation']} {ms:.1f} {info['collected']}\n")

    gc.callbacks.append(_probe)
