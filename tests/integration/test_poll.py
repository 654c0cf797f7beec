"""Polls over real Socket.IO against the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from server.keys import DB
from server.models_poll import PollBallot
from tests.interaction_helpers import Client, clients, eventually
from tests.support import app_server


async def make_poll(m: Client, session: str, **extra: Any) -> dict[str, Any]:
    ack = await m.call("poll:create", {"session": session, "question": "Which day?",
                                       "options": ["Mon", "Tue", "Wed"], **extra})
    assert ack["ok"], ack
    poll: dict[str, Any] = ack["poll"]
    return poll


async def test_poll_lifecycle_roles_results_and_bad_input(
    tmp_path: Path, database_url: str
) -> None:
    async with app_server(tmp_path, database_url=database_url) as app:
        s1, s2 = (await app.session_ids())[:2]
        mod = await app.invite("moderator", s1)
        speaker, other_speaker = await app.invite("speaker", s1), await app.invite("speaker", s2)
        alice, bob = await app.register("Alice"), await app.register("Bob")
        async with clients((app.url, mod), (app.url, alice), (app.url, bob), (app.url, speaker),
                           (app.url, other_speaker)) as (m, a, b, sp, sp2):
            for c in (m, a, b, sp, sp2):
                await c.join(s1)
            assert (await m.call("poll:list", {"session": s1}))["runs"] is True
            listed = await a.call("poll:list", {"session": s1})
            assert listed["ok"] and listed["runs"] is False and listed["polls"] == []

            # Who may prepare polls: moderators and the session's own speaker.
            poll = await make_poll(m, s1)
            assert poll["state"] == "draft" and poll["results"] == {"voters": 0,
                                                                     "counts": [0, 0, 0]}
            assert (await make_poll(sp, s1))["state"] == "draft"
            for who in (a, sp2):
                ack = await who.call("poll:create", {"session": s1, "question": "q",
                                                     "options": ["x", "y"]})
                assert ack == {"ok": False, "error": "forbidden"}, ack
                ack = await who.call("poll:open", {"poll": poll["id"]})
                assert ack["error"] == "forbidden", ack
            # A draft is invisible to participants, and cannot be voted on.
            assert (await a.call("poll:list", {"session": s1}))["polls"] == []
            ack = await a.call("poll:vote", {"poll": poll["id"], "choices": [0]})
            assert ack["error"] == "not_found", ack

            assert (await m.call("poll:open", {"poll": poll["id"]}))["ok"]
            opened = await a.wait_for("poll:update", lambda d: d["id"] == poll["id"]
                                      and d["state"] == "open")
            assert "results" not in opened  # not revealed yet

            assert (await a.call("poll:vote", {"poll": poll["id"], "choices": [1]}))["ok"]
            assert (await b.call("poll:vote", {"poll": poll["id"], "choices": [1]}))["ok"]
            # Changing a vote while open replaces it.
            ack = await b.call("poll:vote", {"poll": poll["id"], "choices": [2]})
            assert ack == {"ok": True, "poll": poll["id"], "session": s1, "choices": [2]}
            live = await m.wait_for("poll:results", lambda d: d["poll"] == poll["id"]
                                    and d["counts"] == [0, 1, 1])
            assert live["voters"] == 2
            assert not a.events["poll:results"]  # participants wait for the reveal

            bad = [
                ({"poll": poll["id"], "choices": [3]}, "invalid_choice"),
                ({"poll": poll["id"], "choices": [-1]}, "invalid_choice"),
                ({"poll": poll["id"], "choices": [0, 1]}, "single_choice"),
                ({"poll": poll["id"], "choices": [1, 1]}, "invalid_choice"),
                ({"poll": poll["id"], "choices": []}, "invalid_choice"),
                ({"poll": poll["id"], "choices": ["1"]}, "invalid"),
                ({"poll": poll["id"], "choices": [0] * 7}, "invalid"),
                ({"poll": 999999, "choices": [0]}, "not_found"),
                ({"poll": poll["id"]}, "invalid"),
            ]
            for payload, code in bad:
                ack = await a.call("poll:vote", payload)
                assert ack["ok"] is False and ack["error"] == code, (payload, ack)

            assert (await m.call("poll:reveal", {"poll": poll["id"]}))["ok"]
            shown = await a.wait_for("poll:update", lambda d: d["id"] == poll["id"]
                                     and d["revealed"])
            assert shown["results"] == {"voters": 2, "counts": [0, 1, 1]}
            assert (await a.call("poll:vote", {"poll": poll["id"], "choices": [0]}))["ok"]
            await b.wait_for("poll:results", lambda d: d["counts"] == [1, 0, 1])

            assert (await m.call("poll:close", {"poll": poll["id"]}))["ok"]
            await a.wait_for("poll:update", lambda d: d["id"] == poll["id"]
                             and d["state"] == "closed")
            ack = await b.call("poll:vote", {"poll": poll["id"], "choices": [1]})
            assert ack["error"] == "poll_closed", ack
            final = (await a.call("poll:list", {"session": s1}))["polls"]
            assert [p["results"]["counts"] for p in final] == [[1, 0, 1]]
            mine = (await b.call("poll:list", {"session": s1}))["mine"]
            assert mine == {str(poll["id"]): [2]}

            # Managing mistakes are refused with codes, nothing changes.
            for event, payload, code in [
                ("poll:open", {"poll": poll["id"]}, "not_draft"),
                ("poll:delete", {"poll": poll["id"]}, "not_draft"),
                ("poll:create", {"session": s1, "question": "q", "options": ["one"]}, "options"),
                ("poll:create", {"session": s1, "question": " ", "options": ["a", "b"]}, "empty"),
                ("poll:create", {"session": s1, "question": "q", "options": ["a", ""]}, "options"),
                ("poll:create", {"session": "nope", "question": "q", "options": ["a", "b"]},
                 "forbidden"),
                ("poll:create", {"session": s1, "question": "q", "options": ["a"] * 7},
                 "invalid"),
            ]:
                ack = await m.call(event, payload)
                assert ack["ok"] is False and ack["error"] == code, (event, payload, ack)

            # Non-anonymous: those who run polls may see who voted what.
            ballots = (await m.call("poll:ballots", {"poll": poll["id"]}))["ballots"]
            assert sorted((x["name"], x["choices"]) for x in ballots) == [
                ("Alice", [0]), ("Bob", [2])]
            assert (await a.call("poll:ballots", {"poll": poll["id"]}))["error"] == "forbidden"

        # The organizer's report and its CSV carry the results.
        async with app.http.get(f"{app.url}/api/report", headers=app.auth()) as r:
            report = await r.json()
        row = next(x for x in report["sessions"] if x["id"] == s1)
        assert row["polls"][0]["options"] == [
            {"text": "Mon", "votes": 1}, {"text": "Tue", "votes": 0}, {"text": "Wed", "votes": 1}]
        assert row["polls"][0]["voters"] == 2
        async with app.http.get(f"{app.url}/api/report/polls.csv", headers=app.auth()) as r:
            assert r.status == 200
            body = (await r.read()).decode("utf-8-sig")
        assert "Which day?,Wed,1,2" in body.replace("\r\n", "\n"), body


async def test_multiple_choice_and_anonymous_ballots(tmp_path: Path, database_url: str) -> None:
    async with app_server(tmp_path, database_url=database_url) as app:
        s1 = (await app.session_ids())[0]
        mod = await app.invite("moderator", s1)
        alice = await app.register("Alice")
        async with clients((app.url, mod), (app.url, alice), (app.url, alice)) as (m, a, a2):
            for c in (m, a, a2):
                await c.join(s1)
            poll = await make_poll(m, s1, multiple=True, anonymous=True)
            assert (await m.call("poll:open", {"poll": poll["id"]}))["ok"]
            assert (await a.call("poll:vote", {"poll": poll["id"], "choices": [0, 2]}))["ok"]
            # The same identity in another tab: one ballot, replaced; the other tab hears it.
            assert (await a2.call("poll:vote", {"poll": poll["id"], "choices": [1, 2]}))["ok"]
            await a.wait_for("poll:voted", lambda d: d["choices"] == [1, 2])
            await m.wait_for("poll:results", lambda d: d["counts"] == [0, 1, 1]
                             and d["voters"] == 1)
            assert (await m.call("poll:ballots", {"poll": poll["id"]}))["error"] == "anonymous"
            assert app.app is not None
            async with app.app[DB].session() as s:
                rows = (await s.execute(select(PollBallot.voter, PollBallot.voter_name))).all()
            assert len(rows) == 1 and rows[0][1] is None
            assert rows[0][0] not in ("p1", "p2") and len(rows[0][0]) == 64
            assert (await m.call("poll:close", {"poll": poll["id"]}))["ok"]
            # Once closed, the salt is gone: not even the voter's own ballot is linkable.
            listed = await a.call("poll:list", {"session": s1})
            assert listed["mine"] == {}
            assert listed["polls"][0]["anonymous"] is True

            # Opening a second poll closes the first open one.
            p2, p3 = await make_poll(m, s1), await make_poll(m, s1)
            assert (await m.call("poll:open", {"poll": p2["id"]}))["ok"]
            assert (await m.call("poll:open", {"poll": p3["id"]}))["ok"]
            await eventually(lambda: any(d["id"] == p2["id"] and d["state"] == "closed"
                                         for d in a.events["poll:update"]))
            # A draft can be deleted; its removal reaches those who run polls.
            p4 = await make_poll(m, s1)
            assert (await m.call("poll:delete", {"poll": p4["id"]}))["ok"]
            await m.wait_for("poll:update", lambda d: d["id"] == p4["id"]
                             and d["state"] == "deleted")


async def test_vote_rate_limit_and_mute(tmp_path: Path) -> None:
    async with app_server(tmp_path,
                          interaction={"poll_vote_rate": 3, "poll_vote_rate_window": 60}) as app:
        s1 = (await app.session_ids())[0]
        mod = await app.invite("moderator", s1)
        alice, bob = await app.register("Alice"), await app.register("Bob")
        async with clients((app.url, mod), (app.url, alice), (app.url, bob)) as (m, a, b):
            for c in (m, a, b):
                await c.join(s1)
            poll = await make_poll(m, s1)
            assert (await m.call("poll:open", {"poll": poll["id"]}))["ok"]
            acks = [await a.call("poll:vote", {"poll": poll["id"], "choices": [i % 3]})
                    for i in range(5)]
            assert [x["ok"] for x in acks] == [True] * 3 + [False] * 2
            assert acks[4]["error"] == "rate_limited"
            # A muted participant may watch, not vote.
            said = (await b.call("chat:send", {"session": s1, "text": "spam"}))["message"]
            ack = await m.call("moderation:sanction", {"session": s1, "action": "mute",
                                                       "message": said["id"]})
            assert ack["ok"], ack
            ack = await b.call("poll:vote", {"poll": poll["id"], "choices": [0]})
            assert ack["error"] == "muted", ack
            results = await m.wait_for("poll:results", lambda d: d["counts"] == [0, 0, 1])
            assert results["voters"] == 1


async def test_poll_texts_follow_the_chat_text_rule(tmp_path: Path) -> None:
    """Question and options are seen by everyone: the rule of server/text.py."""
    async with app_server(tmp_path) as app:
        s1 = (await app.session_ids())[0]
        async with clients((app.url, await app.invite("moderator", s1))) as (m,):
            await m.join(s1)
            ok = ["Oui", "لا"]
            for question, options, code, detail in [
                ("Eve\u202egnp.exe?", ok, "invalid_text", {}),      # bidi override
                ("Which\x07 day?", ok, "invalid_text", {}),          # control character
                ("\u200b\u2060 ", ok, "empty", {}),                  # nothing visible
                ("q", ["Mon", "Tue\u2066"], "options", {"option": 1, "reason": "invalid_text"}),
                ("q", ["\u200b", "Tue"], "options", {"option": 0, "reason": "empty"}),
                ("q", ["Mon", "Tue\nWed"], "options", {"option": 1, "reason": "invalid_text"}),
            ]:
                ack = await m.call("poll:create", {"session": s1, "question": question,
                                                   "options": options})
                assert ack["ok"] is False and ack["error"] == code, (question, options, ack)
                assert ack.items() >= detail.items(), ack
                assert ack.get("message"), ack  # says what is wrong
            assert (await m.call("poll:list", {"session": s1}))["polls"] == []
            # Every script and the joiners emoji need stay allowed; lines too.
            ack = await m.call("poll:create", {"session": s1,
                                               "question": "  آیا جلسه\u200cی بعد؟\nNext? ",
                                               "options": ["👍🏽", "👨\u200d👩\u200d👧"]})
            assert ack["ok"], ack
            assert ack["poll"]["question"] == "آیا جلسه\u200cی بعد؟\nNext?"
            assert ack["poll"]["options"] == ["👍🏽", "👨\u200d👩\u200d👧"]
