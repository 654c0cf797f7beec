"""HLS access: signed URL prefixes, and the files the packager leaves on disk.

Layout (written by the HLS outputs of the broadcast mixer, broadcast/hls.py):

    <data_dir>/hls/<session>/<rendition>/index.m3u8   EVENT playlist, every segment
    <data_dir>/hls/<session>/<rendition>/seg_00042.ts

A URL that halqa hands out looks like

    /hls/<session>/<scope>/<expiry>/<signature>/master.m3u8

scope is `live` or `replay`; the signature is HMAC-SHA256 over
"<scope>/<session>/<expiry>" under `hls.secret`. Every file of one session and
scope sits under the same prefix, so one signature covers the master
playlist, the media playlists and every segment (players resolve them
relative to the master), and expiries are rounded up to `hls.url_window_s`:
all viewers of one window share one prefix, so a cache in front keeps one
copy of each segment for all of them. docs/protocol.md ("HLS") has the
reasoning.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

from server.config import HlsSettings, Rendition
from server.errors import BadRequest, Forbidden
from server.hls_playlist import Archive, parse

SCOPES = ("live", "replay")
SESSION = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
EXPIRY = re.compile(r"^[0-9]{1,12}$")
SIGNATURE = re.compile(r"^[A-Za-z0-9_-]{22}$")
# Every file a player may ask for; anything else (.., /, %2f, other names) is refused.
FILE = re.compile(r"^(?:master\.m3u8|(?P<rendition>[a-z0-9]{1,16})/"
                  r"(?:index\.m3u8|seg_[0-9]{1,9}\.ts))$")
CONTENT_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t"}
# RFC 6381 codec strings of what the mixer encodes: H.264 High (libx264's
# default profile), AAC-LC. Safari wants them in the master playlist.
CODECS = "avc1.640028,mp4a.40.2"
# Interpretation audio renditions: `<session>/audio<lang>/` (broadcast/hls.py).
AUDIO_FOLDER = re.compile(r"^audio([a-z]{2,3})$")
AUDIO_GROUP = "aud"
LANGUAGE_NAMES = {"fr": "Français", "ar": "العربية", "en": "English"}


@dataclass(frozen=True, slots=True)
class Grant:
    """A signed prefix: what `GET /api/sessions/{id}/hls` and `/replay` hand out."""

    session: str
    scope: str
    expiry: int
    signature: str

    @property
    def prefix(self) -> str:
        return f"/hls/{self.session}/{self.scope}/{self.expiry}/{self.signature}/"


class Signer:
    def __init__(self, key: bytes, ttl_s: int, window_s: int) -> None:
        self._key, self.ttl_s, self.window_s = key, ttl_s, window_s

    def _sign(self, session: str, scope: str, expiry: int) -> str:
        mac = hmac.new(self._key, f"{scope}/{session}/{expiry}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:16]).rstrip(b"=").decode()

    def grant(self, session: str, scope: str, now: float | None = None) -> Grant:
        now = time.time() if now is None else now
        expiry = math.ceil((now + self.ttl_s) / self.window_s) * self.window_s
        return Grant(session, scope, expiry, self._sign(session, scope, expiry))

    def check(self, session: str, scope: str, expiry: str, signature: str,
              now: float | None = None) -> None:
        """Raise a Failure (400/403) unless this prefix was signed by us and is current."""
        if (not SESSION.match(session) or scope not in SCOPES or not EXPIRY.match(expiry)
                or not SIGNATURE.match(signature)):
            raise BadRequest("bad_path", "not an HLS address halqa hands out")
        good = self._sign(session, scope, int(expiry))
        if not hmac.compare_digest(good, signature):
            raise Forbidden("bad_signature", "this address was not signed for this session")
        if int(expiry) < (time.time() if now is None else now):
            raise Forbidden("expired", "this address has expired; ask for a new one")


def file_of(path: str) -> re.Match[str]:
    m = FILE.match(path)
    if m is None:
        raise BadRequest("bad_path", "no such file in an HLS stream")
    return m


class Store:
    """The packager's files for every session, and their playlists parsed once."""

    def __init__(self, root: Path, settings: HlsSettings) -> None:
        self.root = root
        self.settings = settings
        self._parsed: dict[Path, tuple[tuple[int, int], Archive]] = {}

    def session_dir(self, session: str) -> Path:
        assert SESSION.match(session)  # checked by every caller: no traversal
        return self.root / session

    def renditions(self, session: str) -> list[Rendition]:
        """The configured renditions that have a playlist for this session."""
        base = self.session_dir(session)
        return [r for r in self.settings.renditions if (base / r.name / "index.m3u8").is_file()]

    def archive(self, session: str, rendition: str) -> Archive | None:
        path = self.session_dir(session) / rendition / "index.m3u8"
        try:
            st = path.stat()
        except OSError:
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        cached = self._parsed.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            archive = parse(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        self._parsed[path] = (stamp, archive)
        return archive

    def main_archive(self, session: str) -> Archive | None:
        """The first rendition with segments: the reference for duration and readiness."""
        for r in self.renditions(session):
            a = self.archive(session, r.name)
            if a is not None and a.segments:
                return a
        return None

    def languages(self, session: str) -> list[str]:
        """Interpretation languages with an audio rendition (broadcast/hls.py)."""
        base = self.session_dir(session)
        try:
            names = sorted(p.name for p in base.iterdir())
        except OSError:
            return []
        return [m.group(1) for n in names if (m := AUDIO_FOLDER.match(n))
                and (base / n / "index.m3u8").is_file()]

    def master(self, session: str) -> str | None:
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
        found = self.renditions(session)
        if not found:
            return None
        languages = self.languages(session)
        group = ""
        if languages:
            # The floor is in every video rendition (no URI); each language is
            # its own audio-only playlist the player switches to.
            group = f',AUDIO="{AUDIO_GROUP}"'
            lines.append(f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{AUDIO_GROUP}",LANGUAGE="mul",'
                         'NAME="Floor",DEFAULT=YES,AUTOSELECT=YES')
            for lang in languages:
                name = LANGUAGE_NAMES.get(lang, lang)
                lines.append(f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{AUDIO_GROUP}",'
                             f'LANGUAGE="{lang}",NAME="{name}",DEFAULT=NO,AUTOSELECT=YES,'
                             f'URI="audio{lang}/index.m3u8"')
        # Highest first: players start with the first entry and adapt from there.
        for r in sorted(found, key=lambda r: -r.video_kbps):
            bandwidth = (r.video_kbps + r.audio_kbps) * 1000 * 11 // 10  # + TS overhead
            lines += [f'#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={r.width}x{r.height},'
                      f'CODECS="{CODECS}"{group}', f"{r.name}/index.m3u8"]
        return "\n".join(lines) + "\n"
