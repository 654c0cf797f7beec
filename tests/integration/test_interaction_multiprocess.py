"""Two real `halqa serve` processes sharing Redis and PostgreSQL behave as one;
SIGKILL one and its participants drop out of the counts within the TTL."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.interaction_helpers import Client, clients, eventually
from tests.support import Halqa, ServerProcess

TTL = 5


async def live(http: aiohttp.ClientSession, url: str, token: str, session: str) -> Any:
    async with http.get(f"{url}/api/live/{session}",
                        headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def test_two_processes_agree_and_a_crash_expires(
    tmp_path: Path, redis_url: str, pg_url: str
) -> None:
    org = secrets.token_urlsafe(24)
    env = {"HALQA_REDIS_URL": redis_url, "HALQA_DATABASE_URL": pg_url,
           "HALQA_PRESENCE_TTL": str(TTL), "HALQA_ORGANIZER_TOKEN": org}
    # One at a time: the first one migrates and loads the demo program.
    a = await ServerProcess(tmp_path / "a", env).start()
    b = await ServerProcess(tmp_path / "b", env).start()
    try:
        async with aiohttp.ClientSession() as http:
            ha = Halqa(a.url, org, http)
            s1 = (await ha.session_ids())[3]
            ta, tb = await ha.register("On A"), await ha.register("On B")
            tm = await Halqa(b.url, org, http).invite("moderator", s1)
            async with clients((a.url, ta), (b.url, tb), (b.url, tm), (a.url, tb)) as (
                pa, pb, mod, pb_on_a):
                for c in (pa, pb, mod):
                    await c.join(s1)
                # Counts: both processes push the same number to their own clients.
                await pa.wait_for("presence:count", lambda d: d["count"] == 2)
                await pb.wait_for("presence:count", lambda d: d["count"] == 2)
                # Chat crosses processes.
                msg = (await pa.call("chat:send", {"session": s1, "text": "from A"}))["message"]
                assert (await pb.wait_for("chat:message", lambda d: d["id"] == msg["id"])
                        )["text"] == "from A"
                # A question asked on B, approved by B's moderator, seen on A.
                q = (await pb.call("question:ask", {"session": s1, "text": "from B?"}))["question"]
                await mod.wait_for("question:update", lambda d: d["id"] == q["id"])
                assert (await mod.call("question:moderate",
                                       {"question": q["id"], "action": "approve"}))["ok"]
                await pa.wait_for("question:update", lambda d: d["id"] == q["id"]
                                  and d["status"] == "approved")
                # Votes: B's participant votes from both processes; counts once.
                await pb_on_a.join(s1)
                assert (await pa.call("question:vote", {"question": q["id"]}))["ok"]
                assert (await pb.call("question:vote", {"question": q["id"]}))["ok"]
                assert (await pb_on_a.call("question:vote", {"question": q["id"]})
                        )["question"]["votes"] == 2
                await pa.wait_for("question:update", lambda d: d["id"] == q["id"]
                                  and d["votes"] == 2)
                await pb.wait_for("question:update", lambda d: d["id"] == q["id"]
                                  and d["votes"] == 2)
                await pb_on_a.close()  # pb stays present through its tab on B
                assert (await mod.call("question:moderate",
                                       {"question": q["id"], "action": "highlight"}))["ok"]
                await pa.wait_for("question:update", lambda d: d["id"] == q["id"]
                                  and d["highlighted"])
                # Both processes answer the organizer with the same numbers.
                la, lb = await live(http, a.url, org, s1), await live(http, b.url, org, s1)
                assert la == lb and la["count"] == 2 and la["peak"] == 2, (la, lb)

                # A ban issued on B disconnects a participant connected to A
                # (python-socketio forwards the disconnect through Redis).
                troll = await Client(a.url, await ha.register("Troll")).connect()
                await troll.join(s1)
                bad = (await troll.call("chat:send", {"session": s1, "text": "spam"}))["message"]
                ack = await mod.call("moderation:sanction", {"session": s1, "action": "ban",
                                                             "message": bad["id"]})
                assert ack["ok"], ack
                await troll.wait_for("disconnect")
                await eventually(lambda: _count(http, a.url, org, s1, 2))
                await troll.close()
                troll = await Client(a.url, troll.token).connect()
                assert (await troll.call("session:join", {"session": s1}))["error"] == "banned"
                await troll.close()

                # Crash B: nobody tells Redis; B's participant must expire on its own.
                killed = time.monotonic()
                b.kill()
                await eventually(lambda: _count(http, a.url, org, s1, 1), timeout=TTL + 10)
                expired_after = time.monotonic() - killed
                await pa.wait_for("presence:count", lambda d: d["count"] == 1, timeout=5)
                final = await live(http, a.url, org, s1)
                assert [o["name"] for o in final["online"]] == ["On A"]
                assert final["peak"] == 3  # the troll made three, briefly
                print(f"presence of the killed process expired after {expired_after:.1f} s "
                      f"(TTL {TTL} s)")
                # Durable across the crash: history on A still has everything.
                view = await pa.join(s1)
                assert [m["id"] for m in view["chat"]] == [msg["id"], bad["id"]]
                assert view["questions"][0]["votes"] == 2 and view["questions"][0]["highlighted"]
                # Attendance: B's participant's stay ends at B's last heartbeat.
                async with http.get(f"{a.url}/api/attendance/{s1}",
                                    headers={"Authorization": f"Bearer {org}"}) as r:
                    report = {p["name"]: p for p in (await r.json())["attendance"]}
                assert set(report) == {"On A", "On B", "Troll"}
                assert report["On B"]["stays"] == 2 and report["On B"]["seconds"] > 0
    finally:
        b.kill()
        a.stop()
        for p in (a, b):
            if p.proc and p.proc.returncode not in (None, 0, -9, -15):
                pytest.fail(f"server exited with {p.proc.returncode}: {p.log.read_text()[-2000:]}")


async def _count(http: aiohttp.ClientSession, url: str, org: str, s: str, n: int) -> bool:
    return (await live(http, url, org, s))["count"] == n
