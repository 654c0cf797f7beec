"""Two nodes in this process, one Redis: any node serves any stage's media.

The publisher reaches node A; viewers on node B get the stage through one
pull from A however many they are; WHIP landing on B is forwarded to the
holder; a resource's DELETE works from either node; forged node requests
are refused; interpretation channels reach B's listeners as A's.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from signaling.cluster import FORWARDED_HEADER, ClusterConfig
from signaling.errors import NotFound
from signaling.node import Node
from signaling.relay import NODE_KEY
from tests.interpretation_helpers import (
    heard,
    invite_interpreter,
    listen,
    max_rtp_step,
    publish_tone,
    sio,
)
from tests.stage_helpers import Peer, bearer, wait_for, whep_play, whip_publish
from tests.support import Halqa, app_server, free_port

SESSION = "panel-housing"


def node(h: Halqa) -> Node:
    assert h.app is not None
    return h.app[NODE_KEY]


@contextlib.asynccontextmanager
async def two_nodes(
    tmp_path: Path, redis_url: str, **a_settings: Any
) -> AsyncIterator[tuple[Halqa, Halqa]]:
    """Nodes A and B of one cluster: one Redis, one database, one secret."""
    shared = {"redis_url": redis_url, "organizer_token": "o" * 32,
              "cluster_secret": secrets.token_urlsafe(32)}
    async with app_server(tmp_path, **a_settings, **shared) as a, \
            app_server(tmp_path, **shared) as b:
        yield a, b


@dataclass
class Held:
    a: Halqa
    b: Halqa
    na: Node
    nb: Node
    speaker: str
    pub: Peer


@pytest.fixture
async def held(tmp_path: Path, redis_url: str) -> AsyncIterator[Held]:
    """A speaker on node A (a 440 Hz tone and colour bars), A holding the stage."""
    async with two_nodes(tmp_path, redis_url) as (a, b):
        speaker = await a.invite("speaker", SESSION)
        pub = await publish_tone(a.http, a.url, SESSION, speaker, 440, video=True)
        try:
            await wait_for(lambda: SESSION in node(a).held, what="A holds the stage")
            yield Held(a, b, node(a), node(b), speaker, pub)
        finally:
            await pub.close(a.http, a.url)


async def test_edge_viewers_share_one_pull_and_requests_route(held: Held) -> None:
    a, b, na, nb, speaker = held.a, held.b, held.na, held.nb, held.speaker
    peers = []
    try:
        viewers = [await a.register(f"V{i}") for i in range(3)]
        peers = [await whep_play(b.http, b.url, SESSION, t) for t in viewers]
        peers.append(await whep_play(a.http, a.url, SESSION, viewers[0]))
        await wait_for(lambda: all(p.frames["video"] > 5 and p.frames["audio"] > 5
                                   for p in peers), timeout=20, what="media on both nodes")
        # One pull from B, whatever B's viewer count.
        ra = held.na.registry
        assert ra.counts()["pulls_served"] == 1 and ra.counts()["viewers"] == 1
        assert len(nb.pulls) == 1
        # The holder's count includes B's viewers (read from the directory).
        await wait_for(lambda: ra.snapshot(SESSION)["viewers"] == 4, timeout=6,
                       what="the holder counts edge viewers")

        # A second speaker reaching B is forwarded to A: one origin.
        speaker2 = await a.invite("speaker", SESSION)
        pub2 = await whip_publish(b.http, b.url, SESSION, speaker2)
        assert pub2.location.split("/")[-1].startswith(na.id + ".")
        await wait_for(lambda: len(ra.stages[SESSION].publishers) == 2, what="2 speakers on A")
        assert not nb.registry.stages[SESSION].publishers
        # B answers stage:state with the holder's stage, and a moderator
        # connected to B puts the second speaker on air on A.
        rb = nb.registry
        second = pub2.location.split("/")[-1]
        assert (await rb.current(SESSION))["live"] is True
        assert (await rb.choose_on_air(SESSION, second))["program"] == second
        assert ra.stages[SESSION].on_air_id == second
        with pytest.raises(NotFound):
            await rb.choose_on_air(SESSION, "nobody.x")
        # Its DELETE through B reaches A.
        async with b.http.delete(b.url + pub2.location, headers=bearer(speaker2)) as r:
            assert r.status == 200, await r.text()
        await wait_for(lambda: len(ra.stages[SESSION].publishers) == 1, what="deleted on A")
        await pub2.pc.close()

        # Forged node requests are refused.
        forged = ClusterConfig("evil", "http://x", b"x" * 32)
        path = f"/internal/pull/{SESSION}"
        async with b.http.post(a.url + path, data=b"v=0",
                               headers=forged.sign("POST", path, b"v=0")) as r:
            assert r.status == 401
        async with b.http.post(a.url + path, data=b"v=0") as r:
            assert r.status == 401
        async with b.http.post(f"{a.url}/whip/{SESSION}", data=b"v=0", headers={
                **bearer(speaker), FORWARDED_HEADER: "1",
                "Content-Type": "application/sdp"}) as r:
            assert r.status == 401
        # A node asked to serve a stage it does not hold refuses (B holds
        # nothing), and the holder refuses to pull from itself: no loops.
        async with aiohttp.ClientSession() as http:
            for target, signer in ((b, na), (a, na)):
                cfg = signer.cluster
                async with http.post(target.url + path, data=b"v=0",
                                     headers=cfg.sign("POST", path, b"v=0")) as r:
                    assert r.status == 409, await r.text()
            # A genuine edge naming malformed languages is refused before any SDP.
            for query in ("?languages=ar,ar", "?languages=AR", "?languages=ar;fr"):
                async with http.post(a.url + path + query, data=b"v=0",
                                     headers=nb.cluster.sign("POST", path + query, b"v=0")) as r:
                    assert r.status == 422, await r.text()
    finally:
        for p in peers:
            await p.close()


async def test_an_edge_viewer_after_the_last_one_left_gets_media(held: Held) -> None:
    """The edge drops an empty stage at once but keeps its pull a few seconds
    (PULL_IDLE_S): a viewer arriving meanwhile must be fed from that pull.
    (Seen in bench.join_latency --edge: one viewer after another, the second
    connected and never got a packet.)"""
    a, b, nb = held.a, held.b, held.nb
    peers, pulls = [], []
    try:
        for i in range(3):
            viewer = await whep_play(b.http, b.url, SESSION, await a.register(f"S{i}"))
            peers.append(viewer)
            await wait_for(lambda v=viewer: v.frames["video"] > 5, timeout=20,  # type: ignore[misc]
                           what=f"viewer {i} on the edge decodes")
            pulls.append(nb.pulls[SESSION])
            await viewer.close(b.http, b.url)
            await wait_for(lambda: SESSION not in nb.registry.stages,
                           what="the edge dropped the empty stage")
            # A beat's refresh meanwhile keeps the idling pull: a new pull per
            # viewer made 12 of 20 joins in bench.join_latency --edge wait for one.
            await nb._refresh_pulls()
        assert pulls[0] is pulls[1] is pulls[2]  # the same pull throughout
    finally:
        for p in peers:
            await p.close()


async def test_edge_listeners_hear_the_interpreters_of_the_holder(held: Held) -> None:
    """`?audio=ar` on the edge: the floor until an interpreter is on air at the
    holder, then the interpreter, fed across a hand-over, and the floor again
    when the booth empties; `interpretation:listen` and `:handover` work from
    a Socket.IO connection on the other node. Tones tell who was heard: the
    floor 440 Hz, the Arabic interpreters 1 kHz and 1.5 kHz."""
    a, b, na, nb = held.a, held.b, held.na, held.nb
    ar1 = (await invite_interpreter(a, SESSION, "ar"))["token"]
    ar2 = (await invite_interpreter(a, SESSION, "ar"))["token"]
    viewer = await a.register("Edge listener")
    peers: list[Peer] = []
    clients = []
    try:
        ear = await listen(b.http, b.url, SESSION, viewer, "?audio=ar")
        plain = await listen(b.http, b.url, SESSION, viewer)  # no ?audio: listen picks later
        peers += [ear.peer, plain.peer]
        assert ear.audio_header == "floor; requested=ar; reason=no_live_channel"
        await heard(ear, 440, "the floor while nobody interprets")
        assert nb.pulls[SESSION].languages == ("fr", "ar", "en")  # the event's languages

        # The first interpreter reaches the edge: forwarded to the holder.
        one = await publish_tone(b.http, b.url, SESSION, ar1, 1000, query="?language=ar")
        peers.append(one)
        assert one.location.split("/")[-1].startswith(na.id + ".")
        await heard(ear, 1000, "the interpreter on the edge")
        late = await listen(b.http, b.url, SESSION, viewer, "?audio=ar")
        peers.append(late.peer)
        assert late.audio_header == "ar"  # the holder's word, asked by the edge
        await heard(late, 1000, "a listener arriving while the channel is on air")

        # interpretation:listen from a Socket.IO connection on A, for B's viewer.
        plain_id = plain.peer.location.split("/")[-1]
        assert plain_id.startswith(nb.id + ".")
        on_a = await sio(a.url, viewer, [])
        stranger = await sio(a.url, await a.register("Stranger"), [])
        clients += [on_a, stranger]
        theirs = await stranger.call("interpretation:listen",
                                     {"session": SESSION, "viewer": plain_id, "language": "ar"})
        assert theirs["ok"] is False and theirs["error"] == "not_owner", theirs
        await heard(plain, 440, "the floor: the stranger changed nothing")
        mine = await on_a.call("interpretation:listen",
                               {"session": SESSION, "viewer": plain_id, "language": "ar"})
        assert mine == {**mine, "ok": True, "language": "ar", "live": True}, mine
        await heard(plain, 1000, "listen sent on to the viewer's node")

        # The partner joins (queued); the one on air hands over from a
        # Socket.IO connection on B, the edge: the holder swaps the source.
        two = await publish_tone(a.http, a.url, SESSION, ar2, 1500, query="?language=ar")
        peers.append(two)
        await wait_for(lambda: len(na.registry.stages[SESSION].booths.booths["ar"].queue) == 1,
                       what="the partner queued")
        interpreter_on_b = await sio(b.url, ar1, [])
        clients.append(interpreter_on_b)
        start = time.monotonic()
        done = await interpreter_on_b.call("interpretation:handover", {"session": SESSION})
        assert done["ok"], done
        assert done["stage"]["interpretation"]["booths"]["ar"]["on_air"] == \
            two.location.split("/")[-1]
        await heard(ear, 1500, "the partner after the hand-over")
        await asyncio.sleep(0.5)
        step = max_rtp_step(ear, start - 1.0, start + 1.5)
        print(f"hand-over seen on the edge: max RTP step {step:.3f} s")
        assert step < 0.3, f"a {step:.3f} s hole in the edge listener's audio"

        # Both interpreters leave: the edge listener falls back to the floor.
        for peer in (two, one):
            await peer.close(a.http, a.url)
        await heard(ear, 440, "the floor again once the booth is empty")
        await heard(plain, 440, "the floor for the listen()ed viewer too")
    finally:
        for client in clients:
            await client.disconnect()
        for peer in peers:
            await peer.close()


async def test_a_full_or_draining_node_hands_viewers_and_speakers_over(
    tmp_path: Path, redis_url: str
) -> None:
    async with two_nodes(tmp_path, redis_url, media={"max_viewers_total": 1}) as (a, b):
        na, nb = node(a), node(b)
        session = "workshop-open-data"
        speaker = await a.invite("speaker", session)
        pub = await whip_publish(a.http, a.url, session, speaker)
        peers = []
        try:
            await wait_for(lambda: len(na.nodes) == 2, what="A knows B")
            # A admits one viewer; the next one asking A is served by B.
            for i in range(2):
                peers.append(await whep_play(a.http, a.url, session, await a.register(f"W{i}")))
            owners = [p.location.split("/")[-1].split(".")[0] for p in peers]
            assert owners == [na.id, nb.id]
            await wait_for(lambda: all(p.frames["video"] > 5 for p in peers), timeout=20,
                           what="media on both")

            # SIGTERM's drain: A gives up the stage and takes no more viewers.
            await na.drain(grace_s=0)
            assert (await na.directory.holders([session]))[session] is None
            assert not na.registry.stages.get(session)
            await wait_for(lambda: pub.pc.connectionState in ("failed", "closed"), timeout=40,
                           what="the publisher told to go")
            await pub.pc.close()
            # The speaker comes back through A: B holds the stage now.
            pub = await whip_publish(a.http, a.url, session, speaker)
            assert pub.location.split("/")[-1].startswith(nb.id + ".")
            late = await whep_play(a.http, a.url, session, await a.register("Late"))
            peers.append(late)
            assert late.location.split("/")[-1].startswith(nb.id + ".")
            await wait_for(lambda: late.frames["video"] > 5, timeout=20, what="media from B")
        finally:
            for p in peers:
                await p.close()
            await pub.close()


async def test_redis_away_for_seconds_drops_no_viewer(tmp_path: Path) -> None:
    """The directory's Redis stops for 4 s: media keeps flowing to the edge's
    viewer, and when Redis is back the holder's claim is renewed."""
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(tmp_path)]
    redis = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    try:
        await _until_listening(port)
        async with two_nodes(tmp_path, f"redis://127.0.0.1:{port}/0") as (a, b):
            na = node(a)
            speaker = await a.invite("speaker", SESSION)
            viewer = await a.register("Edge viewer")
            pub = await whip_publish(a.http, a.url, SESSION, speaker)
            peer = await whep_play(b.http, b.url, SESSION, viewer)
            try:
                await wait_for(lambda: peer.frames["video"] > 5, timeout=20, what="edge media")
                redis.terminate()
                redis.wait(5)
                before = peer.frames["video"]
                await asyncio.sleep(4)  # beats fail meanwhile; nothing is torn down
                assert peer.frames["video"] > before + 60, "media stopped with Redis away"
                redis = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
                await _until_listening(port)
                directory = na.directory
                await wait_for_async(
                    lambda: _holder_is(directory, SESSION, na.id), 10,
                    "the holder's claim renewed")
                before = peer.frames["video"]
                await wait_for(lambda: peer.frames["video"] > before + 30, timeout=10,
                               what="media after Redis came back")
            finally:
                await peer.close()
                await pub.close()
    finally:
        redis.terminate()
        redis.wait(5)


async def _until_listening(port: int) -> None:
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise AssertionError("redis-server did not start")


async def _holder_is(directory: object, session: str, node_id: str) -> bool:
    try:
        holders = await asyncio.wait_for(directory.holders([session]), 2)  # type: ignore[attr-defined]
        return holders[session] == node_id
    except Exception:
        return False


async def wait_for_async(check: object, timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
