"""The program and sessions served from memory: validators, 304, cache headers,
and invalidation when the program changes or a stage goes live elsewhere."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy import update

from server.keys import DB, PROGRAM_CACHE, SHARED
from server.models import Session
from tests.support import app_server


async def test_program_answers_carry_validators_and_conditional_requests_get_304(
    tmp_path: Path,
) -> None:
    async with app_server(tmp_path) as h:
        async with h.http.get(f"{h.url}/api/program") as r:
            assert r.status == 200
            etag, last_modified = r.headers["ETag"], r.headers["Last-Modified"]
            assert r.headers["Cache-Control"] == "public, max-age=2, stale-while-revalidate=30"
            body = await r.json()
        assert etag.startswith('"') and len(body["sessions"]) == 9
        for headers in ({"If-None-Match": etag}, {"If-None-Match": f'"x", W/{etag}'},
                        {"If-Modified-Since": last_modified}):
            async with h.http.get(f"{h.url}/api/program", headers=headers) as r:
                assert r.status == 304, headers
                assert await r.read() == b""
                assert r.headers["ETag"] == etag
        async with h.http.get(f"{h.url}/api/program", headers={"If-None-Match": '"other"'}) as r:
            assert r.status == 200
        sid = body["sessions"][0]["id"]
        async with h.http.get(f"{h.url}/api/sessions/{sid}") as r:
            assert r.status == 200 and r.headers["ETag"] != etag
            assert (await r.json())["id"] == sid
            session_etag = r.headers["ETag"]
        async with h.http.get(f"{h.url}/api/sessions/{sid}",
                              headers={"If-None-Match": session_etag}) as r:
            assert r.status == 304
        async with h.http.get(f"{h.url}/api/sessions/nope") as r:
            assert r.status == 404
            assert (await r.json())["error"]["code"] == "not_found"


async def test_a_rush_reads_the_database_once_and_changes_show_within_the_refresh(
    tmp_path: Path,
) -> None:
    async with app_server(tmp_path) as h:
        assert h.app is not None
        cache = h.app[PROGRAM_CACHE]
        await h.program()
        before = cache.builds

        async def one() -> int:
            async with h.http.get(f"{h.url}/api/program") as r:
                await r.read()
                return r.status

        assert set(await asyncio.gather(*(one() for _ in range(200)))) == {200}
        assert cache.builds - before <= 1  # at most one refresh fell in the rush

        # Another process changes the program (here: straight in the database,
        # without telling this process): it shows within refresh_s.
        first = (await h.program())["sessions"][0]
        async with h.app[DB].transaction() as s:
            await s.execute(update(Session).where(Session.id == first["id"])
                            .values(room="Salle Ibn Khaldoun"))
        deadline = time.monotonic() + 3
        while (await h.program())["sessions"][0]["room"] != "Salle Ibn Khaldoun":
            assert time.monotonic() < deadline, "the program change never showed"
            await asyncio.sleep(0.1)

        # A stage goes live on another node (the shared live state says so).
        async with h.http.get(f"{h.url}/api/sessions/{first['id']}") as r:
            etag = r.headers["ETag"]
            assert (await r.json())["live"] is False
        await h.app[SHARED].stages_set("another-node", {first["id"]}, 10)
        deadline = time.monotonic() + 3
        while True:
            async with h.http.get(f"{h.url}/api/sessions/{first['id']}",
                                  headers={"If-None-Match": etag}) as r:
                if r.status == 200:
                    assert (await r.json())["live"] is True
                    break
                assert r.status == 304
            assert time.monotonic() < deadline, "the live flag never showed"
            await asyncio.sleep(0.1)


async def test_cached_answers_are_not_counted_by_the_per_client_limit(tmp_path: Path) -> None:
    async with app_server(tmp_path, limits={"requests_per_minute": 5}) as h:
        for _ in range(20):
            async with h.http.get(f"{h.url}/api/program") as r:
                assert r.status == 200
        statuses = []
        for _ in range(7):
            async with h.http.get(f"{h.url}/api/program/calendar.ics") as r:
                statuses.append(r.status)
        assert statuses[:5] == [200] * 5 and statuses[-1] == 429


async def test_refresh_zero_reads_the_database_on_every_request(tmp_path: Path) -> None:
    async with app_server(tmp_path, public={"refresh_s": 0}) as h:
        assert h.app is not None
        cache = h.app[PROGRAM_CACHE]
        before = cache.builds
        for _ in range(5):
            await h.program()
        assert cache.builds - before == 5
