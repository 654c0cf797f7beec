"""One permanent regression test per finding of the attack review (issue 9).

Each test is named after the finding it pins down; they run on the real app
(SQLite, in-memory presence unless said), real aiortc peers and the official
Python Socket.IO client.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import time
from pathlib import Path
from typing import Any

import socketio

from tests.interaction_helpers import Client, clients, eventually
from tests.stage_helpers import bearer, find_registry, wait_for, whep_play, whip_publish
from tests.support import Halqa, app_server

SDP = {"Content-Type": "application/sdp"}


async def register(halqa: Halqa, name: str = "Participant",
                   headers: dict[str, str] | None = None) -> tuple[str, str]:
    """(token, identity key) of a fresh participant."""
    async with halqa.http.post(
        f"{halqa.url}/api/registrations", headers=headers or {},
        json={"name": name, "email": f"{os.urandom(6).hex()}@example.org", "country": "MA",
              "language": "fr", "consent": True},
    ) as r:
        body = await r.json()
        assert r.status == 201, body
        return body["token"], f"p{body['participant']}"


async def invite(halqa: Halqa, role: str, session: str | None) -> tuple[str, int]:
    async with halqa.http.post(f"{halqa.url}/api/invites", headers=halqa.auth(),
                               json={"role": role, "session": session}) as r:
        body = await r.json()
        assert r.status == 201, body
        return body["token"], body["id"]


async def recv_offer(sections: int = 2) -> str:
    from aiortc import RTCPeerConnection

    pc = RTCPeerConnection()
    for i in range(sections):
        pc.addTransceiver("audio" if i % 3 == 0 else "video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    text = pc.localDescription.sdp
    await pc.close()
    return str(text)


async def post_sdp(halqa: Halqa, path: str, token: str, sdp: str,
                   headers: dict[str, str] | None = None) -> tuple[int, str]:
    async with halqa.http.post(f"{halqa.url}{path}", data=sdp,
                               headers={**SDP, **bearer(token), **(headers or {})}) as r:
        body = await r.json() if r.content_type == "application/json" else {}
        return r.status, (body.get("error") or {}).get("code", "") if body else ""


# -- 1. revocation and bans cut live media -------------------------------------

async def test_finding1_revoke_and_ban_cut_media_within_a_second(tmp_path: Path) -> None:
    async with app_server(tmp_path) as halqa:
        s1 = (await halqa.session_ids())[0]
        reg = find_registry(halqa)
        spk, spk_grant = await invite(halqa, "speaker", s1)
        viewer_tok, _ = await register(halqa, "Revoked Viewer")
        banned_tok, banned_key = await register(halqa, "Banned Viewer")
        pub = await whip_publish(halqa.http, halqa.url, s1, spk)
        players = [await whep_play(halqa.http, halqa.url, s1, t) for t in (viewer_tok, banned_tok)]
        try:
            for p in players:
                await wait_for(lambda p=p: p.frames["video"] > 3, what="viewer decoding")
            assert reg.counts()["viewers"] == 2

            # A revoked viewer token: its media is gone within a second.
            async with halqa.http.post(f"{halqa.url}/api/tokens/revoke", headers=halqa.auth(),
                                       json={"token": viewer_tok}) as r:
                assert r.status == 204
            t0 = time.monotonic()
            await wait_for(lambda: reg.counts()["viewers"] == 1, timeout=1.0,
                           what="revoked viewer cut")
            print(f"revoked viewer cut after {time.monotonic() - t0:.3f} s")

            # An event-wide ban: media cut, and a new WHEP offer refused.
            async with clients((halqa.url, halqa.organizer_token)) as (org,):
                ack = await org.call("moderation:sanction",
                                     {"session": None, "action": "ban", "user": banned_key})
                assert ack["ok"], ack
            await wait_for(lambda: reg.counts()["viewers"] == 0, timeout=1.0,
                           what="banned viewer cut")
            assert await post_sdp(halqa, f"/whep/{s1}", banned_tok, await recv_offer()) == (
                403, "banned")

            # A revoked speaker invite: off the air at once.
            async with halqa.http.delete(f"{halqa.url}/api/invites/{spk_grant}",
                                         headers=halqa.auth()) as r:
                assert r.status == 204
            await wait_for(lambda: not reg.live_sessions(), timeout=1.0, what="speaker cut")
        finally:
            for p in players:
                await p.close()
            await pub.close()


async def test_finding1_revocation_reaches_every_process(tmp_path: Path, redis_url: str) -> None:
    """Viewer on process B, token revoked through process A: cut on B within 1 s."""
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    org = "organizer-" + os.urandom(16).hex()
    common: dict[str, Any] = {"database_url": db, "redis_url": redis_url,
                              "organizer_token": org}
    async with app_server(tmp_path / "a", **common) as a, \
            app_server(tmp_path / "b", **common) as b:
        s1 = (await a.session_ids())[0]
        spk, _ = await invite(a, "speaker", s1)
        tok, _key = await register(a, "Far Viewer")
        pub = await whip_publish(b.http, b.url, s1, spk)
        player = await whep_play(b.http, b.url, s1, tok)
        reg_b = find_registry(b)
        try:
            await wait_for(lambda: player.frames["video"] > 3, what="viewer on B decoding")
            async with a.http.post(f"{a.url}/api/tokens/revoke", headers=a.auth(),
                                   json={"token": tok}) as r:
                assert r.status == 204
            await wait_for(lambda: reg_b.counts()["viewers"] == 0, timeout=1.0,
                           what="viewer on B cut by a revocation on A")
        finally:
            await player.close()
            await pub.close()


async def test_finding1_cli_revoke_cuts_a_running_server(tmp_path: Path, redis_url: str) -> None:
    """`halqa revoke` is another process: it tells running servers through Redis."""
    import subprocess
    import sys

    from tests.support import ROOT

    db = f"sqlite:///{tmp_path / 'shared.db'}"
    async with app_server(tmp_path / "srv", database_url=db, redis_url=redis_url) as halqa:
        s1 = (await halqa.session_ids())[0]
        reg = find_registry(halqa)
        spk, _ = await invite(halqa, "speaker", s1)
        pub = await whip_publish(halqa.http, halqa.url, s1, spk)
        try:
            await wait_for(lambda: bool(reg.live_sessions()), what="speaker live")
            env = {**os.environ, "HALQA_DATA_DIR": str(tmp_path / "cli"),
                   "HALQA_DATABASE_URL": db, "HALQA_REDIS_URL": redis_url,
                   "HALQA_EVENT_FILE": str(ROOT / "config" / "demo-event.toml")}
            out = await asyncio.to_thread(
                subprocess.run, [sys.executable, "-m", "server", "revoke", spk], cwd=ROOT,
                env=env, capture_output=True, text=True, timeout=60, check=False)
            assert out.stdout.strip() == "revoked", out.stderr
            await wait_for(lambda: not reg.live_sessions(), timeout=1.0,
                           what="speaker cut by halqa revoke")
        finally:
            await pub.close()


# -- 2. one person cannot lock every viewer out --------------------------------

async def test_finding2_unknown_sessions_refused_before_any_resource(live_app: Halqa) -> None:
    reg = find_registry(live_app)
    tok, _ = await register(live_app)
    offer = await recv_offer()
    for bad in ("nope", "x" * 8000, "..%2F..%2Fetc", "%00"):
        status, code = await post_sdp(live_app, f"/whep/{bad}", tok, offer)
        assert status in (404, 414), (bad[:20], status, code)
    assert reg.stages == {}, "a stage was made for a session that is not in the program"


async def test_finding2_caps_cover_every_stage_and_pending_offers_expire(
    tmp_path: Path,
) -> None:
    media = {"max_viewers_per_caller": 2, "max_viewers_per_address": 4,
             "pending_timeout_s": 2.0, "offers_per_10s": 100}
    async with app_server(tmp_path, media=media, behind_proxy=True) as halqa:
        ids = await halqa.session_ids()
        offer = await recv_offer()
        attacker = {"X-Forwarded-For": "203.0.113.7"}
        # One identity, offers that never complete ICE, spread over stages.
        tok, _ = await register(halqa, headers=attacker)
        got = [await post_sdp(halqa, f"/whep/{s}", tok, offer, attacker) for s in ids[:3]]
        assert [g[0] for g in got] == [201, 201, 429], got
        assert got[2][1] == "too_many_viewers"
        # More identities from the same address: the address cap holds.
        others = [(await register(halqa, headers=attacker))[0] for _ in range(3)]
        got = [await post_sdp(halqa, f"/whep/{ids[3]}", t, offer, attacker) for t in others]
        assert [g[0] for g in got] == [201, 201, 429], got
        # A participant elsewhere still gets in.
        real, _ = await register(halqa, headers={"X-Forwarded-For": "198.51.100.2"})
        assert (await post_sdp(halqa, f"/whep/{ids[0]}", real, offer,
                               {"X-Forwarded-For": "198.51.100.2"}))[0] == 201
        # Pending offers expire quickly and free the caps.
        reg = find_registry(halqa)
        await wait_for(lambda: reg.counts()["viewers"] == 0, timeout=5,
                       what="pending viewers expired")
        assert (await post_sdp(halqa, f"/whep/{ids[0]}", tok, offer, attacker))[0] == 201


# -- 3. large offers do not stall the loop --------------------------------------

def many_sections(offer: str, n: int) -> str:
    """A valid offer with n small video sections (VP8 only, distinct mids, one
    BUNDLE, ICE and DTLS at session level): what an attacker sends to make
    parsing expensive while staying under the size limit."""
    keep = ("a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:sha-256", "a=setup:")
    creds = [ln for ln in offer.split("\r\n") if ln.startswith(keep)][:4]
    out = ["v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0", *creds,
           "a=group:BUNDLE " + " ".join(str(i) for i in range(n))]
    for i in range(n):
        out += ["m=video 9 UDP/TLS/RTP/SAVPF 96 97", "c=IN IP4 0.0.0.0", "a=recvonly",
                f"a=mid:{i}", "a=rtcp-mux", "a=rtpmap:96 VP8/90000",
                "a=rtcp-fb:96 nack", "a=rtcp-fb:96 nack pli", "a=rtcp-fb:96 goog-remb",
                "a=rtpmap:97 rtx/90000", "a=fmtp:97 apt=96",
                f"a=ssrc:{1000 + i} cname:attacker-{i:04d}"]
    return "\r\n".join(out) + "\r\n"


async def test_finding3_many_section_offers_refused_cheaply(live_app: Halqa) -> None:
    s1 = (await live_app.session_ids())[0]
    tok, _ = await register(live_app)
    big = many_sections(await recv_offer(1), 380)
    assert 90 * 1024 < len(big.encode()) < 128 * 1024, len(big)
    t0 = time.monotonic()
    status, code = await post_sdp(live_app, f"/whep/{s1}", tok, big)
    assert status == 400 and code == "sdp_too_many_sections", (status, code)
    # Timings are printed, never asserted (shared, noisy machines: a 0.59 s
    # refusal failed a CI run); the refusal before parsing is what is tested.
    print(f"one 380-section offer refused in {(time.monotonic() - t0) * 1000:.0f} ms")

    async def healthz() -> float:
        t0 = time.monotonic()
        async with live_app.http.get(f"{live_app.url}/healthz") as r:
            assert r.status == 200
        return time.monotonic() - t0

    toks = [(await register(live_app))[0] for _ in range(8)]
    flood = [post_sdp(live_app, f"/whep/{s1}", toks[i % 8], big)
             for i in range(40)]
    results, worst = await asyncio.gather(
        asyncio.gather(*flood),
        asyncio.gather(*(healthz() for _ in range(10))),
    )
    assert all(r[0] in (400, 429) for r in results), results
    print(f"/healthz worst latency under 40 large offers: {max(worst) * 1000:.0f} ms")


# -- 4. anonymity holds against moderators --------------------------------------

async def test_finding4_sanction_on_anonymous_question_does_not_unmask(
    live_app: Halqa,
) -> None:
    s1 = (await live_app.session_ids())[0]
    asker, key = await register(live_app, "Secret Asker")
    mod, _ = await invite(live_app, "moderator", s1)
    async with clients((live_app.url, asker), (live_app.url, mod)) as (a, m):
        await a.join(s1)
        await m.join(s1)
        q = (await a.call("question:ask", {"session": s1, "text": "Hm?", "anonymous": True}))
        assert q["ok"], q
        ack = await m.call("moderation:sanction", {"session": s1, "action": "mute",
                                                   "question": q["question"]["id"]})
        assert ack["ok"], ack
        listed = await m.call("moderation:sanctions", {"session": s1})
        assert listed["ok"], listed
        for blob in (ack, listed):
            text = repr(blob)
            assert key not in text and "Secret Asker" not in text, blob
        # The moderator can still lift it through the question.
        assert (await m.call("moderation:sanction", {"session": s1, "action": "unmute",
                                                     "question": q["question"]["id"]}))["ok"]


# -- 5. a ban is not undone by stage:state ---------------------------------------

async def test_finding5_stage_state_does_not_readmit_banned(live_app: Halqa) -> None:
    s1 = (await live_app.session_ids())[0]
    tok, key = await register(live_app, "Banned")
    mod, _ = await invite(live_app, "moderator", s1)
    async with clients((live_app.url, mod)) as (m,):
        ack = await m.call("moderation:sanction", {"session": s1, "action": "ban", "user": key})
        assert ack["ok"], ack
    async with clients((live_app.url, tok), (live_app.url, mod)) as (b, m):
        assert (await b.call("session:join", {"session": s1}))["error"] == "banned"
        state = await b.call("stage:state", {"session": s1})
        assert state == {"ok": False, "error": "banned", "message": state.get("message")}, state
        await m.join(s1)
        await m.call("chat:send", {"session": s1, "text": "only for the room"})
        await asyncio.sleep(0.5)
        assert b.events["chat:message"] == [], "a banned identity still gets the room's events"


# -- 6. the Socket.IO error path answers ------------------------------------------

async def test_finding6_huge_ids_get_an_error_ack(live_app: Halqa) -> None:
    s1 = (await live_app.session_ids())[0]
    tok, _ = await register(live_app)
    async with clients((live_app.url, tok)) as (c,):
        await c.join(s1)
        for event, payload in (("question:vote", {"question": 2**63}),
                               ("question:vote", {"question": 2**64 + 5}),
                               ("chat:delete", {"message": 2**63})):
            ack = await c.call(event, payload, timeout=5)
            assert ack["ok"] is False and ack["error"] in ("invalid", "not_found"), (event, ack)


async def test_finding6_unexpected_exception_acks_internal(live_app: Halqa) -> None:
    """Any unexpected exception in a handler is logged and acked "internal"
    (the structlog call itself raised TypeError before, and nothing answered)."""
    from server.keys import SIO
    from server.realtime.common import Payload, on

    assert live_app.app is not None

    @on(live_app.app[SIO], "test:explode", Payload)
    async def explode(sid: str, principal: Any, p: Payload) -> dict[str, Any]:
        raise RuntimeError("boom")

    tok, _ = await register(live_app)
    async with clients((live_app.url, tok)) as (c,):
        assert await c.call("test:explode", {}, timeout=5) == {"ok": False, "error": "internal"}


# -- 7. unhandled input -> a clear 4xx ---------------------------------------------

async def test_finding7_bad_inputs_get_4xx(live_app: Halqa) -> None:
    url = live_app.url
    http = live_app.http
    reader, writer = await asyncio.open_connection("127.0.0.1", int(url.rsplit(":", 1)[1]))
    writer.write(b"GET /api/invites HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\x80\r\n"
                 b"Connection: close\r\n\r\n")
    await writer.drain()
    head = (await reader.read(200)).decode("latin-1")
    writer.close()
    assert head.split()[1] in ("400", "401"), head

    for body in ("[" * 100_000 + "]" * 100_000, '{"name": ' + "9" * 5000 + "}",
                 '{"consent": ' + "1" * 4400 + "}"):
        async with http.post(f"{url}/api/registrations", data=body,
                             headers={"Content-Type": "application/json"}) as r:
            assert r.status in (400, 413, 422), (r.status, body[:20])
            assert (await r.json())["error"]["code"]

    for bad in (str(2**64), str(2**63), "١٢", "-1", "0x1"):
        async with http.delete(f"{url}/api/invites/{bad}", headers=live_app.auth()) as r:
            assert r.status == 404, (bad, r.status)

    s1 = (await live_app.session_ids())[0]
    tok, _ = await register(live_app)
    offer = await recv_offer(2)
    no_mid = "\r\n".join(ln for ln in offer.split("\r\n") if not ln.startswith("a=mid:"))
    dup_mid = offer.replace("a=mid:1", "a=mid:0").replace("BUNDLE 0 1", "BUNDLE 0 0")
    for sdp in (no_mid, dup_mid):
        status, code = await post_sdp(live_app, f"/whep/{s1}", tok, sdp)
        assert status == 400 and code.startswith("sdp_"), (status, code)

    # A lone surrogate as the Socket.IO token: refused with a reason, not silence.
    client = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", lambda data=None: errors.append(data))
    with contextlib.suppress(socketio.exceptions.ConnectionError):
        await client.connect(url, auth={"token": "\ud800abc"}, transports=["websocket"],
                             wait_timeout=5)
    assert errors and errors[0]["data"]["code"] == "unauthorized", errors


# -- 8. the smaller ones -----------------------------------------------------------

async def test_finding8_connect_error_carries_data_code(live_app: Halqa) -> None:
    client = Client(live_app.url, "not-a-token")
    with contextlib.suppress(socketio.exceptions.ConnectionError):
        await client.connect()
    # What socket.io-client shows as err.message and err.data (session-page.js).
    err = client.events["connect_error"]
    assert err and err[0]["message"] == "unauthorized", err
    assert err[0]["data"]["code"] == "unauthorized", err


async def test_finding8_unknown_events_are_flood_limited(live_app: Halqa) -> None:
    tok, _ = await register(live_app)
    async with clients((live_app.url, tok)) as (c,):
        acks = await asyncio.gather(*(c.call("no:such", {}) for _ in range(40)))
        codes = [a["error"] for a in acks]
        assert "rate_limited" in codes and codes[0] == "unknown_event", codes


async def test_finding8_engineio_handshakes_rate_limited(tmp_path: Path) -> None:
    async with app_server(tmp_path, limits={"requests_per_minute": 100_000,
                                            "registrations_per_minute": 1000,
                                            "handshakes_per_minute": 5}) as halqa:
        statuses = []
        for _ in range(8):
            async with halqa.http.get(f"{halqa.url}/socket.io/?EIO=4&transport=polling") as r:
                statuses.append(r.status)
        assert statuses[:5] == [200] * 5 and statuses[-1] == 429, statuses


async def test_finding8_text_rules(live_app: Halqa) -> None:
    bad_names = ["Eve\u202egnp.exe", "\u200b\u200b", "A\x07B", "\u2066x\u2069", "\u200d"]
    for name in bad_names:
        async with live_app.http.post(f"{live_app.url}/api/registrations", json={
                "name": name, "email": f"{os.urandom(5).hex()}@example.org", "country": "MA",
                "language": "fr", "consent": True}) as r:
            assert r.status == 422, (name, r.status)
    # Arabic with its joiners and a family emoji (ZWJ) are real names.
    for ok in ("سلمى بنت علي", "Zoë 👨\u200d👩\u200d👧"):
        await register(live_app, ok)
    s1 = (await live_app.session_ids())[0]
    tok, _ = await register(live_app)
    async with clients((live_app.url, tok)) as (c,):
        await c.join(s1)
        for text, code in (("\u200b", "empty"), ("\u200b \u2060", "empty"),
                           ("hi\u202e", "invalid_text"), ("a\x00b", "invalid_text")):
            ack = await c.call("chat:send", {"session": s1, "text": text})
            assert ack == {"ok": False, "error": code, **{k: v for k, v in ack.items()
                                                         if k not in ("ok", "error")}}, (text, ack)
        assert (await c.call("chat:send", {"session": s1, "text": "line one\nمرحبا"}))["ok"]


async def test_finding8_database_file_private(tmp_path: Path) -> None:
    async with app_server(tmp_path / "data"):
        pass
    for name in ("halqa.db",):
        mode = stat.S_IMODE(os.stat(tmp_path / "data" / name).st_mode)
        assert mode & 0o077 == 0, oct(mode)


async def test_finding8_session_has_viewers(live_app: Halqa) -> None:
    s1 = (await live_app.session_ids())[0]
    tok, _ = await register(live_app)

    async def viewers() -> int:
        async with live_app.http.get(f"{live_app.url}/api/sessions/{s1}") as r:
            body = await r.json()
            return int(body["viewers"])

    assert await viewers() == 0
    async with clients((live_app.url, tok)) as (c,):
        await c.join(s1)
        await eventually(lambda: viewers(), timeout=5)
        assert await viewers() == 1
