"""Chat fan-out per tick: a room's messages become one frame per socket.

Before (measured, bench/RESULTS.md): every message was one `sio.emit` to the
session room: a task per recipient, and a websocket frame and a `send` system
call per recipient per message, so the cost grew with rate × audience.

Now a stored message is added to its room's `Coalescer` (server/coalesce.py):
in a calm room it goes out on the next loop turn; in a busy one the room's
messages of the last `chat_tick` seconds go out together. Each batch is
encoded once, as
  - `chat:batch {session, messages: [...]}` for sockets that asked for it
    (connect auth `features: ["chat:batch"]`), and
  - one `chat:message <message>` per message for the others,
published once on the interaction bus (one Redis publish per batch), and
written by every process to its own sockets of the room without a task or
JSON work per recipient (server/realtime/fanout.py). Every receiver sees the
room's messages in one order: the bus's.

`interaction.chat_fanout = "emit"` keeps the old path (one `sio.emit` per
message), for comparison in bench/chat_rate.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import socketio
from aiohttp import web

from server import chat
from server.chat_writer import ChatWriter
from server.coalesce import Coalescer
from server.config import InteractionSettings
from server.keys import DB, SETTINGS, SIO
from server.realtime.common import session_room
from server.realtime.fanout import encode_event
from server.realtime.roomcast import ROOMCAST, Roomcast

# Client capabilities a connection may announce in its connect auth.
FEATURES = frozenset({"chat:batch"})


def feature_room(feature: str) -> str:
    return f"feature:{feature}"


async def enter_features(sio: socketio.AsyncServer, sid: str, auth: Any) -> None:
    """Called at connect: remember the capabilities this connection announced."""
    wanted = auth.get("features") if isinstance(auth, dict) else None
    if isinstance(wanted, list):
        for feature in FEATURES.intersection(f for f in wanted if isinstance(f, str)):
            await sio.enter_room(sid, feature_room(feature))


class ChatFanout:
    def __init__(self, sio: socketio.AsyncServer, roomcast: Roomcast,
                 cfg: InteractionSettings) -> None:
        self.sio, self.roomcast, self.cfg = sio, roomcast, cfg
        self.coalescer: Coalescer[str, dict[str, Any]] = Coalescer(cfg.chat_tick, self._flush)

    async def publish(self, messages: list[dict[str, Any]]) -> None:
        """Messages just committed (server/chat_writer.py), in their order."""
        for message in messages:
            if self.cfg.chat_fanout == "emit":
                await self.sio.emit("chat:message", message,
                                    room=session_room(message["session"]))
            else:
                self.coalescer.add(message["session"], message)

    async def _flush(self, session_id: str, messages: list[dict[str, Any]]) -> None:
        step = self.cfg.chat_batch_max
        for i in range(0, len(messages), step):
            chunk = messages[i:i + step]
            batch = encode_event(self.sio, "chat:batch", {"session": session_id,
                                                          "messages": chunk})
            singles = [encode_event(self.sio, "chat:message", m) for m in chunk]
            await self.roomcast.publish([session_room(session_id)], singles, alt=batch,
                                        alt_room=feature_room("chat:batch"))


CHAT_FANOUT: web.AppKey[ChatFanout] = web.AppKey("chat_fanout", ChatFanout)
CHAT_WRITER: web.AppKey[ChatWriter] = web.AppKey("chat_writer", ChatWriter)


async def chat_fanout_ctx(app: web.Application) -> AsyncIterator[None]:
    fanout = ChatFanout(app[SIO], app[ROOMCAST], app[SETTINGS].interaction)
    app[CHAT_FANOUT] = fanout
    fanout.coalescer.start()
    # The writer publishes into the fan-out: on shutdown it stores and
    # publishes what is queued before the fan-out sends its last batches.
    writer = ChatWriter(app[DB], chat.view, fanout.publish)
    app[CHAT_WRITER] = writer
    writer.start()
    yield
    await writer.close()
    await fanout.coalescer.close()
