"""Every bad input gets a clear 4xx or an error ack, never a 500 or silence
(issue 9): a sweep over every Socket.IO event and every HTTP route the app
registers, so a handler added later is swept too without anyone listing it.

The real app (SQLite, in-memory presence), the official Socket.IO client and
plain HTTP. The findings' own cases are in test_hardening_findings.py; this
is the breadth: wrong types, unknown fields, out-of-range and foreign ids,
odd text, as a participant and as the organizer.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.interaction_helpers import clients
from tests.support import app_server


def bad_payloads(s1: str) -> list[Any]:
    """Wrong types, unknown fields, ids out of range or naming nothing, odd text."""
    return [
        None, "x", 5, [], [1, 2], True, {}, {"unknown": 1},
        {"session": 5}, {"session": None}, {"session": "x" * 5000}, {"session": "../../etc"},
        {"session": "nope", "text": "hi"}, {"session": {"a": [1, {"b": 2}]}},
        {"question": 2**70}, {"question": -1}, {"question": "1"}, {"question": 987654},
        {"message": 2**63}, {"message": 0}, {"poll": 2**64}, {"poll": 987654},
        {"session": s1, "text": ""}, {"session": s1, "text": "\u200b\u200b"},
        {"session": s1, "text": "a\x00b"}, {"session": s1, "text": "\u202eevil"},
        {"session": s1, "text": "x" * 3000}, {"session": s1, "text": 5},
        {"session": s1, "anonymous": "yes", "text": "q?"}, {"session": s1, "extra": 1},
        {"session": s1, "state": "exploded"}, {"session": s1, "slow_mode": -5},
        {"session": s1, "qa_mode": 7}, {"session": s1, "options": ["a"] * 500},
        {"session": s1, "kind": "\u0000", "target": 2**70},
    ]


# A path parameter that names nothing, in the ways an attacker or a careless
# client would write it: long, a traversal, non-ASCII digits, past 2^64, not UTF-8.
BAD_IDS = ["x" * 300, "..%2F..%2Fetc", "%D9%A1%D9%A2", str(2**64), "%ff"]
BAD_BODIES: list[tuple[bytes, str]] = [
    (b"", "application/json"),
    (b"not json", "application/json"),
    (b"[" * 10_000 + b"]" * 10_000, "application/json"),
    (b'{"a": ' + b"9" * 5000 + rb', "role": 5, "session": null, "name": "\u202e"}',
     "application/json"),
    (b"\xff\xfe\x00", "application/sdp"),
]


def concrete_paths(app: web.Application, ids: list[str]) -> list[tuple[str, str]]:
    """(method, path) for every route, each `{param}` filled with each bad id."""
    out: set[tuple[str, str]] = set()
    for route in app.router.routes():
        if route.resource is None or route.method in ("HEAD", "*"):
            continue
        path = route.resource.canonical
        if "{" not in path:
            out.add((route.method, path))
            continue
        for bad in ids:
            out.add((route.method, re.sub(r"\{[^}]+\}", bad, path)))
    return sorted(out)


async def test_every_event_answers_bad_payloads_with_an_error_ack(tmp_path: Path) -> None:
    from server.keys import SIO

    # The flood limiter would answer rate_limited to a sweep this fast: lift it
    # (it has its own test), so each handler's own validation answers.
    async with app_server(tmp_path, interaction={"flood_events": 100_000}) as app:
        assert app.app is not None
        events = sorted(e for e in app.app[SIO].handlers["/"] if e not in
                        ("connect", "disconnect", "*"))
        assert len(events) >= 20, events  # the sweep sees the handlers
        s1 = (await app.session_ids())[0]
        participant = await app.register("Sweeper")
        silent, internal, wrong = [], [], []
        async with clients((app.url, participant), (app.url, app.organizer_token)) as cs:
            for c in cs:
                await c.join(s1)
            for c in cs:
                for event in events:
                    for payload in bad_payloads(s1):
                        try:
                            ack = await c.call(event, payload, timeout=5)
                        except TimeoutError:
                            silent.append((event, payload))
                            continue
                        if not isinstance(ack, dict) or "ok" not in ack:
                            wrong.append((event, payload, ack))
                        elif ack["ok"] is False and ack.get("error") == "internal":
                            internal.append((event, payload))
                        elif ack["ok"] is False and not (isinstance(ack.get("error"), str)
                                                         and ack["error"]):
                            wrong.append((event, payload, ack))
                # Still connected and served after all of it.
                ack = await c.call("session:join", {"session": s1})
                assert ack["ok"], ack
        assert not silent, f"no ack: {silent[:5]}"
        assert not internal, f"internal: {sorted({(e, json.dumps(p)) for e, p in internal})}"
        assert not wrong, f"not an ack: {wrong[:5]}"


async def test_every_route_answers_bad_requests_below_500(tmp_path: Path) -> None:
    async with app_server(tmp_path, limits={"registrations_per_minute": 100_000,
                                            "requests_per_minute": 1_000_000}) as app:
        assert app.app is not None
        participant = await app.register("Sweeper")
        routes = concrete_paths(app.app, BAD_IDS)
        assert len(routes) > 100, len(routes)
        failures: list[tuple[str, str, str, int]] = []
        statuses: dict[int, int] = {}
        unclear: list[tuple[str, str, int]] = []
        auths: list[dict[str, str]] = [{}, app.auth(participant), app.auth()]
        timeout = aiohttp.ClientTimeout(total=10)
        for method, path in routes:
            for auth in auths:
                for body, ctype in BAD_BODIES:
                    headers = {**auth, "Content-Type": ctype}
                    async with app.http.request(method, app.url + path, data=body,
                                                headers=headers, timeout=timeout) as r:
                        text = await r.text(errors="replace")
                        statuses[r.status] = statuses.get(r.status, 0) + 1
                        if r.status >= 500:
                            failures.append((method, path, repr(body[:30]), r.status))
                        elif r.status >= 400 and r.content_type == "application/json":
                            # An error says what went wrong, in the one error shape.
                            err = json.loads(text).get("error")
                            code = err.get("code") if isinstance(err, dict) else err
                            if not code:
                                unclear.append((method, path, r.status))
        print(f"\n{len(routes)} paths, answers by status: {dict(sorted(statuses.items()))}")
        assert not failures, f"{len(failures)} answers >= 500, e.g. {failures[:8]}"
        assert not unclear, f"4xx without an error code: {unclear[:8]}"

