"""Chat sends through the group commit, end to end (server/chat_writer.py).

- A database failure while storing a message gives its sender an error ack
  (not silence, not `ok`), and nobody receives the message.
- Messages acknowledged during a rush survive a SIGKILL of the process: after
  a restart on the same data folder the join history holds every one of them.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import aiohttp
from sqlalchemy import text

from server.keys import DB
from tests.interaction_helpers import Client, clients
from tests.support import Halqa, ServerProcess, app_server

NO_CHAT = ("CREATE TRIGGER no_chat BEFORE INSERT ON chat_message "
           "BEGIN SELECT RAISE(ABORT, 'the disk says no'); END")


async def test_a_failed_insert_gives_an_error_ack_and_sends_nothing(tmp_path: Path) -> None:
    async with app_server(tmp_path) as app:
        assert app.app is not None
        s1 = (await app.session_ids())[0]
        async with clients((app.url, await app.register("A")),
                           (app.url, await app.register("B"))) as (a, b):
            await a.join(s1)
            await b.join(s1)
            # A real failure inside the database, not a mock: a trigger that
            # refuses every chat insert.
            async with app.app[DB].engine.begin() as conn:
                await conn.execute(text(NO_CHAT))
            ack = await a.call("chat:send", {"session": s1, "text": "lost?"})
            assert ack == {"ok": False, "error": "internal"}, ack
            async with app.app[DB].engine.begin() as conn:
                await conn.execute(text("DROP TRIGGER no_chat"))
            ack = await a.call("chat:send", {"session": s1, "text": "stored"})
            assert ack["ok"], ack
            await b.wait_for("chat:message", lambda m: m["text"] == "stored")
            await asyncio.sleep(0.2)
            assert [m["text"] for m in b.events["chat:message"]] == ["stored"]
            history = (await Client(app.url, app.organizer_token).connect())
            try:
                assert [m["text"] for m in (await history.join(s1))["chat"]] == ["stored"]
            finally:
                await history.close()


async def test_acknowledged_messages_survive_a_kill(tmp_path: Path) -> None:
    org = secrets.token_urlsafe(24)
    env = {"HALQA_ORGANIZER_TOKEN": org, "HALQA_INTERACTION__CHAT_RATE": "10000",
           "HALQA_INTERACTION__FLOOD_EVENTS": "10000"}
    server = await ServerProcess(tmp_path / "data", env).start()
    try:
        async with aiohttp.ClientSession() as http:
            halqa = Halqa(server.url, org, http)
            s1 = (await halqa.session_ids())[0]
            tokens = [await halqa.register(f"S{i}") for i in range(4)]
            async with clients(*((server.url, t) for t in tokens)) as senders:
                for c in senders:
                    await c.join(s1)

                async def rush(k: int, c: Client) -> list[int]:
                    ids = []
                    for i in range(10):
                        ack = await c.call("chat:send", {"session": s1, "text": f"{k}:{i}"})
                        assert ack["ok"], ack
                        ids.append(ack["message"]["id"])
                    return ids

                acked = [i for ids in await asyncio.gather(
                    *(rush(k, c) for k, c in enumerate(senders))) for i in ids]
                server.kill()  # right after the last ack: no clean shutdown
    finally:
        server.stop()
    server = await ServerProcess(tmp_path / "data", env).start()
    try:
        async with clients((server.url, org)) as (mod,):
            history = (await mod.join(s1))["chat"]
        assert sorted(m["id"] for m in history) == sorted(acked)
        for k in range(4):  # each sender's messages in the order sent
            mine = [m["text"] for m in history if m["text"].startswith(f"{k}:")]
            assert mine == [f"{k}:{i}" for i in range(10)]
    finally:
        server.stop()
