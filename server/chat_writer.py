"""Chat group commit: a process's chat messages are stored one transaction per batch.

Why: one transaction per message took a pooled database connection and a
commit (an fsync on PostgreSQL) per message; at 50 messages a second in one
room the pool ran dry and every send queued behind the others' commits.

How: `ChatWriter.write(message)` queues the message and waits. One task per
process takes whatever is queued (at most `max_batch`), inserts it in one
transaction and commits. Nothing waits for a timer: in a calm room a batch
is one message, written at once; while one commit is under way the next
messages gather, so under a rush a commit carries many messages and the
number of commits per second stays near what the database does in a second.

Promises kept:
- acknowledged = stored: a sender's `write` returns only after the commit
  that holds its message; then the message survives a restart;
- nothing acknowledged-and-lost: if a batch fails, its messages are tried
  again one by one, so one bad message (e.g. its session deleted meanwhile)
  fails alone; a message that cannot be stored raises to its sender, who
  gets an error ack, and is never published;
- one order: messages are stored, published (`on_commit`) and acknowledged
  in the order they were queued; `on_commit` runs after the commit, before
  the acks, so the room sees a message no earlier than it is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from server.db import Database
from server.errors import Unavailable
from server.models_interaction import ChatMessage

log = structlog.get_logger("halqa.chat_writer")
OnCommit = Callable[[list[dict[str, Any]]], Awaitable[None]]
View = Callable[[ChatMessage], dict[str, Any]]


@dataclass
class _Pending:
    message: ChatMessage
    done: asyncio.Future[dict[str, Any]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


class ChatWriter:
    def __init__(self, db: Database, view: View, on_commit: OnCommit,
                 max_batch: int = 200) -> None:
        self.db, self.view, self.on_commit, self.max_batch = db, view, on_commit, max_batch
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.commits = 0  # transactions that stored messages (tests, metrics)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="chat-writer")

    async def write(self, message: ChatMessage) -> dict[str, Any]:
        """Store `message`; returns its view once committed, or raises why not."""
        if self._closed or self._task is None:
            # The process is shutting down: not stored, the client may retry.
            raise Unavailable("unavailable", "the server is shutting down")
        item = _Pending(message)
        self._queue.put_nowait(item)
        # Shielded: a sender who disconnects mid-write must not cancel the
        # future the writer is about to resolve for the whole batch.
        return await asyncio.shield(item.done)

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch and not self._queue.empty():
                nxt = self._queue.get_nowait()
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            try:
                await self._write(batch)
            except Exception as exc:  # a bug here must not stop every later send
                log.exception("chat_writer_failed", messages=len(batch))
                for p in batch:
                    if not p.done.done():
                        p.done.set_exception(exc)
            if stop:
                return

    async def _write(self, batch: list[_Pending]) -> None:
        try:
            await self._commit([p.message for p in batch])
            stored = batch
        except Exception:
            log.warning("chat_batch_failed", messages=len(batch), exc_info=True)
            stored = []
            for p in batch:  # one by one: only the bad message fails
                # A fresh row: the rolled-back one may keep the id it was given.
                p.message = _fresh(p.message)
                try:
                    await self._commit([p.message])
                    stored.append(p)
                except Exception as exc:
                    log.warning("chat_message_failed", exc_info=True)
                    if not p.done.done():
                        p.done.set_exception(exc)
        if not stored:
            return
        views = [self.view(p.message) for p in stored]
        try:
            await self.on_commit(views)
        except Exception:
            # Stored (and in the join history): still acknowledged as sent.
            log.exception("chat_publish_failed", messages=len(views))
        for p, v in zip(stored, views, strict=True):
            if not p.done.done():
                p.done.set_result(v)

    async def _commit(self, messages: list[ChatMessage]) -> None:
        async with self.db.transaction() as s:
            s.add_all(messages)
        self.commits += 1

    async def close(self) -> None:
        """Store and publish what is queued, then stop; later writes raise."""
        self._closed = True
        if self._task is None:
            return
        self._queue.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None


def _fresh(m: ChatMessage) -> ChatMessage:
    return ChatMessage(session_id=m.session_id, author_key=m.author_key,
                       author_name=m.author_name, author_role=m.author_role, text=m.text)
