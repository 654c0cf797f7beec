"""One output of a broadcast: a child process (`python -m broadcast.output`).

stdin: one JSON line (`{"kind", "url", "key", "path", "audio", "video"}`), then the program's
MPEG-TS from its first keyframe on. The child copies it, never re-encodes:
- kind "rtmp": remuxed to FLV and published to `url` + "/" + `key` (RTMP or
  RTMPS; FFmpeg's own RTMP client, through PyAV);
- kind "hls": remuxed into ~2 s HLS segments and a playlist in the folder
  `path` (broadcast/hls.py);
  Both take the video and one audio stream: `audio` names the language
  ("floor" by default; the floor too when the TS has no such language);
- kind "file": every stream (the floor and each language): the TS bytes
  appended to `path` as they come (a recording that is playable whatever
  happens to halqa: TS needs no index at the end).
stdout: JSON lines for the parent: {"event": "live"}, {"event": "bytes", "n": total},
{"event": "error", "message": "..."} (the stream key masked) before exiting 1.

The key arrives on stdin, not argv, because any local user can read another
process's command line (/proc/<pid>/cmdline); FFmpeg's CLI would have needed it
there, which is one reason this is PyAV and not `ffmpeg -c copy`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import IO, Any

import av

from broadcast import hls, lifeline
from broadcast.encode import iso639_2

REPORT_EVERY = 1.0


def mask(text: str, *secrets: str) -> str:
    for s in secrets:
        if s:
            text = text.replace(s, "****")
    return text


def say(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def copy_file(src: IO[bytes], path: str) -> None:
    total, last = 0, 0.0
    with open(path, "ab", buffering=0) as f:
        say("live")
        while data := src.read1(1 << 16):  # type: ignore[attr-defined]
            f.write(data)
            total += len(data)
            now = time.monotonic()
            if now - last >= REPORT_EVERY:
                say("bytes", n=total)
                last = now
    say("bytes", n=total)


class _Available:
    """A pipe that hands FFmpeg what has arrived instead of waiting for a full read.

    `BufferedReader.read(n)` blocks until n bytes came: at a low bitrate a 32 KiB
    read is a second of delay. `read1` returns what is there.
    """

    def __init__(self, src: IO[bytes]) -> None:
        self.src = src

    def read(self, n: int = -1) -> bytes:
        return self.src.read1(n if n > 0 else 1 << 16)  # type: ignore[attr-defined,no-any-return]


def pick(streams: list[Any], audio: str, video: bool = True) -> list[Any]:
    """The video (unless audio-only) and one audio: the language's, else the floor's.

    The program's TS carries the floor's audio first, then one per interpretation
    language tagged with its ISO 639-2 code (broadcast/encode.py).
    """
    audios = [s for s in streams if s.type == "audio"]
    chosen = audios[:1]
    if audio != "floor":
        tag = iso639_2(audio)
        chosen = [s for s in audios if s.metadata.get("language") == tag][:1] or chosen
    videos = [s for s in streams if s.type == "video"] if video else []
    return [*videos, *chosen]


def publish(src: IO[bytes], target: str, timeout_s: float, fmt: str | None = None,
            options: dict[str, str] | None = None, audio: str = "floor",
            video: bool = True) -> None:
    inp = av.open(_Available(src), mode="r", format="mpegts",
                  options={"probesize": "1000000", "analyzeduration": "1000000"})
    streams = pick(list(inp.streams), audio, video)
    if fmt is None and target.startswith(("rtmp://", "rtmps://")):
        fmt, options = "flv", {"flvflags": "no_duration_filesize", "flush_packets": "1"}
    out = av.open(target, mode="w", format=fmt,
                  options=options if options is not None else {"flush_packets": "1"})
    mapping = {s.index: out.add_stream_from_template(s) for s in streams}
    offset: float | None = None
    total, last, live = 0, 0.0, False
    try:
        for pkt in inp.demux(*streams):
            if pkt.dts is None or pkt.time_base is None:
                continue
            if offset is None:
                offset = float(pkt.dts * pkt.time_base)
            # Each connection's stream starts near 0, whenever it joined.
            shift = round(offset / pkt.time_base)
            pkt.dts -= shift
            if pkt.pts is not None:
                pkt.pts -= shift
            if pkt.dts < 0:
                continue
            pkt.stream = mapping[pkt.stream.index]
            out.mux(pkt)
            total += pkt.size
            if not live:
                say("live")
                live = True
            now = time.monotonic()
            if now - last >= REPORT_EVERY:
                say("bytes", n=total)
                last = now
    finally:
        say("bytes", n=total)
        out.close()


def main() -> None:
    lifeline.die_with_parent()
    src = sys.stdin.buffer
    cfg = json.loads(src.readline() or b"{}")
    key = str(cfg.get("key") or "")
    url = str(cfg.get("url") or "")
    try:
        if cfg.get("kind") == "file":
            copy_file(src, str(cfg["path"]))
        elif cfg.get("kind") == "hls":
            # One rendition's TS, remuxed into segments (broadcast/hls.py).
            folder = Path(str(cfg["path"]))
            folder.mkdir(parents=True, exist_ok=True)
            # An audio rendition (one language, no picture) when "video" is false.
            publish(src, str(folder / "index.m3u8"), float(cfg.get("timeout_s", 10)), "hls",
                    hls.muxer_options(folder, float(cfg.get("segment_s") or 2.0)),
                    audio=str(cfg.get("audio") or "floor"), video=bool(cfg.get("video", True)))
        else:
            publish(src, url.rstrip("/") + "/" + key if key else url,
                    float(cfg.get("timeout_s", 10)), audio=str(cfg.get("audio") or "floor"))
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # any failure is reported, masked, and ends this output
        say("error", message=mask(f"{type(exc).__name__}: {exc}", key)[:300])
        sys.exit(1)


if __name__ == "__main__":
    main()
