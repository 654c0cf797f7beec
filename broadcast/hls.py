"""Live HLS as outputs of the program mixer: renditions, feeds, packagers.

No second decode and no re-encode of the program: the 720p rendition *is* the
program feed (the encode the RTMP destinations and the recording get); a
smaller rendition (360p) is one more feed of the mixer, scaled from the same
composed picture and encoded in the mixer child beside the program
(broadcast/encode.py). Each rendition is then one output child
(`python -m broadcast.output`, kind "hls") that remuxes its feed's TS into
~2 s segments with FFmpeg's HLS muxer, `-c copy` style:

    <root>/<session>/<rendition>/index.m3u8   EVENT playlist, every segment
    <root>/<session>/<rendition>/seg_00042.ts
    <root>/<session>/audio<lang>/index.m3u8   one language's audio rendition

Each interpretation language is an audio-only packager of the program feed's
language stream (no video): the master playlist lists it as an
`#EXT-X-MEDIA:TYPE=AUDIO` rendition players switch to (server/hls.py).

A restarted packager appends to the same playlist after an
`#EXT-X-DISCONTINUITY` (`append_list`), so the archive of a session is one
playlist however often its program restarted; halqa serves the live window
and the replay from it (server/hls.py, server/hls_playlist.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from broadcast.encode import FeedSpec
from broadcast.outputs import OutputSpec

NAME = re.compile(r"^[a-z0-9]{1,16}$")
SESSION = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Rendition:
    name: str
    width: int
    height: int
    video_kbps: int
    audio_kbps: int


@dataclass(frozen=True, slots=True)
class HlsPlan:
    root: Path
    renditions: tuple[Rendition, ...]
    segment_s: float = 2.0


def feeds(plan: HlsPlan | None, program: FeedSpec) -> tuple[list[FeedSpec], dict[str, int]]:
    """The mixer's extra feeds, and which feed each rendition packages.

    A rendition of the program's size is the program feed (index 0); any
    other one is a feed of its own, appended after the program.
    """
    extra: list[FeedSpec] = []
    index: dict[str, int] = {}
    for r in plan.renditions if plan else ():
        if (r.width, r.height) == (program.width, program.height):
            index[r.name] = 0
            continue
        extra.append(FeedSpec(name=r.name, width=r.width, height=r.height,
                              video_kbps=r.video_kbps, audio_kbps=r.audio_kbps))
        index[r.name] = len(extra)
    return extra, index


def outputs(plan: HlsPlan, session_id: str, index: dict[str, int]) -> list[OutputSpec]:
    """One packager per rendition, writing under <root>/<session>/<rendition>/."""
    if not SESSION.match(session_id):
        raise ValueError("unsafe session id")
    specs = []
    for name, feed in index.items():
        if not NAME.match(name):
            raise ValueError("unsafe rendition name")
        folder = plan.root / session_id / name
        specs.append(OutputSpec(id=f"hls-{name}", name=f"HLS {name}", kind="hls",
                                path=str(folder), feed=feed, segment_s=plan.segment_s))
    return specs


def audio_folder(language: str) -> str:
    """An interpretation language's audio rendition: `<session>/audio<lang>/`."""
    return f"audio{language}"


def audio_outputs(plan: HlsPlan, session_id: str, languages: tuple[str, ...]
                  ) -> list[OutputSpec]:
    """One audio-only packager per language, from the program feed's language stream."""
    if not SESSION.match(session_id):
        raise ValueError("unsafe session id")
    specs = []
    for lang in languages:
        name = audio_folder(lang)
        if not NAME.match(name):
            raise ValueError("unsafe language")
        specs.append(OutputSpec(id=f"hls-{name}", name=f"HLS audio {lang}", kind="hls",
                                path=str(plan.root / session_id / name), feed=0,
                                segment_s=plan.segment_s, audio=lang, video=False))
    return specs


def muxer_options(folder: Path, segment_s: float) -> dict[str, str]:
    """FFmpeg's HLS muxer, as the output child runs it."""
    return {
        "hls_time": f"{segment_s:g}",
        "hls_list_size": "0",  # every segment: the archive (halqa serves the live window)
        "hls_playlist_type": "event",
        # temp_file: a segment appears under its name only once complete;
        # append_list + discont_start: a restart continues the same archive;
        # program_date_time: where questions were answered, in the replay.
        "hls_flags": "append_list+discont_start+program_date_time+temp_file+independent_segments",
        "hls_segment_filename": str(folder / "seg_%05d.ts"),
    }
