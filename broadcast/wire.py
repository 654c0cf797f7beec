"""What the mixer child sends its parent on stdout, and how keyframes are found.

The mixer writes one MPEG-TS per feed. It splits that byte stream into
*chunks* and frames each one:

    flags (1 byte) | feed (1 byte) | length (4 bytes, big-endian) | payload

`KEY` marks a chunk that starts at a random access point: the SDT/PAT/PMT
that FFmpeg's muxer writes right before every video keyframe, then the
keyframe. An output joining (or re-joining) the stream starts at such a chunk,
so it never begins with an undecodable picture. `STATS` chunks carry one JSON
object (the mixer's own figures) instead of TS.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

HEADER = struct.Struct(">BBI")
KEY = 0x01
STATS = 0x02
TS = 188
PSI_PIDS = frozenset({0x0000, 0x0011, 0x1000})  # PAT, SDT, FFmpeg's first PMT
MAX_CHUNK = 8 << 20


def frame(flags: int, feed: int, payload: bytes) -> bytes:
    return HEADER.pack(flags, feed, len(payload)) + payload


def _pid(data: bytes | bytearray, i: int) -> int:
    return ((data[i + 1] & 0x1F) << 8) | data[i + 2]


def _random_access(data: bytes | bytearray, i: int) -> bool:
    """The TS packet at i has an adaptation field with random_access_indicator set."""
    afc = (data[i + 3] >> 4) & 0x3
    return bool(afc & 0x2) and data[i + 4] > 0 and bool(data[i + 5] & 0x40)


class Splitter:
    """Cuts a TS byte stream into chunks, starting a new one at each video keyframe.

    Bytes arrive in any sizes; only whole 188-byte packets are released.
    """

    def __init__(self, video_pid: int = 0x100) -> None:
        self.video_pid = video_pid
        self.pending = bytearray()

    def feed(self, data: bytes) -> Iterator[tuple[bool, bytes]]:
        """Yield (starts_at_keyframe, bytes) for the whole packets received so far."""
        self.pending += data
        whole = len(self.pending) - len(self.pending) % TS
        buf = self.pending
        start, key = 0, False
        psi_run: int | None = None  # first PSI packet of the run just before i
        for i in range(0, whole, TS):
            pid = _pid(buf, i)
            if pid in PSI_PIDS:
                psi_run = i if psi_run is None else psi_run
                continue
            if pid == self.video_pid and _random_access(buf, i):
                cut = psi_run if psi_run is not None else i
                if cut > start:
                    yield key, bytes(buf[start:cut])
                start, key = cut, True
            psi_run = None
        if whole > start:
            yield key, bytes(buf[start:whole])
        del buf[:whole]
