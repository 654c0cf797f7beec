"""Attendance arithmetic: overlapping stays (two tabs) count once."""

from __future__ import annotations

import datetime as dt

from server.attendance import _merged_seconds

T = dt.datetime(2026, 12, 9, 8, 0, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    return T + dt.timedelta(minutes=minutes)


def test_overlapping_and_separate_stays() -> None:
    spans = [(at(0), at(10)), (at(5), at(12)), (at(20), at(25)), (at(21), at(22))]
    assert _merged_seconds(spans) == (12 + 5) * 60


def test_empty_and_touching() -> None:
    assert _merged_seconds([]) == 0
    assert _merged_seconds([(at(0), at(1)), (at(1), at(2))]) == 120
