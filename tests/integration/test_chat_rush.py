"""A chat rush: 100 receivers, 300 messages sent as fast as five senders can.

Every receiver gets every message, all in one order, each sender's messages
in the order sent; batching clients get fewer frames than messages (the
rush was coalesced), the others one `chat:message` per message.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from bench.sio_raw import RawClient
from tests.support import app_server

RECEIVERS, SENDERS, PER_SENDER = 100, 5, 60


class Seen:
    def __init__(self) -> None:
        self.frames = 0
        self.messages: list[dict[str, Any]] = []

    def on_event(self, event: str, data: Any, _now: float) -> None:
        if event == "chat:batch":
            self.frames += 1
            self.messages += data["messages"]
        elif event == "chat:message":
            self.frames += 1
            self.messages.append(data)


async def test_chat_rush_loses_and_reorders_nothing(tmp_path: Path) -> None:
    # The rush is about fan-out, not limits: each sender's 60 messages go as
    # fast as acks come back, so both the per-person chat rate and the
    # per-connection flood limit (20 events/s by default) are lifted.
    async with app_server(tmp_path, interaction={"chat_rate": 10_000,
                                                 "flood_events": 10_000}) as app:
        s1 = (await app.session_ids())[0]
        tokens = list(await asyncio.gather(*(app.register(f"P{i}")
                                             for i in range(RECEIVERS + SENDERS))))
        seen = [Seen() for _ in range(RECEIVERS)]
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            # Half the receivers batch, half are clients that do not.
            receivers = [RawClient(http, app.url, t, s.on_event,
                                   auth={"features": ["chat:batch"]} if i % 2 else None)
                         for i, (t, s) in enumerate(zip(tokens[:RECEIVERS], seen, strict=True))]
            senders = [RawClient(http, app.url, t) for t in tokens[RECEIVERS:]]
            everyone = receivers + senders
            try:
                for i in range(0, len(everyone), 50):
                    await asyncio.gather(*(c.connect() for c in everyone[i:i + 50]))
                    acks = await asyncio.gather(*(c.call("session:join", {"session": s1})
                                                  for c in everyone[i:i + 50]))
                    assert all(a["ok"] for a in acks)

                async def rush(k: int, c: RawClient) -> list[int]:
                    ids = []
                    for i in range(PER_SENDER):
                        ack = await c.call("chat:send", {"session": s1, "text": f"{k}:{i}"})
                        assert ack["ok"], ack
                        ids.append(ack["message"]["id"])
                    return ids

                sent = await asyncio.gather(*(rush(k, c) for k, c in enumerate(senders)))
                total = SENDERS * PER_SENDER
                deadline = asyncio.get_running_loop().time() + 30
                while any(len(s.messages) < total for s in seen):
                    assert asyncio.get_running_loop().time() < deadline, \
                        sorted(len(s.messages) for s in seen)[:5]
                    await asyncio.sleep(0.1)
                await asyncio.sleep(0.3)  # nothing more may arrive
            finally:
                await asyncio.gather(*(c.close() for c in everyone))

        order = [m["id"] for m in seen[0].messages]
        assert sorted(order) == sorted(i for ids in sent for i in ids)  # all, once
        for s in seen:
            assert [m["id"] for m in s.messages] == order  # one order for everyone
        for k in range(SENDERS):
            mine = [int(m["text"].split(":")[1]) for m in seen[0].messages
                    if m["text"].startswith(f"{k}:")]
            assert mine == list(range(PER_SENDER))  # each sender's order kept
        batching = [s.frames for i, s in enumerate(seen) if i % 2]
        single = [s.frames for i, s in enumerate(seen) if not i % 2]
        assert set(single) == {total}
        assert max(batching) < total, batching  # the rush went out coalesced
