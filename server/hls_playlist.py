"""Media playlists derived from one archive playlist (pure: text in, text out).

The packager (broadcast/hls.py) writes one *EVENT* playlist per rendition that
lists every segment since the session first went live (restarts append to it,
after an `#EXT-X-DISCONTINUITY`). From that one file halqa answers:
- the live playlist: the last few segments, with the right
  `EXT-X-MEDIA-SEQUENCE` and `EXT-X-DISCONTINUITY-SEQUENCE`, so a player joins
  near the live edge and a cache holds a small object;
- the replay (VOD) playlist: every segment and `#EXT-X-ENDLIST`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

# Tags that belong to the playlist as a whole; anything else before a URI
# belongs to that segment (EXTINF, DISCONTINUITY, PROGRAM-DATE-TIME, ...).
_HEADER = ("#EXTM3U", "#EXT-X-VERSION", "#EXT-X-TARGETDURATION", "#EXT-X-MEDIA-SEQUENCE",
           "#EXT-X-PLAYLIST-TYPE", "#EXT-X-INDEPENDENT-SEGMENTS", "#EXT-X-DISCONTINUITY-SEQUENCE",
           "#EXT-X-ALLOW-CACHE")


@dataclass(frozen=True, slots=True)
class Segment:
    uri: str
    duration: float
    tags: tuple[str, ...]  # as written, EXTINF included

    @property
    def discontinuity(self) -> bool:
        return "#EXT-X-DISCONTINUITY" in self.tags


@dataclass(frozen=True, slots=True)
class Archive:
    version: int
    target: int
    first_sequence: int
    segments: tuple[Segment, ...]
    ended: bool

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.segments)

    def offset_at(self, when: dt.datetime) -> float | None:
        """Where in the replay the wall-clock time `when` is (seconds), from the
        segments' `#EXT-X-PROGRAM-DATE-TIME`; None if it fell in no segment
        (before the stream, or while it was off)."""
        elapsed = 0.0
        clock: dt.datetime | None = None
        for s in self.segments:
            for tag in s.tags:
                if tag.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
                    clock = _when(tag.partition(":")[2])
            if clock is not None and clock <= when < clock + dt.timedelta(seconds=s.duration):
                return elapsed + (when - clock).total_seconds()
            elapsed += s.duration
            if clock is not None:
                clock += dt.timedelta(seconds=s.duration)
        return None


def _when(text: str) -> dt.datetime | None:
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def parse(text: str) -> Archive:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines or lines[0] != "#EXTM3U":
        raise ValueError("not an M3U8 playlist")
    version, target, first, ended = 3, 0, 0, False
    segments: list[Segment] = []
    pending: list[str] = []
    duration = 0.0
    for ln in lines[1:]:
        if ln.startswith("#"):
            name, _, value = ln.partition(":")
            if name == "#EXT-X-VERSION":
                version = int(value)
            elif name == "#EXT-X-TARGETDURATION":
                target = int(value)
            elif name == "#EXT-X-MEDIA-SEQUENCE":
                first = int(value)
            elif name == "#EXT-X-ENDLIST":
                ended = True
            elif name == "#EXTINF":
                duration = float(value.split(",")[0])
                pending.append(ln)
            elif name not in _HEADER:
                pending.append(ln)
            continue
        # FFmpeg's append_list can repeat a tag, and marks even the very first
        # segment discontinuous: keep each tag once, and no discontinuity first.
        tags = tuple(dict.fromkeys(pending))
        if not segments:
            tags = tuple(t for t in tags if t != "#EXT-X-DISCONTINUITY")
        segments.append(Segment(ln, duration, tags))
        pending, duration = [], 0.0
    target = max(target, math.ceil(max((s.duration for s in segments), default=0)))
    return Archive(version, target, first, tuple(segments), ended)


def _head(a: Archive, sequence: int, discontinuities: int, kind: str | None,
          target: int | None = None) -> list[str]:
    target = a.target if target is None else target
    out = ["#EXTM3U", f"#EXT-X-VERSION:{a.version}", f"#EXT-X-TARGETDURATION:{target}",
           f"#EXT-X-MEDIA-SEQUENCE:{sequence}"]
    if discontinuities:
        out.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuities}")
    if kind:
        out.append(f"#EXT-X-PLAYLIST-TYPE:{kind}")
    out.append("#EXT-X-INDEPENDENT-SEGMENTS")
    return out


def live(a: Archive, window: int) -> str:
    """The last `window` segments; ENDLIST once the archive has ended."""
    start = max(0, len(a.segments) - window)
    kept = a.segments[start:]
    # Discontinuities that scrolled out of the window are counted, not listed.
    gone = sum(1 for s in a.segments[:start] if s.discontinuity)
    # The window's own target duration: a long first segment (the program
    # starting) must not keep players far behind the live edge once it scrolled
    # out (players hold back a multiple of the target duration).
    target = max((math.ceil(s.duration - 0.001) for s in kept), default=a.target)
    out = _head(a, a.first_sequence + start, gone, None, max(1, target))
    for s in kept:
        out += [*s.tags, s.uri]
    if a.ended:
        out.append("#EXT-X-ENDLIST")
    return "\n".join(out) + "\n"


def vod(a: Archive) -> str:
    """Every segment, closed: what a replay player needs (seekable, finite)."""
    out = _head(a, a.first_sequence, 0, "VOD")
    for s in a.segments:
        out += [*s.tags, s.uri]
    out.append("#EXT-X-ENDLIST")
    return "\n".join(out) + "\n"
