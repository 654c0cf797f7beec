"""A short soak in CI: bench/soak.py's harness with fewer clients for ~30 s.

Two real `halqa serve` processes on a private Redis (and PostgreSQL when one
answers), Socket.IO participants chatting, asking and voting at a plenary's
pace across both, WHEP viewers on both processes' stages. Nothing acknowledged
may be missing from any connected participant's view or from the database;
no participant is disconnected; descriptors do not grow. The full 10-minute,
700 + 100 run is `python -m bench.soak` (figures in bench/RESULTS.md).
"""

from __future__ import annotations

from pathlib import Path

from bench.soak import SoakConfig, run_soak


async def test_short_soak_two_processes(tmp_path: Path) -> None:
    cfg = SoakConfig(participants=60, viewers=6, seconds=30, workers=1,
                     chat_per_s=2.0, questions_per_s=0.2, votes_per_s=3.0, video_seconds=1)
    r = await run_soak(cfg, tmp_path)
    print("\nshort soak:", {k: v for k, v in r.items() if k != "samples"})
    assert r["participants"] == 60 and r["disconnects"] == 0, r
    assert r["chat_acked"] > 20, r
    assert r["chat_deliveries_missing"] == 0, r
    assert r["chat_acked_not_in_db"] == 0, r
    assert r["questions_acked"] > 0, r
    assert r["viewer_packets_per_s"] > 50, r  # ~30 fps video + 50 pps audio
    for pid, start in r["servers_start"].items():
        end = r["servers_end"][pid]
        # The clients are all still connected: descriptors stay where they were.
        assert end["fds"] <= start["fds"] + 10, (pid, start, end)
