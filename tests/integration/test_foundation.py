"""The foundation against the real app: on SQLite, and on PostgreSQL when reachable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio
from sqlalchemy import text

from tests.support import Halqa, app_server

GOOD = {"name": "Nadia A.", "email": "nadia@example.org", "country": "MA",
        "organisation": "Université", "language": "fr", "consent": True}


@pytest.fixture
async def halqa(tmp_path: Path, database_url: str) -> AsyncIterator[Halqa]:
    async with app_server(tmp_path, database_url=database_url) as h:
        yield h


async def post(h: Halqa, path: str, body: Any = None, *, raw: bytes | None = None,
               headers: dict[str, str] | None = None) -> tuple[int, Any]:
    kwargs: dict[str, Any] = {"headers": headers or {}}
    if raw is not None:
        kwargs["data"] = raw
        kwargs["headers"].setdefault("Content-Type", "application/json")
    else:
        kwargs["json"] = body
    async with h.http.post(h.url + path, **kwargs) as r:
        data = await r.json() if r.content_type == "application/json" else await r.text()
        return r.status, data


async def test_program_lists_nine_sessions_with_zone_and_speakers(halqa: Halqa) -> None:
    program = await halqa.program()
    assert program["event"]["timezone"] == "Africa/Casablanca"
    assert program["event"]["days"] == ["2026-12-09", "2026-12-10"]
    sessions = program["sessions"]
    assert len(sessions) == 9
    first = sessions[0]
    assert first["starts_at"].endswith("+01:00")
    assert set(first["title"]) == {"fr", "ar", "en"}
    assert first["live"] is False and first["viewers"] == 0
    countries = {sp["country"] for s in sessions for sp in s["speakers"]}
    assert len(countries) == 12


async def test_registration_returns_a_personal_link_once(halqa: Halqa) -> None:
    status, body = await post(halqa, "/api/registrations", GOOD)
    assert status == 201, body
    base = halqa.url.replace("127.0.0.1", "localhost")
    assert body["access_url"].startswith(f"{base}/join#token=")
    assert body["token"] in body["access_url"]
    # Same address again, differently cased: no duplicate, no link handed out.
    status, again = await post(halqa, "/api/registrations",
                               {**GOOD, "email": "NADIA@example.org", "name": "Impostor"})
    assert status == 409
    assert again["error"]["code"] == "already_registered"
    assert "token" not in again and body["token"] not in str(again)


async def test_invalid_registrations_name_each_field_and_store_nothing(halqa: Halqa) -> None:
    status, body = await post(halqa, "/api/registrations",
                              {**GOOD, "email": "nope", "consent": False, "extra": 1})
    assert status == 422
    assert {"email", "consent", "extra"} <= set(body["error"]["fields"])
    status, body = await post(halqa, "/api/registrations", raw=b"{not json")
    assert (status, body["error"]["code"]) == (400, "bad_json")
    status, body = await post(halqa, "/api/registrations", raw=b"[1, 2]")
    assert (status, body["error"]["code"]) == (400, "bad_json")
    status, body = await post(halqa, "/api/registrations", raw=b"x" * 200_000)
    assert (status, body["error"]["code"]) == (413, "payload_too_large")
    status, body = await post(halqa, "/api/registrations", {**GOOD, "name": 5})
    assert status == 422 and "name" in body["error"]["fields"]
    status, body = await post(halqa, "/api/registrations", {**GOOD, "session": "no-such"})
    assert status == 422 and "session" in body["error"]["fields"]
    # None of the above was stored: the address is still free.
    status, _ = await post(halqa, "/api/registrations", GOOD)
    assert status == 201


async def test_invites_are_for_organizers_only(halqa: Halqa) -> None:
    session = (await halqa.session_ids())[0]
    participant = await halqa.register()
    body = {"role": "speaker", "session": session}
    assert (await post(halqa, "/api/invites", body))[0] == 401
    assert (await post(halqa, "/api/invites", body, headers=halqa.auth("bogus")))[0] == 401
    status, err = await post(halqa, "/api/invites", body, headers=halqa.auth(participant))
    assert (status, err["error"]["code"]) == (403, "forbidden")
    status, invite = await post(halqa, "/api/invites", body, headers=halqa.auth())
    assert status == 201
    assert invite["url"].endswith(f"/studio/{session}#token={invite['token']}")
    status, err = await post(halqa, "/api/invites", {"role": "speaker", "session": "nope"},
                             headers=halqa.auth())
    assert status == 422 and "session" in err["error"]["fields"]
    status, err = await post(halqa, "/api/invites", {"role": "organizer", "session": session},
                             headers=halqa.auth())
    assert status == 422 and "role" in err["error"]["fields"]
    async with halqa.http.get(f"{halqa.url}/api/invites", headers=halqa.auth()) as r:
        listed = await r.json()
    assert [i["session"] for i in listed["invites"]] == [session]
    assert invite["token"] not in str(listed)


async def connect(h: Halqa, token: str | None) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(h.url, auth={"token": token} if token else None,
                         transports=["websocket"], wait_timeout=5)
    return client


async def test_socket_connections_need_a_live_token(halqa: Halqa) -> None:
    token = await halqa.register()
    client = await connect(halqa, token)
    assert client.connected
    await client.disconnect()
    for bad in (None, "unknown-token", "x" * 500):
        with pytest.raises(socketio.exceptions.ConnectionError):
            await connect(halqa, bad)
    status, _ = await post(halqa, "/api/tokens/revoke", {"token": token}, headers=halqa.auth())
    assert status == 204
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect(halqa, token)


async def test_revoking_an_invite_locks_the_token_out(halqa: Halqa) -> None:
    session = (await halqa.session_ids())[1]
    status, invite = await post(halqa, "/api/invites", {"role": "moderator", "session": session},
                                headers=halqa.auth())
    assert status == 201
    client = await connect(halqa, invite["token"])
    async with halqa.http.delete(f"{halqa.url}/api/invites/{invite['id']}",
                                 headers=halqa.auth()) as r:
        assert r.status == 204
    # The open connection is closed too, not just future ones.
    await client.sleep(0.3)
    assert not client.connected
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect(halqa, invite["token"])
    async with halqa.http.delete(f"{halqa.url}/api/invites/{invite['id']}",
                                 headers=halqa.auth()) as r:
        assert r.status == 404


async def test_a_restart_keeps_registrations_and_invites(tmp_path: Path, database_url: str) -> None:
    organizer = "o" * 32
    async with app_server(tmp_path, database_url=database_url, organizer_token=organizer) as h:
        participant = await h.register(email="keep@example.org")
        speaker = await h.invite("speaker", (await h.session_ids())[2])
    async with app_server(tmp_path, database_url=database_url, organizer_token=organizer) as h:
        for token in (participant, speaker):
            client = await connect(h, token)
            assert client.connected
            await client.disconnect()
        status, _ = await post(h, "/api/registrations", {**GOOD, "email": "keep@example.org"})
        assert status == 409
        assert len((await h.program())["sessions"]) == 9


async def test_registrations_are_rate_limited_per_client(tmp_path: Path) -> None:
    async with app_server(tmp_path, limits={"registrations_per_minute": 3}) as h:
        statuses = []
        for i in range(5):
            status, _ = await post(h, "/api/registrations", {**GOOD, "email": f"r{i}@ex.org"})
            statuses.append(status)
        assert statuses == [201, 201, 201, 429, 429]
        # Everyone else is still served.
        assert len(await h.session_ids()) == 9


async def test_a_flooding_client_is_slowed_and_others_are_served(tmp_path: Path) -> None:
    async with app_server(tmp_path, behind_proxy=True, limits={"requests_per_minute": 20}) as h:
        flood = {"X-Forwarded-For": "198.51.100.1"}
        statuses = []
        # (The program itself is served from memory and exempt: tests/integration/
        # test_public_cache.py; the calendar reads the database.)
        for _ in range(25):
            async with h.http.get(f"{h.url}/api/program/calendar.ics", headers=flood) as r:
                statuses.append(r.status)
        assert statuses.count(200) == 20 and statuses[-1] == 429
        async with h.http.get(f"{h.url}/api/program/calendar.ics",
                              headers={"X-Forwarded-For": "198.51.100.2"}) as r:
            assert r.status == 200
        # Health checks are not API calls: a load balancer is never locked out.
        async with h.http.get(f"{h.url}/healthz", headers=flood) as r:
            assert r.status == 200


async def test_behind_a_proxy_the_limit_follows_the_address_the_proxy_saw(
    tmp_path: Path,
) -> None:
    async with app_server(tmp_path, behind_proxy=True,
                          limits={"registrations_per_minute": 2}) as h:
        statuses = []
        for i in range(4):
            # A client forging the first X-Forwarded-For entry gains nothing.
            headers = {"X-Forwarded-For": f"10.0.0.{i}, 203.0.113.7"}
            status, _ = await post(h, "/api/registrations", {**GOOD, "email": f"x{i}@ex.org"},
                                   headers=headers)
            statuses.append(status)
        assert statuses == [201, 201, 429, 429]
        status, _ = await post(h, "/api/registrations", {**GOOD, "email": "y@ex.org"},
                               headers={"X-Forwarded-For": "203.0.113.8"})
        assert status == 201


async def test_health_readiness_metrics_and_calendar(halqa: Halqa) -> None:
    async with halqa.http.get(f"{halqa.url}/healthz") as r:
        assert r.status == 200
    async with halqa.http.get(f"{halqa.url}/readyz") as r:
        assert r.status == 200 and (await r.json())["checks"]["database"] == "ok"
    await post(halqa, "/api/registrations", {**GOOD, "email": "m@example.org"})
    async with halqa.http.get(f"{halqa.url}/metrics") as r:
        text = await r.text()
    assert "halqa_registrations_total 1.0" in text
    assert 'route="/api/registrations"' in text
    assert "halqa_stage_viewers 0.0" in text
    session = (await halqa.session_ids())[0]
    async with halqa.http.get(f"{halqa.url}/api/sessions/{session}/calendar.ics") as r:
        ics = await r.text()
    assert r.content_type == "text/calendar" and ics.count("BEGIN:VEVENT") == 1
    async with halqa.http.get(f"{halqa.url}/api/program/calendar.ics") as r:
        assert (await r.text()).count("BEGIN:VEVENT") == 9
    async with halqa.http.get(f"{halqa.url}/api/nothing-here") as r:
        assert r.status == 404 and (await r.json())["error"]["code"] == "not_found"


async def test_readiness_fails_when_redis_is_gone(tmp_path: Path) -> None:
    import redis.exceptions

    from tests.support import free_port, redis_server

    # A Redis nobody listens on: the app refuses to start, saying why.
    url = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(redis.exceptions.ConnectionError, match=r"(?i)connect"):
        async with app_server(tmp_path / "a", redis_url=url):
            pass

    # Redis goes away while serving: /readyz answers 503 and names the check.
    backing = redis_server(tmp_path)
    private = backing.__enter__()
    running = True
    try:
        async with app_server(tmp_path / "b", redis_url=private) as halqa:
            async with halqa.http.get(f"{halqa.url}/readyz") as r:
                assert r.status == 200
                assert (await r.json())["checks"] == {"database": "ok", "shared_state": "ok"}
            backing.__exit__(None, None, None)
            running = False
            async with halqa.http.get(f"{halqa.url}/readyz") as r:
                body = await r.json()
                assert r.status == 503, body
            assert body["status"] == "not_ready" and body["checks"]["database"] == "ok"
            assert body["checks"]["shared_state"].startswith("error: "), body
    finally:
        if running:
            backing.__exit__(None, None, None)


async def test_pages_are_served_with_security_headers(halqa: Halqa) -> None:
    for path in ("/", "/join", "/session/opening-plenary"):
        async with halqa.http.get(halqa.url + path) as r:
            assert r.status == 200
            assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    async with halqa.http.get(f"{halqa.url}/vendor/socket.io/socket.io.esm.min.js") as r:
        assert r.status == 200, "run `npm ci` in client/ (scripts/test does)"


async def test_plain_http_client_gets_json_errors_for_wrong_method(halqa: Halqa) -> None:
    async with aiohttp.ClientSession() as s, s.put(f"{halqa.url}/api/registrations") as r:
        assert r.status == 405
        assert (await r.json())["error"]["code"] == "method_not_allowed"


async def test_processes_starting_together_take_turns_migrating(pg_url: str) -> None:
    from server.db import Database

    # Eight fresh "processes" migrate one empty PostgreSQL database at once.
    dbs = [Database(pg_url.replace("postgresql://", "postgresql+asyncpg://")) for _ in range(8)]
    try:
        # Without the lock this deadlocks; the generous guard turns a hang into
        # a failure rather than deciding anything by speed.
        await asyncio.wait_for(asyncio.gather(*(db.migrate() for db in dbs)), timeout=120)
        async with dbs[0].engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        assert len(version) == 1
    finally:
        for db in dbs:
            await db.close()


async def test_redis_going_away_gives_503_not_500(tmp_path: Path) -> None:
    from tests.support import redis_server

    (tmp_path / "redis").mkdir()
    with redis_server(tmp_path / "redis") as url:
        async with app_server(tmp_path, redis_url=url) as h:
            assert (await post(h, "/api/registrations", {**GOOD, "email": "a@ex.org"}))[0] == 201
            # Stop Redis under the running app.
            import redis.asyncio as aredis

            client = aredis.Redis.from_url(url)
            await client.shutdown(nosave=True)
            status, body = await post(h, "/api/registrations", {**GOOD, "email": "b@ex.org"})
            assert (status, body["error"]["code"]) == (503, "unavailable")
            async with h.http.get(f"{h.url}/readyz") as r:
                assert r.status == 503
            async with h.http.get(f"{h.url}/healthz") as r:
                assert r.status == 200
