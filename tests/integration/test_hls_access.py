"""HLS access: signed URLs any player opens without headers, refused when forged,
expired, for another session or with a traversal; replays published or hidden;
watch beats and unique visitors in the report."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

from server.keys import HLS_SIGNER, SHARED
from tests.hls_helpers import get, make_archive, segment_uris
from tests.support import Halqa, app_server


async def test_live_url_plays_without_headers_and_bad_addresses_are_refused(
    tmp_path: Path,
) -> None:
    async with app_server(tmp_path) as h:
        assert h.app is not None
        sid, other = (await h.session_ids())[:2]
        token = await h.register()
        url = f"{h.url}/api/sessions/{sid}/hls"
        status, body, _ = await get(h.http, url)
        assert status == 401
        status, body, _ = await get(h.http, url, headers=h.auth(token))
        assert status == 404 and b"not_live" in body
        await h.app[SHARED].stages_set("elsewhere", {sid}, 30)
        status, body, _ = await get(h.http, url, headers=h.auth(token))
        assert status == 404 and b"hls_starting" in body  # live, nothing packaged yet
        make_archive(tmp_path, sid)
        status, body, _ = await get(h.http, url, headers=h.auth(token))
        assert status == 200
        master_url = json.loads(body)["url"]
        assert master_url.startswith(h.url + f"/hls/{sid}/live/")

        # Any player, no headers: master → both renditions → segments.
        status, body, headers = await get(h.http, master_url)
        assert status == 200 and headers["Content-Type"] == "application/vnd.apple.mpegurl"
        master = body.decode()
        assert "RESOLUTION=1280x720" in master and "RESOLUTION=640x360" in master
        assert segment_uris(master) == ["720p/index.m3u8", "360p/index.m3u8"]
        prefix = master_url.rsplit("/", 1)[0]
        status, body, headers = await get(h.http, f"{prefix}/360p/index.m3u8")
        assert status == 200 and headers["Cache-Control"] == "public, max-age=1"
        playlist = body.decode()
        assert "#EXT-X-ENDLIST" in playlist  # the archive ffmpeg closed
        seg = segment_uris(playlist)[0]
        status, body, headers = await get(h.http, f"{prefix}/360p/{seg}")
        assert status == 200 and body[:1] == b"\x47"  # MPEG-TS sync byte
        assert headers["Content-Type"] == "video/mp2t"
        assert "immutable" in headers["Cache-Control"]

        # A second participant in the same window gets the same prefix (shared cache keys).
        status, body, _ = await get(h.http, url, headers=h.auth(await h.register()))
        assert json.loads(body)["url"] == master_url

        m = re.match(rf"{re.escape(h.url)}/hls/{sid}/live/(\d+)/([\w-]+)/master.m3u8", master_url)
        assert m
        expiry, sig = m.groups()
        forged = sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")
        cases = {
            f"/hls/{sid}/live/{expiry}/{forged}/master.m3u8": (403, "bad_signature"),
            f"/hls/{other}/live/{expiry}/{sig}/master.m3u8": (403, "bad_signature"),
            f"/hls/{sid}/replay/{expiry}/{sig}/master.m3u8": (403, "bad_signature"),
            f"/hls/{sid}/live/{int(expiry) + 1}/{sig}/master.m3u8": (403, "bad_signature"),
            f"/hls/{sid}/live/{expiry}/{sig}/..%2F..%2Fhalqa.db": (400, "bad_path"),
            f"/hls/{sid}/live/{expiry}/{sig}/360p/..%2F..%2F..%2Fhlssecret": (400, "bad_path"),
            f"/hls/{sid}/live/{expiry}/{sig}/360p/seg_1.mp4": (400, "bad_path"),
            f"/hls/{sid}/vod/{expiry}/{sig}/master.m3u8": (400, "bad_path"),
            f"/hls/{sid}/live/{expiry}/{sig}/360p/seg_99999.ts": (404, "not_found"),
        }
        for path, (want, code) in cases.items():
            status, body, _ = await get(h.http, h.url + path)
            assert (status, code) == (want, json.loads(body)["error"]["code"]), path
        # Plain dot segments never reach a file either (aiohttp or the check refuses).
        status, body, _ = await get(h.http, f"{prefix}/360p/../../../halqa.db")
        assert status in (400, 403, 404) and b"SQLite" not in body

        # Expired: a prefix signed for a time long past.
        old = h.app[HLS_SIGNER].grant(sid, "live", now=0)
        status, body, _ = await get(h.http, h.url + old.prefix + "master.m3u8")
        assert status == 403 and b"expired" in body


async def replay_flag(h: Halqa, sid: str, want: bool) -> None:
    deadline = time.monotonic() + 5
    while True:
        async with h.http.get(f"{h.url}/api/sessions/{sid}") as r:
            if (await r.json())["replay"] is want:
                return
        assert time.monotonic() < deadline, f"the session's replay flag never became {want}"
        await asyncio.sleep(0.2)


async def test_replay_after_the_session_published_or_hidden(tmp_path: Path) -> None:
    async with app_server(tmp_path) as h:
        assert h.app is not None
        sid, never = (await h.session_ids())[:2]
        token = await h.register()
        status, body, _ = await get(h.http, f"{h.url}/api/sessions/{never}/replay",
                                    headers=h.auth(token))
        assert status == 404 and b"no_replay" in body
        make_archive(tmp_path, sid)
        await h.app[SHARED].stages_set("elsewhere", {sid}, 30)
        status, body, _ = await get(h.http, f"{h.url}/api/sessions/{sid}/replay",
                                    headers=h.auth(token))
        assert status == 404 and b"live_now" in body
        await h.app[SHARED].stages_set("elsewhere", (), 30)
        status, body, _ = await get(h.http, f"{h.url}/api/sessions/{sid}/replay",
                                    headers=h.auth(token))
        assert status == 200, body
        replay = json.loads(body)
        assert replay["published"] is True and 6 <= replay["duration_s"] <= 8
        # The public session says a replay is there (the page asks for it only
        # then), within the program's refresh (1 s).
        await replay_flag(h, sid, True)
        async with h.http.get(f"{h.url}/api/sessions/{never}") as r:
            assert (await r.json())["replay"] is False
        assert replay["questions"] == []
        prefix = replay["url"].rsplit("/", 1)[0]
        status, body, headers = await get(h.http, f"{prefix}/720p/index.m3u8")
        assert status == 200 and headers["Cache-Control"] == "public, max-age=60"
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in body.decode()
        assert body.decode().rstrip().endswith("#EXT-X-ENDLIST")

        # The organizer hides it: participants get 404, through the API and the URL.
        async with h.http.put(f"{h.url}/api/sessions/{sid}/replay", json={"published": False},
                              headers=h.auth(token)) as r:
            assert r.status == 403
        async with h.http.put(f"{h.url}/api/sessions/{sid}/replay", json={"published": False},
                              headers=h.auth()) as r:
            assert r.status == 200
        status, body, _ = await get(h.http, f"{h.url}/api/sessions/{sid}/replay",
                                    headers=h.auth(token))
        assert status == 404 and b"not_published" in body
        await replay_flag(h, sid, False)
        status, body, _ = await get(h.http, f"{prefix}/720p/index.m3u8")
        assert status == 404 and b"not_published" in body
        status, body, _ = await get(h.http, f"{h.url}/api/sessions/{sid}/replay",
                                    headers=h.auth())
        assert status == 200 and json.loads(body)["published"] is False
        async with h.http.put(f"{h.url}/api/sessions/{sid}/replay", json={"published": "no"},
                              headers=h.auth()) as r:
            assert r.status == 422


async def test_watch_beats_and_unique_visitors_reach_the_report(tmp_path: Path) -> None:
    async with app_server(tmp_path) as h:
        assert h.app is not None
        sid = (await h.session_ids())[0]
        a, b = await h.register(), await h.register()
        for token, mode in ((a, "hls"), (b, "webrtc"), (b, "replay")):
            async with h.http.post(f"{h.url}/api/sessions/{sid}/watch", json={"mode": mode},
                                   headers=h.auth(token)) as r:
                assert r.status == 204
        await asyncio.sleep(1.1)
        async with h.http.post(f"{h.url}/api/sessions/{sid}/watch", json={"mode": "hls"},
                               headers=h.auth(a)) as r:
            assert r.status == 204
        async with h.http.post(f"{h.url}/api/sessions/{sid}/watch", json={"mode": "tv"},
                               headers=h.auth(a)) as r:
            assert r.status == 422
        async with h.http.post(f"{h.url}/api/sessions/{sid}/watch", json={"mode": "hls"}) as r:
            assert r.status == 401

        # Three page loads from two browsers (same address): two visitors.
        for ua in ("Browser A", "Browser B", "Browser A"):
            async with h.http.get(f"{h.url}/", headers={"User-Agent": ua}) as r:
                assert r.status == 200
        async with h.http.get(f"{h.url}/api/report", headers=h.auth()) as r:
            report = await r.json()
        row = next(x for x in report["sessions"] if x["id"] == sid)
        assert row["hls_viewers"] == 1 and row["hls_watch_seconds"] >= 1
        assert row["webrtc_viewers"] == 1 and row["replay_viewers"] == 1
        assert report["totals"]["hls_viewers"] == 1
        assert [d["visitors"] for d in report["visitors"]] == [2]
        # What is kept: a count per day, and keyed hashes, never the address.
        live = h.app[SHARED]
        kept = repr(getattr(live, "_visitors", {}))
        assert "127.0.0.1" not in kept and "Browser" not in kept
