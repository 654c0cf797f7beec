"""HLS rules without media: playlists from an archive, signatures, watch beats."""

from __future__ import annotations

import datetime as dt

import pytest

from server.errors import BadRequest, Failure
from server.hls import Signer, file_of
from server.hls_playlist import live, parse, vod

ARCHIVE = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-PROGRAM-DATE-TIME:2026-12-09T09:00:00.000+0000
#EXTINF:2.000000,
seg_00000.ts
#EXTINF:2.000000,
seg_00001.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-12-09T09:10:00.000+0000
#EXTINF:2.000000,
seg_00002.ts
#EXTINF:1.500000,
seg_00003.ts
"""


def test_live_keeps_the_last_segments_and_counts_what_scrolled_out() -> None:
    a = parse(ARCHIVE)
    assert len(a.segments) == 4 and a.duration == 7.5 and not a.ended
    text = live(a, 2)
    assert "#EXT-X-MEDIA-SEQUENCE:2" in text
    assert "seg_00001.ts" not in text and text.rstrip().endswith("seg_00003.ts")
    assert "#EXT-X-DISCONTINUITY\n" in text  # still inside the window
    text = live(a, 1)
    assert "#EXT-X-DISCONTINUITY-SEQUENCE:1" in text and "#EXT-X-DISCONTINUITY\n" not in text
    assert "#EXT-X-ENDLIST" not in text
    assert live(parse(ARCHIVE + "#EXT-X-ENDLIST\n"), 2).rstrip().endswith("#EXT-X-ENDLIST")


def test_vod_lists_everything_and_ends() -> None:
    text = vod(parse(ARCHIVE))
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and text.count(".ts") == 4
    assert text.rstrip().endswith("#EXT-X-ENDLIST") and "EVENT" not in text


def test_offsets_follow_program_date_times_across_a_restart() -> None:
    a = parse(ARCHIVE)
    at = dt.datetime(2026, 12, 9, 9, 0, 3, tzinfo=dt.UTC)
    assert a.offset_at(at) == 3.0
    assert a.offset_at(at.replace(minute=10, second=1)) == 5.0
    assert a.offset_at(at.replace(minute=5)) is None  # the stream was off then
    assert a.offset_at(at.replace(hour=8)) is None


def test_not_a_playlist() -> None:
    with pytest.raises(ValueError):
        parse("<html>")


def test_signatures_bind_session_scope_and_expiry() -> None:
    signer = Signer(b"k" * 32, ttl_s=3600, window_s=600)
    g = signer.grant("panel", "live", now=1000)
    assert g.expiry % 600 == 0 and g.expiry >= 4600
    assert signer.grant("panel", "live", now=1001).prefix == g.prefix  # shared in a window
    signer.check("panel", "live", str(g.expiry), g.signature, now=1000)
    for args, code in (
        (("other", "live", str(g.expiry), g.signature), "bad_signature"),
        (("panel", "replay", str(g.expiry), g.signature), "bad_signature"),
        (("panel", "live", str(g.expiry + 600), g.signature), "bad_signature"),
        (("panel", "live", str(g.expiry), "A" * 22), "bad_signature"),
        (("panel", "live", "12x", g.signature), "bad_path"),
        (("../x", "live", str(g.expiry), g.signature), "bad_path"),
    ):
        with pytest.raises(Failure) as e:
            signer.check(*args, now=1000)
        assert e.value.code == code, args
    with pytest.raises(Failure) as e:
        signer.check("panel", "live", str(g.expiry), g.signature, now=g.expiry + 1)
    assert e.value.code == "expired"
    assert Signer(b"x" * 32, 3600, 600).grant("panel", "live", now=1000).signature != g.signature


@pytest.mark.parametrize("name", ["master.m3u8", "720p/index.m3u8", "360p/seg_00012.ts"])
def test_files_a_player_may_ask_for(name: str) -> None:
    assert file_of(name)


@pytest.mark.parametrize("name", ["../x", "720p/../../db", "720p/seg_1.mp4", "a/b/c.ts",
                                  "720p/index.m3u8/", "/etc/passwd", "720P/index.m3u8", ""])
def test_everything_else_is_refused(name: str) -> None:
    with pytest.raises(BadRequest) as e:
        file_of(name)
    assert e.value.code == "bad_path"


def test_ffmpeg_append_list_quirks_are_cleaned() -> None:
    text = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-DISCONTINUITY
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-DISCONTINUITY
#EXTINF:2.000000,
seg_00000.ts
#EXT-X-DISCONTINUITY
#EXTINF:2.000000,
seg_00001.ts
"""
    a = parse(text)
    assert not a.segments[0].discontinuity and a.segments[1].discontinuity
    assert vod(a).count("#EXT-X-DISCONTINUITY") == 1
