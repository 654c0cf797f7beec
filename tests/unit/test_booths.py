"""Who is on air in an interpretation booth: one voice at a time, a queue behind it."""

from __future__ import annotations

from typing import Any

import pytest

from signaling.booths import Booths, check_language
from signaling.errors import Conflict, Forbidden, Invalid


class Pub:
    def __init__(self, id: str, owner: str) -> None:
        self.id, self.owner = id, owner
        self.tracks: dict[str, Any] = {"audio": f"track-{id}"}


def test_first_connected_on_air_others_queued_hand_over_and_leave() -> None:
    booths = Booths()
    a, b, c = Pub("a", "ka"), Pub("b", "kb"), Pub("c", "kc")
    for p in (a, b, c):
        booths.add(p, "ar")  # type: ignore[arg-type]
    # b connects first: on air; a connecting later does not take it over.
    assert booths.connected(b) is True  # type: ignore[arg-type]
    assert booths.connected(a) is False  # type: ignore[arg-type]
    assert booths.source("ar") == "track-b" and booths.live() == ["ar"]
    assert booths.public()["booths"]["ar"] == {"on_air": "b", "queue": ["a"]}
    with pytest.raises(Forbidden):
        booths.hand_over("ka", "ar")  # only the one on air hands over
    assert booths.hand_over("kb", "ar") is a
    assert booths.public()["booths"]["ar"] == {"on_air": "a", "queue": ["b"]}
    # The one on air leaves: the queue takes over; c (never connected) is no one.
    assert booths.remove(a) is True  # type: ignore[arg-type]
    assert booths.source("ar") == "track-b"
    with pytest.raises(Conflict):
        booths.hand_over("kb", "ar")  # nobody to hand over to
    assert booths.remove(b) and booths.remove(c)  # type: ignore[arg-type]
    assert booths.live() == [] and booths.source("ar") is None and not booths.interpreters
    assert booths.remove(a) is False  # type: ignore[arg-type]


def test_languages_are_codes() -> None:
    assert check_language("ar") == "ar"
    for bad in ("", "AR", "arabic", "a r", "x!"):
        with pytest.raises(Invalid):
            check_language(bad)
