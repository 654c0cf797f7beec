import datetime as dt

from server.report import _cell, merge, peak

T = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def m(a: int, b: int) -> tuple[dt.datetime, dt.datetime]:
    return (T + dt.timedelta(minutes=a), T + dt.timedelta(minutes=b))


def test_merge_joins_overlapping_and_touching_spans() -> None:
    assert merge([m(0, 10), m(5, 20), m(20, 25), m(30, 40)]) == [m(0, 25), m(30, 40)]
    assert merge([m(0, 30), m(10, 20)]) == [m(0, 30)]


def test_peak_counts_people_present_at_once() -> None:
    assert peak({}) == 0
    assert peak({1: [m(0, 10)], 2: [m(10, 20)]}) == 1  # one leaves as the other comes
    assert peak({1: [m(0, 10)], 2: [m(5, 20)], 3: [m(6, 7)]}) == 3


def test_csv_cells_cannot_become_formulas() -> None:
    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _cell("Table ronde") == "Table ronde"
