"""Encoding a feed once: H.264 (libx264) + AAC into MPEG-TS, with PyAV.

A *feed* is one encode of the program: a picture size, bitrates and an audio
mix. Today there is one ("program", 1280×720, the floor's sound); a lower
rendition for HLS or a language's mix is one more `FeedSpec` in the mixer's
configuration, encoded beside it from the same composed picture and the same
decoded sources, never a second decode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import av
import numpy as np

from broadcast.audio import BLOCK, RATE
from broadcast.wire import KEY, Splitter, frame

Emit = Callable[[bytes], None]
# ISO 639-1 (halqa's language codes) to ISO 639-2/B, what MPEG-TS and HLS players read.
ISO639_2 = {"fr": "fre", "ar": "ara", "en": "eng", "es": "spa", "de": "ger", "it": "ita",
            "pt": "por", "ru": "rus", "zh": "chi", "tr": "tur", "fa": "per", "sw": "swa"}
FLOOR_TAG = "mul"  # the floor: whatever languages the speakers speak


def iso639_2(language: str) -> str:
    return ISO639_2.get(language, language if len(language) == 3 else "und")


@dataclass(frozen=True, slots=True)
class FeedSpec:
    name: str = "program"
    width: int = 1280
    height: int = 720
    video_kbps: int = 3000
    audio_kbps: int = 128
    audio_mix: str = "floor"  # which mix of the sources is the feed's first audio
    # One more AAC stream per interpretation language, after the floor's, each
    # tagged with its ISO 639-2 code (MPEG-TS language descriptor): the
    # recording keeps them all, an output picks one (broadcast/output.py).
    languages: tuple[str, ...] = ()


class _Sink:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, b: bytes) -> int:
        self.data += b
        return len(b)

    def take(self) -> bytes:
        out = bytes(self.data)
        self.data.clear()
        return out


class FeedEncoder:
    def __init__(self, index: int, spec: FeedSpec, fps: int, gop_s: float, preset: str,
                 emit: Emit) -> None:
        self.index, self.spec, self.fps, self.emit = index, spec, fps, emit
        self.sink = _Sink()
        self.splitter = Splitter()
        # flush_packets: every muxed packet reaches the pipe at once (delay).
        self.out = av.open(self.sink, mode="w", format="mpegts", options={"flush_packets": "1"})
        gop = max(1, round(gop_s * fps))
        v = self.out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = spec.width, spec.height, "yuv420p"
        v.bit_rate = spec.video_kbps * 1000
        v.codec_context.gop_size = gop
        v.options = {
            "preset": preset,
            # zerolatency: no B-frames, no lookahead: a frame leaves as it is encoded.
            "tune": "zerolatency",
            # A fixed GOP (no scene-cut keyframes) so ingests see a keyframe every
            # gop_s seconds (YouTube asks for ≤ 4 s); SPS/PPS before each one so a
            # (re)joining output can start there.
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:repeat-headers=1",
            "maxrate": f"{spec.video_kbps}k",
            "bufsize": f"{spec.video_kbps * 2}k",
        }
        self.video = v
        self.audios = [self._audio_stream(FLOOR_TAG, "floor")]
        self.audios += [self._audio_stream(iso639_2(lang), lang) for lang in spec.languages]
        self.audio_pts = 0
        self.bytes_out = 0

    def _audio_stream(self, tag: str, title: str) -> Any:
        a = self.out.add_stream("aac", rate=RATE)
        a.layout = "stereo"
        a.bit_rate = self.spec.audio_kbps * 1000
        a.metadata["language"] = tag
        a.metadata["title"] = title
        return a

    def _mux(self, packets: list[av.Packet[Any]]) -> None:
        for p in packets:
            self.out.mux(p)
        data = self.sink.take()
        if not data:
            return
        for key, chunk in self.splitter.feed(data):
            self.bytes_out += len(chunk)
            self.emit(frame(KEY if key else 0, self.index, chunk))

    def video_frame(self, canvas: np.ndarray, pts: int, width: int, height: int) -> None:
        vf = av.VideoFrame.from_ndarray(canvas, format="yuv420p")
        if (width, height) != (self.spec.width, self.spec.height):
            vf = vf.reformat(width=self.spec.width, height=self.spec.height)
        vf.pts = pts
        self._mux(self.video.encode(vf))

    def audio_block(self, block: np.ndarray, languages: dict[str, np.ndarray] | None = None
                    ) -> None:
        """The floor's next block, and each language's (the floor where one is missing)."""
        mixes = [block, *((languages or {}).get(lang, block) for lang in self.spec.languages)]
        for stream, mix in zip(self.audios, mixes, strict=True):
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(mix), format="fltp",
                                            layout="stereo")
            af.sample_rate = RATE
            af.pts = self.audio_pts
            self._mux(stream.encode(af))
        self.audio_pts += BLOCK

    def close(self) -> None:
        try:
            self._mux([*self.video.encode(None),
                       *(p for a in self.audios for p in a.encode(None))])
            self.out.close()
            self._mux([])
        except (av.FFmpegError, ValueError):
            pass  # closing a broken encoder: nothing more to save
