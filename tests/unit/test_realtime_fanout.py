"""Fails loudly when python-socketio/engineio move the internals that
server/realtime/fanout.py writes room frames through; and the Coalescer's rules."""

from __future__ import annotations

import asyncio
import inspect
from importlib.metadata import version

import pytest
import socketio
from engineio import async_socket

from server.coalesce import Coalescer
from server.realtime import fanout


def test_pinned_versions_are_installed() -> None:
    assert version("python-socketio") == fanout.PINNED_SOCKETIO, (
        "python-socketio changed: re-check server/realtime/fanout.py before bumping the pin")
    assert version("python-engineio") == fanout.PINNED_ENGINEIO, (
        "python-engineio changed: re-check server/realtime/fanout.py before bumping the pin")
    fanout.check_compatible(socketio.AsyncServer(async_mode="aiohttp"))


def test_engineio_writer_still_drains_the_socket_queue() -> None:
    """write_room puts packets on `socket.queue`; engine.io's websocket writer
    and its polling GET must still take them from there, and `send` must still
    be nothing more than a checked put (so skipping it skips nothing else)."""
    poll_src = inspect.getsource(async_socket.AsyncSocket.poll)
    assert "self.queue.get()" in poll_src and "self.queue.get_nowait()" in poll_src
    send_src = inspect.getsource(async_socket.AsyncSocket.send)
    assert "await self.queue.put(pkt)" in send_src
    assert "check_ping_timeout" in send_src
    ws_src = inspect.getsource(async_socket.AsyncSocket._websocket_handler)
    assert "packets = await self.poll()" in ws_src and "pkt.encode()" in ws_src


async def test_write_room_queues_one_shared_packet_per_socket() -> None:
    sio = socketio.AsyncServer(async_mode="aiohttp")
    eio = sio.eio
    socks = {}
    for n in ("e1", "e2", "e3"):
        s = async_socket.AsyncSocket(eio, n)
        eio.sockets[n] = s
        socks[n] = s
    mgr = sio.manager
    mgr.set_server(sio)
    sids = {n: await mgr.connect(n, "/") for n in socks}
    for n in ("e1", "e2", "e3"):
        mgr.basic_enter_room(sids[n], "/", "room")
    mgr.basic_enter_room(sids["e2"], "/", "batch")
    socks["e3"].closed = True

    frame = fanout.encode_event(sio, "chat:message", {"text": "é\n"})
    assert frame == '2["chat:message",{"text":"\\u00e9\\n"}]'  # one line, ASCII
    written = fanout.write_room(sio, "room", [frame, frame], alt="2[]", alt_room="batch")
    assert written == 2  # the closed socket is skipped
    q1, q2 = socks["e1"].queue, socks["e2"].queue
    assert q1.qsize() == 2 and q2.qsize() == 1 and socks["e3"].queue.qsize() == 0
    p1 = q1.get_nowait()
    assert p1.encode() == "4" + frame  # an engine.io MESSAGE around the Socket.IO packet
    assert q2.get_nowait().encode() == "42[]"
    # Several rooms: each socket once.
    assert fanout.write_room(sio, ["room", "batch"], [frame]) == 2
    assert fanout.room_size(sio, "room") == 3


async def test_coalescer_calm_goes_at_once_busy_waits_for_the_tick() -> None:
    flushed: list[tuple[str, list[int], float]] = []
    loop = asyncio.get_running_loop()
    t0 = loop.time()

    async def flush(key: str, items: list[int]) -> None:
        flushed.append((key, items, loop.time() - t0))

    c: Coalescer[str, int] = Coalescer(0.2, flush)
    c.start()
    c.add("a", 1)  # calm: next loop turn
    await asyncio.sleep(0.02)
    assert [f[:2] for f in flushed] == [("a", [1])]
    c.add("a", 2)
    c.add("a", 3)
    c.add("b", 9)  # another key is calm on its own
    await asyncio.sleep(0.05)
    assert [f[:2] for f in flushed] == [("a", [1]), ("b", [9])]
    await asyncio.sleep(0.25)
    assert [f[:2] for f in flushed][2] == ("a", [2, 3])
    assert flushed[2][2] >= 0.19  # waited for the end of the tick
    c.add("a", 4)
    await c.close()  # pending items are handed on at close
    assert flushed[-1][:2] == ("a", [4])


async def test_coalescer_keeps_order_when_a_flush_is_slow() -> None:
    out: list[int] = []

    async def slow(key: str, items: list[int]) -> None:
        await asyncio.sleep(0.03)
        out.extend(items)

    c: Coalescer[str, int] = Coalescer(0.01, slow)
    c.start()
    for i in range(20):
        c.add("k", i)
        await asyncio.sleep(0.004)
    await c.close()
    assert out == list(range(20))


@pytest.mark.parametrize("bad", [None, "x", {"features": "chat:batch"}, {"features": [1]}])
async def test_features_ignore_malformed_auth(bad: object) -> None:
    from server.realtime.chat_fanout import enter_features

    sio = socketio.AsyncServer(async_mode="aiohttp")
    await enter_features(sio, "nobody", bad)  # no room entered, no error
    assert fanout.room_size(sio, "feature:chat:batch") == 0
