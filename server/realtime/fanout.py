"""Every use of python-socketio / python-engineio internals lives here, pinned.

Why reach in: `AsyncServer.emit` to a room of N sockets creates N asyncio
tasks (one `_send_eio_packet` each) and waits for them all; measured at 700
recipients that is ~15 % of a message's server CPU before any byte is
written (bench/RESULTS.md). A room frame here is encoded once into one
engine.io packet object (engine.io caches its encoding), and put straight
into each local socket's outgoing queue: no task, no JSON work per recipient.
Each socket's own engine.io writer then sends it, in order with everything
else queued for that socket (acks, other events), over websocket or polling.

tests/unit/test_realtime_fanout.py fails loudly when either library changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

PINNED_SOCKETIO = "5.18.1"
PINNED_ENGINEIO = "4.15.1"
NAMESPACE = "/"


class SocketIOMismatch(RuntimeError):
    """The installed python-socketio/engineio is not the one this module knows."""


def check_compatible(sio: socketio.AsyncServer | None = None) -> None:
    for dist, pinned in (("python-socketio", PINNED_SOCKETIO),
                         ("python-engineio", PINNED_ENGINEIO)):
        if version(dist) != pinned:
            raise SocketIOMismatch(f"{dist} {version(dist)} installed, {pinned} pinned")
    if sio is not None:
        if not isinstance(getattr(sio.manager, "rooms", None), dict):
            raise SocketIOMismatch("manager.rooms is gone")
        if not isinstance(getattr(sio.eio, "sockets", None), dict):
            raise SocketIOMismatch("eio.sockets is gone")


def encode_event(sio: socketio.AsyncServer, event: str, data: Any) -> str:
    """The Socket.IO text packet `2["event",data]` for the default namespace,
    encoded with the server's JSON module, as `AsyncManager.emit` would."""
    encoded = sio.packet_class(sio_packet.EVENT, namespace=NAMESPACE,
                               data=[event, data]).encode()
    if not isinstance(encoded, str):  # binary attachments: never in our events
        raise ValueError("binary payloads cannot be shared frames")
    return encoded


def room_size(sio: socketio.AsyncServer, room: str) -> int:
    return len(sio.manager.rooms.get(NAMESPACE, {}).get(room, ()))


def write_room(sio: socketio.AsyncServer, room: str | Sequence[str], packets: Sequence[str],
               alt: str | None = None, alt_room: str | None = None) -> int:
    """Queue `packets` (or, for members of `alt_room`, the one packet `alt`) on
    every socket of `room` (or of any of several rooms, once each) in this
    process; returns the sockets written to.

    Synchronous on purpose: no await between sockets, so the room cannot
    change under the loop and every socket gets the frames in one order.
    """
    rooms: dict[Any, Any] = sio.manager.rooms.get(NAMESPACE, {})
    if isinstance(room, str):
        members = rooms.get(room)
    else:
        members = {}
        for r in room:
            members.update(rooms.get(r, {}))
    if not members:
        return 0
    shared = [eio_packet.Packet(eio_packet.MESSAGE, p) for p in packets]
    alt_members = rooms.get(alt_room, {}) if alt is not None and alt_room else {}
    alt_packet = eio_packet.Packet(eio_packet.MESSAGE, alt) if alt is not None else None
    sockets: dict[str, Any] = sio.eio.sockets
    written = 0
    for sid, eio_sid in members.items():
        sock = sockets.get(eio_sid)
        if sock is None or sock.closed or sock.closing:
            continue
        queue = sock.queue
        if alt_packet is not None and sid in alt_members:
            queue.put_nowait(alt_packet)
        else:
            for p in shared:
                queue.put_nowait(p)
        written += 1
    return written
