"""Pure rules of the broadcast: layout, keyframe cuts in the TS, the audio mix,
key masking, leases, and what a destination URL may be."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import av
import numpy as np
import pytest

from broadcast.audio import BLOCK, CUSHION, AudioMixer
from broadcast.compose import Composer, rtl
from broadcast.encode import FeedEncoder, FeedSpec
from broadcast.layout import plan
from broadcast.leases import Leases, MemoryLeases, RedisLeases
from broadcast.output import mask
from broadcast.wire import HEADER, KEY, Splitter


def pub(i: int, name: str, **kw: bool) -> dict[str, object]:
    return {"id": f"p{i}", "name": name, "position": i, "audio": True, "camera": True,
            "screen": False, "connected": True, **kw}


def test_layout_slate_speaker_strip_and_screen() -> None:
    assert plan({"publishers": []}).slate
    alone = plan({"publishers": [pub(0, "Amal")]})
    assert [(t.w, t.h) for t in alone.tiles] == [(1280, 720)]
    panel = plan({"program": "p2", "publishers": [pub(0, "A"), pub(1, "B"), pub(2, "C")]})
    main, *strip = panel.tiles
    assert main.position == 2 and main.w > 900 and len(strip) == 2
    assert all(t.y > main.y + main.h for t in strip)  # the strip is below
    assert panel.audio == (0, 1, 2)
    shared = plan({"program": "p0", "publishers": [pub(0, "A"), pub(1, "B", screen=True)]})
    screen, beside, *rest = shared.tiles
    assert (screen.label, screen.position) == ("screen", 1)
    assert (beside.label, beside.position, beside.caption) == ("camera", 1, "B")
    assert beside.x >= screen.x + screen.w and [t.position for t in rest] == [0]
    for p in (alone, panel, shared):
        for t in p.tiles:
            assert t.x % 2 == t.y % 2 == 0 and t.x + t.w <= 1280 and t.y + t.h <= 720


def test_six_speakers_fit() -> None:
    six = plan({"publishers": [pub(i, f"S{i}") for i in range(6)]})
    assert len(six.tiles) == 6 and len({(t.x, t.y) for t in six.tiles}) == 6


def test_arabic_names_read_right_to_left() -> None:
    assert rtl("أمل بنعلي") and not rtl("Bruno Lefèvre") and rtl("  ١٢ أمل")
    c = Composer(1280, 720)
    cap = c.caption("أمل بنعلي", 400)
    assert cap.alpha.max() > 0.9  # drawn
    # Right-aligned: the text's ink sits in the right part of the caption box.
    ink = np.where(cap.y.max(axis=0) > 200)[0]
    assert ink.min() > 200


def test_splitter_cuts_at_psi_before_each_keyframe() -> None:
    chunks: list[bytes] = []
    enc = FeedEncoder(0, FeedSpec(width=320, height=180, video_kbps=300), 30, 0.5,
                      "ultrafast", chunks.append)
    canvas = np.full((270, 320), 128, dtype=np.uint8)
    for n in range(45):
        canvas[:180] = (n * 5) % 255
        enc.video_frame(canvas, n, 320, 180)
        enc.audio_block(np.zeros((2, BLOCK), dtype=np.float32))
    enc.close()
    keys = []
    for c in chunks:
        flags, feed, length = HEADER.unpack(c[: HEADER.size])
        body = c[HEADER.size :]
        assert feed == 0 and length == len(body) and len(body) % 188 == 0
        if flags & KEY:
            pid = ((body[1] & 0x1F) << 8) | body[2]
            assert pid in (0x0000, 0x0011), "a key chunk starts with the PAT/SDT"
            keys.append(body)
    assert len(keys) >= 3  # a keyframe every 0.5 s over 1.5 s
    # Bytes split at any boundary give the same cuts.
    ts = b"".join(c[HEADER.size :] for c in chunks)
    s = Splitter()
    again = [k for step in range(0, len(ts), 1000) for k, _ in s.feed(ts[step : step + 1000])]
    assert sum(again) == len(keys)


def test_audio_waits_for_a_cushion_and_sums() -> None:
    mixer = AudioMixer()

    def frame(value: float, n: int = 960) -> av.AudioFrame:
        data = np.full((1, n * 2), int(value * 32767), dtype=np.int16)
        f = av.AudioFrame.from_ndarray(data, format="s16", layout="stereo")
        f.sample_rate = 48000
        return f

    mixer.push(0, frame(0.25))
    assert not mixer.block([0]).any()  # less than the cushion: silence
    for _ in range(CUSHION // 960 + 1):
        mixer.push(0, frame(0.25))
        mixer.push(1, frame(0.5))
    out = mixer.block([0, 1])
    assert out.shape == (2, BLOCK) and abs(float(out[0, 0]) - 0.75) < 0.01
    assert abs(float(mixer.block([0])[0, 0]) - 0.25) < 0.01
    for _ in range(CUSHION // 960 + 1):
        mixer.push(0, frame(0.9))
        mixer.push(1, frame(0.9))
    assert float(mixer.block([0, 1]).max()) <= 1.0  # clipped, not wrapped


def test_mask_hides_the_key_everywhere() -> None:
    msg = "Connection refused: 'rtmp://a.rtmp.youtube.com/live2/abcd-efgh-SECRET'"
    assert "SECRET" not in mask(msg, "abcd-efgh-SECRET") and "live2/****" in mask(
        msg, "abcd-efgh-SECRET")


@pytest.fixture(params=["memory", "redis"])
async def leases(request: pytest.FixtureRequest) -> AsyncIterator[Leases]:
    """One contract, both stores (a real private redis-server for the second)."""
    if request.param == "memory":
        yield MemoryLeases()
        return
    store = RedisLeases(request.getfixturevalue("redis_url"),
                        prefix=f"t{secrets.token_hex(4)}:")
    yield store
    await store.close()


async def test_leases_one_holder(leases: Leases) -> None:
    assert await leases.acquire("broadcast:s1", "a", 10)
    assert not await leases.acquire("broadcast:s1", "b", 10)
    assert await leases.acquire("broadcast:s1", "a", 10)  # renewal
    await leases.release("broadcast:s1", "b")  # not b's: stays
    assert await leases.holder("broadcast:s1") == "a"
    await leases.release("broadcast:s1", "a")
    assert await leases.acquire("broadcast:s1", "b", 0.05)
    await asyncio.sleep(0.1)  # b's lease expired: a dead holder lets go by itself
    assert await leases.holder("broadcast:s1") is None
    assert await leases.acquire("broadcast:s1", "a", 10)


@pytest.mark.parametrize("url", ["http://x/live", "rtmp:///live", "rtmp://u:p@host/app",
                                 "rtmp://host/app?k=1", "rtmp://host/a b", "ftp://x"])
def test_destination_url_refused(url: str) -> None:
    from pydantic import ValidationError

    from server.api.broadcast import DestinationIn

    with pytest.raises(ValidationError):
        DestinationIn(name="x", url=url, key="k")
    assert DestinationIn(name="x", url="rtmps://live-api-s.facebook.com:443/rtmp/",
                         key="FB-1?s_bl=1").url.startswith("rtmps://")
