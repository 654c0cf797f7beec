"""Interpretation booths: who feeds each language's channel on one stage.

A booth is one language's channel. Its interpreters (usually two who take
turns) publish audio-only over WHIP; exactly one of them is *on air* and the
others wait in a queue, connected and sending, so that a hand-over is only a
change of which source feeds the viewers' interpretation slot (no new track,
no renegotiation, no gap longer than one packet, never two voices at once).

Pure bookkeeping: no aiortc, no I/O. signaling/interpretation.py drives it;
signaling/stage.py asks it which source feeds a viewer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from signaling.errors import Conflict, Forbidden, Invalid

if TYPE_CHECKING:
    from signaling.forward import SourceTrack
    from signaling.stage import Publisher

# The label of a browser viewer's 19th section: the interpretation slot.
INTERPRETATION = "interpretation"
# A language code as the event names its languages (fr, ar, en, ...).
LANGUAGE = re.compile(r"^[a-z]{2,3}$")


def check_language(value: str) -> str:
    if not LANGUAGE.match(value):
        raise Invalid("invalid", "a language is a 2-3 letter code such as ar",
                      fields={"language": "a 2-3 letter lowercase code"})
    return value


# Labels of the language sections of an edge's pull (signaling/edge.py): a
# language's channel alone, and what a `?audio=` player hears (the channel
# while an interpreter is on air, the floor otherwise).
def channel_label(language: str) -> str:
    return f"{INTERPRETATION}:{language}"


def with_floor_label(language: str) -> str:
    return f"audio:{language}"


def language_of_label(label: str) -> tuple[str, bool] | None:
    """(language, with the floor) of a pull's language section label, else None."""
    kind, colon, language = label.partition(":")
    if not colon or kind not in (INTERPRETATION, "audio"):
        return None
    return language, kind == "audio"


@dataclass(eq=False)
class Booth:
    language: str
    on_air: Publisher | None = None
    queue: list[Publisher] = field(default_factory=list)  # connected, waiting their turn

    def source(self) -> SourceTrack | None:
        return self.on_air.tracks.get("audio") if self.on_air is not None else None

    def public(self) -> dict[str, Any]:
        return {
            "on_air": self.on_air.id if self.on_air is not None else None,
            "queue": [p.id for p in self.queue],
        }


class Booths:
    """Every language channel of one stage."""

    def __init__(self) -> None:
        self.booths: dict[str, Booth] = {}
        self.interpreters: dict[str, Publisher] = {}  # every interpreter publisher, by id
        self.language_of: dict[str, str] = {}  # publisher id -> language

    def add(self, pub: Publisher, language: str) -> None:
        """A new interpreter publisher; it goes on air or in the queue once connected."""
        self.interpreters[pub.id] = pub
        self.language_of[pub.id] = language

    def connected(self, pub: Publisher) -> bool:
        """Seat a newly connected interpreter: on air if the booth is free, else queued.

        True if it went on air (viewers must be rebound).
        """
        language = self.language_of.get(pub.id)
        if language is None:
            return False
        booth = self.booths.setdefault(language, Booth(language))
        if booth.on_air is None:
            booth.on_air = pub
            return True
        if pub not in booth.queue:
            booth.queue.append(pub)
        return False

    def remove(self, pub: Publisher) -> bool:
        """Forget an interpreter; the next in the queue goes on air if it was on air."""
        if self.interpreters.get(pub.id) is not pub:
            return False
        del self.interpreters[pub.id]
        language = self.language_of.pop(pub.id)
        booth = self.booths.get(language)
        if booth is not None:
            if booth.on_air is pub:
                booth.on_air = booth.queue.pop(0) if booth.queue else None
            elif pub in booth.queue:
                booth.queue.remove(pub)
            if booth.on_air is None and not booth.queue:
                del self.booths[language]
        return True

    def hand_over(self, owner: str, language: str) -> Publisher:
        """The interpreter on air passes the channel to the next one in the queue.

        Returns who is now on air. The one handing over goes to the end of the
        queue, still connected, ready to take the channel back.
        """
        booth = self.booths.get(language)
        if booth is None or booth.on_air is None or booth.on_air.owner != owner:
            raise Forbidden("not_on_air", "only the interpreter on air can hand over")
        if not booth.queue:
            raise Conflict("no_partner", "no other interpreter of this language is connected")
        previous, booth.on_air = booth.on_air, booth.queue.pop(0)
        booth.queue.append(previous)
        return booth.on_air

    def source(self, language: str | None) -> SourceTrack | None:
        booth = self.booths.get(language) if language else None
        return booth.source() if booth is not None else None

    def live(self) -> list[str]:
        """Languages whose channel has an interpreter on air."""
        return sorted(lang for lang, b in self.booths.items() if b.on_air is not None)

    def public(self) -> dict[str, Any]:
        return {"live": self.live(),
                "booths": {lang: b.public() for lang, b in sorted(self.booths.items())}}
