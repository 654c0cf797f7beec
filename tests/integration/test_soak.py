"""The soak in CI: bench/soak.py's harness, fewer clients, 2 minutes.

Two real `halqa serve` processes on a private Redis (and PostgreSQL when one
answers), Socket.IO participants chatting, asking and voting at a plenary's
pace across both, WHEP viewers (in a process of their own) on both
processes' stages. Nothing acknowledged may be missing from any connected
participant's view or from the database; no participant is disconnected;
every viewer is admitted and receives media in every 20-second interval;
descriptors do not grow while everyone stays (a generous bound), and once
everyone left no media socket, client connection or half-closed one remains.
The full 10-minute, 700 + 100 run is `python -m bench.soak` (figures in
bench/RESULTS.md).
"""

from __future__ import annotations

from pathlib import Path

from bench.soak import SoakConfig, run_soak


async def test_soak_two_processes_two_minutes(tmp_path: Path) -> None:
    cfg = SoakConfig(participants=60, viewers=8, seconds=120, workers=1, viewer_workers=1,
                     chat_per_s=1.0, questions_per_s=0.1, votes_per_s=2.0, video_seconds=1,
                     sample_s=20)
    r = await run_soak(cfg, tmp_path)
    print("\nsoak:", {k: v for k, v in r.items() if k not in ("samples", "viewer_timelines")})
    print("samples:", r["samples"])
    assert r["participants"] == 60 and r["disconnects"] == 0, r
    # A speaker whose ICE consent expired leaves every viewer of its stage dark.
    assert r["speakers_end"] == ["connected", "connected"], r
    assert r["chat_acked"] > 40, r  # ~120 sent; chat refusals are listed in r["refused"]
    assert r["chat_deliveries_missing"] == 0 and r["chat_acked_not_in_db"] == 0, r
    assert r["questions_acked"] > 0, r
    assert r["question_deliveries_missing"] == 0 and r["questions_acked_not_in_db"] == 0, r
    assert r["vote_rows_in_db"] >= r["votes_acked"] > 0, r
    # Media: every viewer admitted, and not one 20 s interval without packets.
    assert r["viewers_admitted"] == 8 and not r["viewers_refused"], r
    assert r["viewers_receiving"] == 8 and r["viewer_stalled_intervals"] == 0, r
    assert r["viewer_pps_min_median_max"][0] > 20, r  # ~30 fps video + 50 pps audio = ~160
    for pid, start in r["servers_start"].items():
        during = [s[pid] for s in r["samples"]]
        # Everyone still connected: descriptors where they were at the start.
        assert max(d["fds"] for d in during) <= start["fds"] + 15, (pid, start, during)
        # Everyone gone: no media socket, no client's connection left open,
        # none half-closed (the database and Redis pools stay, grown to the load).
        after = r["servers_after"][pid]
        assert after["udp"] == 0, (pid, after)
        assert not [k for k in after["tcp_peers"] if k.startswith("client")
                    or k.endswith("close_wait")], (pid, after)
        # Memory: generous (noise and warm-up pass); only a gross leak fails it.
        assert during[-1]["rss_mib"] - start["rss_mib"] < 80, (pid, start, during)
