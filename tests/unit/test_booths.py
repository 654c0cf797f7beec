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


def test_a_pull_names_its_languages_and_the_holder_checks_them() -> None:
    """An edge's pull carries each language twice (the channel, the `?audio=` mix);
    the holder takes only well-formed, distinct, few languages, and an offer
    laid out for exactly those."""
    from signaling.edge import MAX_PULL_LANGUAGES, check_pull_offer, pull_languages, pull_layout
    from signaling.sdp import MediaLine

    assert pull_languages(None) == [] and pull_languages("ar,fr") == ["ar", "fr"]
    for bad in ("ar,ar", "ar,", "AR", "ar;fr",
                ",".join(f"a{chr(97 + i)}" for i in range(MAX_PULL_LANGUAGES + 1))):
        with pytest.raises(Invalid):
            pull_languages(bad)
    layout = pull_layout(1, ["ar"])
    assert layout == [("audio", "audio"), ("video", "camera"), ("video", "screen"),
                      ("audio", "audio"), ("video", "camera"),
                      ("audio", "interpretation:ar"), ("audio", "audio:ar")]

    def offer(kinds: list[str]) -> list[MediaLine]:
        return [MediaLine(kind, "recvonly", {}) for kind in kinds]

    kinds = [kind for kind, _ in layout]
    assert check_pull_offer(offer(kinds), 1, ["ar"]) is None
    assert check_pull_offer(offer(kinds), 1, []) == "a pull offer has 5 media sections"
    assert check_pull_offer(offer([*kinds[:-1], "video"]), 1, ["ar"]) == \
        "media section 6 must be audio"


def test_the_holder_feeds_a_pulls_language_sections_like_its_own_listeners() -> None:
    """At the holder, a pull's `interpretation:ar` carries the channel alone and
    `audio:ar` the channel or, while nobody interprets, the floor."""
    from signaling.forward import OutStream
    from signaling.stage import Publisher, Stage, Viewer

    stage = Stage("s1", 1, 2.0)
    speaker = Publisher("sp", "s1", "k-sp", "Speaker", "speaker", 0, pc=None)  # type: ignore[arg-type]
    speaker.tracks = {"audio": "floor"}  # type: ignore[dict-item]
    speaker.connected = True
    stage.add_publisher(speaker)
    pull = Viewer("v", "s1", "node:edge", "pull", pc=None)  # type: ignore[arg-type]
    channel, mix = OutStream("audio", "interpretation:ar", -1), OutStream("audio", "audio:ar", -1)
    assert stage.source_for(pull, channel) is None
    assert stage.source_for(pull, mix) == "floor"
    interpreter = Pub("ia", "k-ia")
    stage.booths.add(interpreter, "ar")  # type: ignore[arg-type]
    stage.booths.connected(interpreter)  # type: ignore[arg-type]
    assert stage.source_for(pull, channel) == "track-ia"
    assert stage.source_for(pull, mix) == "track-ia"
    assert stage.held and stage.live_languages() == ["ar"]
