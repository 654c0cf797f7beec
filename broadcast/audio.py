"""Mixing the speakers' microphones into the program's sound (numpy, 48 kHz stereo).

Decoded Opus arrives in 20 ms frames with network jitter; the encoder takes
1024-sample blocks on the program clock. Each source has a FIFO: it joins the
mix once it holds a little cushion (so one late packet is not a click), and
anything beyond a ceiling is dropped from its oldest end (a sender's clock
running fast must not grow the delay without bound).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable

import av
import numpy as np

RATE = 48000
BLOCK = 1024  # what the AAC encoder takes
CUSHION = 3 * BLOCK  # ~64 ms
CEILING = 12 * BLOCK  # ~256 ms


def to_stereo_float(frame: av.AudioFrame) -> np.ndarray:
    """A decoded frame as a (2, n) float32 array in [-1, 1]."""
    if frame.sample_rate != RATE or frame.format.name not in ("s16", "fltp", "s16p", "flt"):
        frame = av.AudioResampler(format="s16", layout="stereo", rate=RATE).resample(frame)[0]
    arr = frame.to_ndarray()
    name = frame.format.name
    channels = len(frame.layout.channels)
    if name in ("s16", "flt"):  # packed: (1, n * channels)
        arr = arr.reshape(-1, channels).T
    out = arr.astype(np.float32)
    if name.startswith("s16"):
        out /= 32768.0
    if channels == 1:
        out = np.vstack([out, out])
    return out[:2]


class Source:
    def __init__(self) -> None:
        self.buf = np.zeros((2, 0), dtype=np.float32)
        self.playing = False


class AudioMixer:
    """Thread-safe: track readers push from the event loop, the encoder pulls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sources: dict[Hashable, Source] = {}  # a position, or ("lang", "ar")

    def push(self, key: Hashable, frame: av.AudioFrame) -> None:
        samples = to_stereo_float(frame)
        with self._lock:
            src = self._sources.setdefault(key, Source())
            buf = np.concatenate([src.buf, samples], axis=1)
            if buf.shape[1] > CEILING:
                buf = buf[:, -CUSHION:]
            src.buf = buf

    def drop(self, key: Hashable) -> None:
        with self._lock:
            self._sources.pop(key, None)

    def block(self, keys: Iterable[Hashable]) -> np.ndarray:
        """The next BLOCK samples of the chosen sources, summed and clipped."""
        out = np.zeros((2, BLOCK), dtype=np.float32)
        with self._lock:
            for key in keys:
                src = self._sources.get(key)
                if src is None:
                    continue
                have = src.buf.shape[1]
                if not src.playing:
                    if have < CUSHION:
                        continue
                    src.playing = True
                take = min(have, BLOCK)
                out[:, :take] += src.buf[:, :take]
                src.buf = src.buf[:, take:]
                if take < BLOCK:
                    src.playing = False  # ran dry: wait for a new cushion
        np.clip(out, -1.0, 1.0, out=out)
        return out


# How loud the floor stays under an interpretation in a language's mix (-16 dB):
# enough to hear who speaks and the room's reactions, never over the interpreter.
FLOOR_UNDER = 0.16


def language_mix(channel: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """A language's program sound: its channel, the floor ducked under it."""
    out = channel + FLOOR_UNDER * floor
    np.clip(out, -1.0, 1.0, out=out)
    return out
