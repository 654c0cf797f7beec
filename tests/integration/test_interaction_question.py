"""Moderated Q&A: ask, approve, vote once, highlight, answer, anonymity.

Runs on SQLite and PostgreSQL (the vote-once rule is the database's)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import socketio

from tests.interaction_helpers import Client, clients
from tests.support import app_server


async def test_moderated_qa_flow(tmp_path: Path, database_url: str) -> None:
    async with app_server(tmp_path, database_url=database_url) as app:
        s1 = (await app.session_ids())[0]
        alice, bob = await app.register("Alice"), await app.register("Bob")
        mod = await app.invite("moderator", s1)
        async with clients((app.url, alice), (app.url, bob), (app.url, mod),
                           (app.url, bob)) as (a, b, m, b2):
            for c in (a, b, m, b2):
                await c.join(s1)
            # Moderated by default: pending, seen by moderators and the author only.
            ack = await a.call("question:ask", {"session": s1, "text": "Why?", "anonymous": True})
            assert ack["ok"], ack
            q = ack["question"]
            assert q["status"] == "pending" and q["author"] is None and q["anonymous"]
            seen = await m.wait_for("question:update", lambda d: d["id"] == q["id"])
            assert seen["author"] is None  # moderators do not see anonymous authors either
            assert (await b.join(s1))["questions"] == []
            mine = await a.join(s1)
            assert mine["mine"] == [q["id"]] and mine["questions"][0]["status"] == "pending"
            assert (await b.call("question:vote", {"question": q["id"]}))["error"] == "not_found"
            approve = {"question": q["id"], "action": "approve"}
            assert (await b.call("question:moderate", approve))["error"] == "forbidden"
            assert (await m.call("question:moderate", approve))["ok"]
            await b.wait_for("question:update", lambda d: d["id"] == q["id"]
                             and d["status"] == "approved")
            # Bob votes twice from one tab and once from another: counts once.
            for c in (b, b, b2):
                ack = await c.call("question:vote", {"question": q["id"], "up": True})
                assert ack["ok"] and ack["question"]["votes"] == 1, ack
            await b2.wait_for("question:voted", lambda d: d["question"] == q["id"])
            assert (await a.call("question:vote", {"question": q["id"]}))["question"]["votes"] == 2
            assert (await b2.call("question:vote", {"question": q["id"], "up": False})
                    )["question"]["votes"] == 1
            assert (await b.join(s1))["voted"] == []

            # Highlight one, then another: the first is un-highlighted for everyone.
            q2 = (await b.call("question:ask", {"session": s1, "text": "And how?"}))["question"]
            assert q2["author"] == "Bob"
            await m.call("question:moderate", {"question": q["id"], "action": "highlight"})
            await a.wait_for("question:update", lambda d: d["id"] == q["id"] and d["highlighted"])
            await m.call("question:moderate", {"question": q2["id"], "action": "highlight"})
            await a.wait_for("question:update", lambda d: d["id"] == q2["id"] and d["highlighted"]
                             and d["status"] == "approved")
            await a.wait_for("question:update", lambda d: d["id"] == q["id"]
                             and not d["highlighted"])
            await m.call("question:moderate", {"question": q2["id"], "action": "answer"})
            await a.wait_for("question:update", lambda d: d["id"] == q2["id"]
                             and d["status"] == "answered" and not d["highlighted"])
            await m.call("question:moderate", {"question": q["id"], "action": "reject"})
            await a.wait_for("question:update", lambda d: d["id"] == q["id"]
                             and d["status"] == "rejected")
            view = await b.join(s1)
            assert [x["id"] for x in view["questions"]] == [q2["id"]]


async def test_open_qa_mode_and_mute_by_question(tmp_path: Path) -> None:
    async with app_server(tmp_path) as app:
        s1 = (await app.session_ids())[0]
        mod = await app.invite("moderator", s1)
        async with clients((app.url, await app.register()), (app.url, mod)) as (a, m):
            await a.join(s1)
            await m.join(s1)
            ack = await m.call("session:update", {"session": s1, "qa_mode": "open",
                                                  "slow_mode": 0})
            assert ack["ok"] and ack["qa_mode"] == "open", ack
            await a.wait_for("session:settings", lambda d: d["qa_mode"] == "open")
            q = (await a.call("question:ask", {"session": s1, "text": "spam?",
                                               "anonymous": True}))["question"]
            assert q["status"] == "approved"
            # The moderator mutes the anonymous author without learning who it is.
            ack = await m.call("moderation:sanction", {"session": s1, "action": "mute",
                                                       "question": q["id"]})
            assert ack["ok"] and ack["kind"] == "mute", ack
            await a.wait_for("moderation:sanction", lambda d: d["kind"] == "mute")
            ack = await a.call("question:ask", {"session": s1, "text": "more"})
            assert ack["error"] == "muted"
            assert (await a.call("chat:send", {"session": s1, "text": "hi"}))["error"] == "muted"
            sanctions = (await m.call("moderation:sanctions", {"session": s1}))["sanctions"]
            assert [x["kind"] for x in sanctions] == ["mute"]
            # Anonymous stays anonymous in the list: lifted by the sanction's id.
            assert sanctions[0]["user"] is None and sanctions[0]["anonymous"]
            assert (await m.call("moderation:sanction", {"session": s1, "action": "unmute",
                                                         "sanction": sanctions[0]["id"]}))["ok"]
            assert (await a.call("chat:send", {"session": s1, "text": "hi"}))["ok"]


async def test_ban_disconnects_and_refuses_reconnect(tmp_path: Path) -> None:
    async with app_server(tmp_path) as app:
        s1, s2 = (await app.session_ids())[:2]
        org = app.organizer_token
        token = await app.register("Troll")
        async with clients((app.url, token), (app.url, org)) as (a, o):
            await a.join(s1)
            await o.join(s1)
            msg = (await a.call("chat:send", {"session": s1, "text": "bad"}))["message"]
            ack = await o.call("moderation:sanction", {"session": s1, "action": "ban",
                                                       "message": msg["id"]})
            assert ack["ok"], ack
            await a.wait_for("disconnect")
            again = await Client(app.url, token).connect()
            assert (await again.call("session:join", {"session": s1}))["error"] == "banned"
            assert (await again.call("session:join", {"session": s2}))["ok"]
            # Event-wide ban: refused at connect.
            ack = await o.call("moderation:sanction", {"session": None, "action": "ban",
                                                       "message": msg["id"]})
            assert ack["ok"], ack
            await again.wait_for("disconnect")
            refused = Client(app.url, token)
            try:
                await refused.connect()
                raise AssertionError("a banned identity connected")
            except socketio.exceptions.ConnectionError:
                pass
            assert "banned" in str(refused.events["connect_error"]), refused.events
            await o.call("moderation:sanction", {"session": None, "action": "unban",
                                                 "message": msg["id"]})
            back = await Client(app.url, token).connect()
            await back.close()


async def test_event_wide_powers(tmp_path: Path) -> None:
    async with app_server(tmp_path) as app:
        s1, s2 = (await app.session_ids())[:2]
        event_mod = await app.invite("moderator", None)
        s2_mod = await app.invite("moderator", s2)
        speaker = await app.invite("speaker", s1)
        async with clients((app.url, await app.register("P")), (app.url, event_mod),
                           (app.url, s2_mod), (app.url, speaker)) as (p, em, sm, sp):
            await p.join(s1)
            await sp.join(s1)
            msg = (await p.call("chat:send", {"session": s1, "text": "hello"}))["message"]
            # A moderator of another session can do nothing here, nor event-wide.
            for session in (s1, None):
                ack = await sm.call("moderation:sanction", {"session": session,
                                                            "action": "mute",
                                                            "message": msg["id"]})
                assert ack["error"] == "forbidden", ack
            assert (await sm.call("chat:delete", {"message": msg["id"]}))["error"] == "forbidden"
            assert (await sp.call("moderation:online", {"session": s1}))["error"] == "forbidden"
            # Staff cannot be sanctioned; the target must be exactly one thing.
            sp_msg = (await sp.call("chat:send", {"session": s1, "text": "speaker"}))["message"]
            ack = await em.call("moderation:sanction", {"session": None, "action": "mute",
                                                        "message": sp_msg["id"]})
            assert ack["error"] == "not_sanctionable"
            ack = await em.call("moderation:sanction", {"session": None, "action": "mute",
                                                        "message": 1, "user": "p1"})
            assert ack["error"] == "invalid"
            # The event-wide moderator mutes event-wide: it holds in every session.
            ack = await em.call("moderation:sanction", {"session": None, "action": "mute",
                                                        "message": msg["id"]})
            assert ack["ok"] and ack["session"] is None
            await p.join(s2)
            assert (await p.call("chat:send", {"session": s2, "text": "x"}))["error"] == "muted"
            online = await em.call("moderation:online", {"session": s1})
            assert [o["name"] for o in online["online"]] == ["P"]
            assert len((await em.call("moderation:sanctions", {"session": None}))[
                "sanctions"]) == 1


async def test_concurrent_votes_from_tabs_count_once(tmp_path: Path, database_url: str) -> None:
    async with app_server(tmp_path, database_url=database_url) as app:
        s1 = (await app.session_ids())[0]
        voter = await app.register("Voter")
        async with clients((app.url, app.organizer_token), *[(app.url, voter)] * 4) as (
            org, *tabs):
            for c in (org, *tabs):
                await c.join(s1)
            await org.call("session:update", {"session": s1, "qa_mode": "open"})
            q = (await org.call("question:ask", {"session": s1, "text": "?"}))["question"]
            acks = await asyncio.gather(*(t.call("question:vote", {"question": q["id"]})
                                          for t in tabs for _ in range(3)))
            assert all(a["ok"] for a in acks), acks
            assert (await tabs[0].join(s1))["questions"][0]["votes"] == 1
