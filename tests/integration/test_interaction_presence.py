"""Presence and viewer counts in one process, on memory and on a real Redis."""

from __future__ import annotations

import secrets
from itertools import pairwise
from pathlib import Path

import pytest

from tests.interaction_helpers import clients, eventually
from tests.support import Halqa, app_server


@pytest.fixture(params=["memory", "redis"])
async def app(request: pytest.FixtureRequest, tmp_path: Path) -> Halqa:
    extra = {"redis_url": request.getfixturevalue("redis_url")} if request.param == "redis" else {}
    async with app_server(tmp_path, **extra) as halqa:
        yield halqa


async def counts(app: Halqa, session: str) -> dict[str, object]:
    async with app.http.get(f"{app.url}/api/live/{session}", headers=app.auth()) as r:
        assert r.status == 200
        data: dict[str, object] = await r.json()
        return data


async def register(app: Halqa, name: str) -> tuple[str, str]:
    """A participant's token and presence key (p<participant id>)."""
    async with app.http.post(f"{app.url}/api/registrations", json={
        "name": name, "email": f"{secrets.token_hex(6)}@example.org", "country": "MA",
        "language": "fr", "consent": True}) as r:
        body = await r.json()
        assert r.status == 201, body
    return body["token"], f"p{body['participant']}"


async def test_tabs_count_once_staff_not_counted_and_leave(app: Halqa) -> None:
    s1 = (await app.session_ids())[-1]  # a session no other test in this redis uses
    alice, alice_key = await register(app, "Alice")
    bob = await app.register("Bob")
    speaker = await app.invite("speaker", s1)
    async with clients((app.url, alice), (app.url, alice), (app.url, bob),
                       (app.url, speaker)) as (a1, a2, b, sp):
        base = (await counts(app, s1))["count"]
        assert isinstance(base, int)
        for c in (a1, a2, sp):
            await c.join(s1)
        ack = await b.join(s1)
        assert ack["count"] == base + 2
        await b.wait_for("presence:count", lambda d: d["count"] == base + 2)
        live = await counts(app, s1)
        # Once, under her own key, however many tabs she has.
        assert [o for o in live["online"] if o["name"] == "Alice"] == [  # type: ignore[attr-defined]
            {"user": alice_key, "name": "Alice"}]
        await a1.call("session:leave", {"session": s1})
        assert (await counts(app, s1))["count"] == base + 2  # Alice's second tab stays
        await a2.close()
        await b.wait_for("presence:count", lambda d: d["count"] == base + 1)
        async with app.http.get(f"{app.url}/api/live", headers=app.auth()) as r:
            row = next(x for x in (await r.json())["sessions"] if x["session"] == s1)
            assert row["count"] == base + 1 and row["peak"] >= base + 2
    await eventually(lambda: _count_is(app, s1, base))
    async with app.http.get(f"{app.url}/api/attendance/{s1}", headers=app.auth()) as r:
        report = await r.json()
        names = {p["name"]: p for p in report["attendance"]}
        assert set(names) >= {"Alice", "Bob"} and names["Alice"]["stays"] == 2
    async with app.http.get(f"{app.url}/api/attendance/{s1}",
                            headers=app.auth(alice)) as r:
        assert r.status == 403


async def _count_is(app: Halqa, session: str, n: int) -> bool:
    return (await counts(app, session))["count"] == n


async def test_count_pushes_are_coalesced(app: Halqa) -> None:
    """However fast people arrive, a process pushes a session's count at most
    once a second (and the last push is exact)."""
    s = (await app.session_ids())[-2]
    observer_token = await app.invite("moderator", s)
    tokens = [await app.register(f"P{i}") for i in range(12)]
    async with clients((app.url, observer_token)) as (obs,):
        base = (await obs.join(s))["count"]
        async with clients(*[(app.url, t) for t in tokens]) as people:
            for p in people:
                await p.join(s)
            await eventually(lambda: _count_is(app, s, base + 12))
            await obs.wait_for("presence:count", lambda d: d["count"] == base + 12)
        stamps = obs.times["presence:count"]
        assert len(stamps) >= 1
        gaps = [b - a for a, b in pairwise(stamps)]
        assert all(g >= 0.9 for g in gaps), gaps
