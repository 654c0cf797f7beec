"""Where each live speaker goes on the 1280×720 program (pure: no media here).

The parent process sends the stage's snapshot (who is live, who is on air, who
shares a screen); `plan()` turns it into tiles. The mixer draws the tiles; the
outputs never notice a layout change, since the picture size never changes.

- nobody live: the slate (event and session title);
- a screen shared: the screen large, its owner's camera beside it, the other
  panelists in a strip below;
- otherwise: the speaker on air large, the other panelists in a strip below
  (alone on stage: the whole picture).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MARGIN = 16
GAP = 12


@dataclass(frozen=True, slots=True)
class Tile:
    position: int  # the speaker's position on the stage (their media slots)
    label: str  # "camera" | "screen"
    x: int
    y: int
    w: int
    h: int
    caption: str  # the speaker's name ("" for a screen)


@dataclass(frozen=True, slots=True)
class Plan:
    tiles: tuple[Tile, ...]
    audio: tuple[int, ...]  # positions whose microphone is in the mix
    slate: bool


def _even(v: float) -> int:
    # 4:2:0 chroma: tiles start and end on even pixels.
    return int(v) // 2 * 2


def _strip(people: list[dict[str, Any]], width: int, height: int) -> list[Tile]:
    """Panelists side by side along the bottom edge, centred."""
    if not people:
        return []
    n = len(people)
    w = _even(min(240, (width - 2 * MARGIN - GAP * (n - 1)) / n))
    h = _even(w * 9 / 16)
    total = n * w + (n - 1) * GAP
    x0 = (width - total) / 2
    y = height - MARGIN - h
    return [
        Tile(p["position"], "camera", _even(x0 + i * (w + GAP)), _even(y), w, h, p["name"])
        for i, p in enumerate(people)
    ]


def plan(snapshot: dict[str, Any], width: int = 1280, height: int = 720) -> Plan:
    live = sorted(
        (p for p in snapshot.get("publishers", []) if p.get("connected", True)),
        key=lambda p: p["position"],
    )
    audio = tuple(p["position"] for p in live if p.get("audio"))
    if not live:
        return Plan((), (), slate=True)
    by_id = {p["id"]: p for p in live}
    on_air = by_id.get(snapshot.get("program") or "", live[0])
    sharing = [p for p in live if p.get("screen")]
    if sharing:
        owner = on_air if on_air in sharing else sharing[0]
        others = [p for p in live if p is not owner]
        strip = _strip(others, width, height)
        bottom = (strip[0].y - GAP) if strip else height - MARGIN
        side_w = _even(width * 0.225)
        main_w = _even(min(width - 3 * MARGIN - side_w, (bottom - MARGIN) * 16 / 9))
        main_h = _even(main_w * 9 / 16)
        main = Tile(owner["position"], "screen", MARGIN, MARGIN, main_w, main_h, "")
        tiles = [main]
        if owner.get("camera"):
            side_h = _even(side_w * 9 / 16)
            tiles.append(
                Tile(owner["position"], "camera", _even(MARGIN * 2 + main_w), MARGIN,
                     side_w, side_h, owner["name"])
            )
        return Plan((*tiles, *strip), audio, slate=False)
    others = [p for p in live if p is not on_air]
    if not others:
        return Plan((Tile(on_air["position"], "camera", 0, 0, width, height, on_air["name"]),),
                    audio, slate=False)
    strip = _strip(others, width, height)
    bottom = strip[0].y - GAP
    main_h = _even(bottom - MARGIN)
    main_w = _even(main_h * 16 / 9)
    main = Tile(on_air["position"], "camera", _even((width - main_w) / 2), MARGIN,
                main_w, main_h, on_air["name"])
    return Plan((main, *strip), audio, slate=False)
