"""Chat over real Socket.IO against the real app (SQLite + memory presence)."""

from __future__ import annotations

from pathlib import Path

import socketio

from tests.interaction_helpers import Client, clients
from tests.support import Halqa, app_server


async def test_chat_roundtrip_history_and_delete(live_app: Halqa) -> None:
    s1 = (await live_app.session_ids())[0]
    alice, bob = await live_app.register("Alice"), await live_app.register("Bob")
    mod = await live_app.invite("moderator", s1)
    async with clients((live_app.url, alice), (live_app.url, bob), (live_app.url, mod)) as (
        a, b, m):
        await a.join(s1)
        await b.join(s1)
        await m.join(s1)
        ack = await a.call("chat:send", {"session": s1, "text": "  <b>salam</b> "})
        assert ack["ok"], ack
        msg = ack["message"]
        assert msg["text"] == "<b>salam</b>" and msg["author"] == "Alice"
        got = await b.wait_for("chat:message", lambda d: d["id"] == msg["id"])
        assert got == msg
        # History on join, then a moderator deletes the message.
        c = await Client(live_app.url, bob).connect()
        hist = await c.join(s1)
        assert [x["id"] for x in hist["chat"]] == [msg["id"]]
        assert (await b.call("chat:delete", {"message": msg["id"]}))["error"] == "forbidden"
        assert (await m.call("chat:delete", {"message": msg["id"]}))["ok"]
        await a.wait_for("chat:delete", lambda d: d["id"] == msg["id"])
        assert (await c.join(s1))["chat"] == []
        await c.close()


async def test_bad_input_is_refused_and_nothing_applied(live_app: Halqa) -> None:
    s1 = (await live_app.session_ids())[0]
    async with clients((live_app.url, await live_app.register())) as (a,):
        assert (await a.call("chat:send", {"session": s1, "text": "x"}))["error"] == "not_joined"
        await a.join(s1)
        cases = [
            ("chat:send", {"session": s1, "text": 5}, "invalid"),
            ("chat:send", {"session": s1}, "invalid"),
            ("chat:send", {"session": s1, "text": "hi", "extra": 1}, "invalid"),
            ("chat:send", "not an object", "invalid"),
            ("chat:send", {"session": s1, "text": "x" * 501}, "too_long"),
            ("chat:send", {"session": s1, "text": "   "}, "empty"),
            ("chat:send", {"session": "nope", "text": "hi"}, "not_joined"),
            ("no:such:event", {}, "unknown_event"),
            ("question:moderate", {"question": 1, "action": "approve"}, "not_found"),
            ("session:update", {"session": s1, "state": "closed"}, "forbidden"),
            ("moderation:sanction", {"session": s1, "action": "ban", "user": "p1"}, "forbidden"),
            ("session:join", {"session": "nope"}, "no_session"),
        ]
        for event, payload, code in cases:
            ack = await a.call(event, payload)
            assert ack["ok"] is False and ack["error"] == code, (event, payload, ack)
        assert (await a.join(s1))["chat"] == []


async def test_flood_is_refused_without_hurting_others(tmp_path: Path) -> None:
    async with app_server(tmp_path, interaction={"chat_rate": 3, "chat_rate_window": 60}) as app:
        s1 = (await app.session_ids())[0]
        async with clients((app.url, await app.register()), (app.url, await app.register())) as (
            a, b):
            await a.join(s1)
            await b.join(s1)
            acks = [await a.call("chat:send", {"session": s1, "text": f"m{i}"})
                    for i in range(6)]
            assert [x["ok"] for x in acks] == [True] * 3 + [False] * 3
            assert {x.get("error") for x in acks[3:]} == {"rate_limited"}
            assert (await b.call("chat:send", {"session": s1, "text": "still fine"}))["ok"]
            assert len((await b.join(s1))["chat"]) == 4


async def test_acked_message_survives_restart(tmp_path: Path) -> None:
    token = ""
    async with app_server(tmp_path, organizer_token="org-" + "x" * 30) as app:
        s1 = (await app.session_ids())[0]
        token = await app.register("Durable")
        async with clients((app.url, token)) as (a,):
            await a.join(s1)
            assert (await a.call("chat:send", {"session": s1, "text": "kept"}))["ok"]
    async with (app_server(tmp_path, organizer_token="org-" + "x" * 30) as app,
                clients((app.url, token)) as (a,)):
        assert [m["text"] for m in (await a.join(s1))["chat"]] == ["kept"]


async def test_oversize_message_closes_only_that_connection(live_app: Halqa) -> None:
    """Above 16 KiB the engine drops the frame and closes that connection (no ack
    is possible); nothing is stored, and everyone else carries on."""
    s1 = (await live_app.session_ids())[0]
    async with clients((live_app.url, await live_app.register()),
                       (live_app.url, await live_app.register())) as (big, other):
        await big.join(s1)
        await other.join(s1)
        try:
            await big.call("chat:send", {"session": s1, "text": "x" * 20_000}, timeout=3)
            raise AssertionError("an oversize message was acknowledged")
        except socketio.exceptions.TimeoutError:
            pass
        await big.wait_for("disconnect")
        assert (await other.call("chat:send", {"session": s1, "text": "fine"}))["ok"]
        assert [m["text"] for m in (await other.join(s1))["chat"]] == ["fine"]


async def test_slow_mode_and_closed_session(live_app: Halqa) -> None:
    s1 = (await live_app.session_ids())[0]
    mod = await live_app.invite("moderator", s1)
    async with clients((live_app.url, await live_app.register()), (live_app.url, mod)) as (a, m):
        await a.join(s1)
        await m.join(s1)
        assert (await m.call("session:update", {"session": s1, "slow_mode": 60}))["ok"]
        await a.wait_for("session:settings", lambda d: d["slow_mode"] == 60)
        assert (await a.call("chat:send", {"session": s1, "text": "one"}))["ok"]
        ack = await a.call("chat:send", {"session": s1, "text": "two"})
        assert ack["error"] == "slow_mode" and ack["seconds"] == 60
        # Moderators are exempt from slow mode.
        assert (await m.call("chat:send", {"session": s1, "text": "m1"}))["ok"]
        assert (await m.call("chat:send", {"session": s1, "text": "m2"}))["ok"]
        assert (await m.call("session:update", {"session": s1, "state": "closed",
                                                "slow_mode": 0}))["ok"]
        assert (await a.call("chat:send", {"session": s1, "text": "x"}))["error"] == (
            "session_closed")
        ack = await a.call("question:ask", {"session": s1, "text": "x"})
        assert ack["error"] == "session_closed"
        assert (await m.call("session:update", {"session": s1, "slow_mode": -1}))[
            "error"] == "invalid"
        snap = await a.join(s1)
        assert snap["state"] == "closed" and [c["text"] for c in snap["chat"]] == [
            "one", "m1", "m2"]
