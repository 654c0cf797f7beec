"""Chat group commit (server/chat_writer.py) on a real database, SQLite and PostgreSQL.

Order kept, one commit for many messages under a rush, acknowledged only
once committed (another connection sees the row), a message that cannot be
stored fails alone with an error and is never published, and the writer
stores what is queued when it closes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from server import chat
from server.chat_writer import ChatWriter
from server.db import Database
from server.errors import Unavailable
from server.models import Event, Session
from server.models_interaction import ChatMessage

T0 = dt.datetime(2026, 12, 9, 8, tzinfo=dt.UTC)


def async_url(url: str) -> str:
    return (url.replace("sqlite://", "sqlite+aiosqlite://")
            .replace("postgresql://", "postgresql+asyncpg://"))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    d = Database(async_url(database_url))
    await d.migrate()
    async with d.transaction() as s:
        s.add(Event(id="e", name={"en": "E"}, timezone="UTC"))
        s.add(Session(id="s1", event_id="e", kind="panel", title={"en": "s1"},
                      starts_at=T0, ends_at=T0 + dt.timedelta(hours=1)))
    yield d
    await d.close()


def message(text: str, session: str = "s1") -> ChatMessage:
    return ChatMessage(session_id=session, author_key="p1", author_name="P1",
                       author_role="participant", text=text)


class Published:
    def __init__(self, db: Database, reader: Database | None = None) -> None:
        self.messages: list[dict[str, Any]] = []
        self.stored_when_published: list[bool] = []
        self.reader = reader

    async def __call__(self, messages: list[dict[str, Any]]) -> None:
        if self.reader is not None:  # published only once another connection sees them
            async with self.reader.session() as s:
                ids = set(await s.scalars(select(ChatMessage.id)))
            self.stored_when_published += [m["id"] in ids for m in messages]
        self.messages += messages


async def count(db: Database) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(func.count()).select_from(ChatMessage)) or 0)


async def test_a_rush_is_stored_in_few_commits_in_order_and_acked_after_commit(
        db: Database) -> None:
    reader = Database(db.url)  # its own engine: sees only what was committed
    published = Published(db, reader)
    writer = ChatWriter(db, chat.view, published)
    writer.start()
    try:
        async def send(i: int) -> dict[str, Any]:
            view = await writer.write(message(f"m{i}"))
            async with reader.session() as s:  # acked ⇒ committed
                assert await s.get(ChatMessage, view["id"]) is not None
            return view

        views = await asyncio.gather(*(send(i) for i in range(60)))
    finally:
        await writer.close()
        await reader.close()
    assert [v["text"] for v in views] == [f"m{i}" for i in range(60)]
    assert [m["text"] for m in published.messages] == [f"m{i}" for i in range(60)]
    assert [m["id"] for m in published.messages] == [v["id"] for v in views]
    assert len({v["id"] for v in views}) == 60
    assert all(published.stored_when_published)
    # 60 at once: the first commit carries one, the next ones what queued meanwhile.
    assert writer.commits < 60 / 2, writer.commits
    assert [m["text"] for m in await chat.history(db, "s1", 100)] == [f"m{i}" for i in range(60)]


async def test_a_message_that_cannot_be_stored_fails_alone_and_is_not_published(
        db: Database) -> None:
    published = Published(db)
    writer = ChatWriter(db, chat.view, published)
    writer.start()
    try:
        # Queued together: one batch. The middle one names no session (the
        # foreign key refuses it), as if its session were deleted meanwhile.
        results = await asyncio.gather(writer.write(message("a")),
                                       writer.write(message("bad", session="gone")),
                                       writer.write(message("b")), return_exceptions=True)
    finally:
        await writer.close()
    assert isinstance(results[1], Exception) and not isinstance(results[1], Unavailable)
    good = [r for r in results if isinstance(r, dict)]
    assert [r["text"] for r in good] == ["a", "b"]
    assert [m["text"] for m in published.messages] == ["a", "b"]
    assert await count(db) == 2  # stored exactly once each, the bad one not at all


async def test_close_stores_what_is_queued_then_refuses(db: Database) -> None:
    published = Published(db)
    writer = ChatWriter(db, chat.view, published)
    writer.start()
    pending = [asyncio.create_task(writer.write(message(f"q{i}"))) for i in range(5)]
    await asyncio.sleep(0)  # queued
    await writer.close()
    assert [(await t)["text"] for t in pending] == [f"q{i}" for i in range(5)]
    with pytest.raises(Unavailable):
        await writer.write(message("late"))
    assert await count(db) == 5


async def test_nested_sqlite_write_transaction_raises_instead_of_hanging(
        db: Database) -> None:
    if db.write_turn is None:
        pytest.skip("PostgreSQL: write transactions do not take turns in the process")
    with pytest.raises(RuntimeError, match="inside another"):
        async with db.transaction(), db.transaction():
            pass
    # The turn was given back: the next transaction runs.
    async with asyncio.timeout(5), db.transaction() as s:
        s.add(message("after"))
    assert await count(db) == 1


async def test_a_failed_publish_still_acks_what_was_stored_and_the_writer_goes_on(
        db: Database) -> None:
    calls: list[int] = []

    async def flaky(messages: list[dict[str, Any]]) -> None:
        calls.append(len(messages))
        if len(calls) == 1:
            raise RuntimeError("the bus is away")

    writer = ChatWriter(db, chat.view, flaky)
    writer.start()
    try:
        # Stored, so acknowledged (the join history shows it), though not sent live.
        first = await writer.write(message("stored, not sent"))
        second = await writer.write(message("next"))
    finally:
        await writer.close()
    assert (first["text"], second["text"]) == ("stored, not sent", "next")
    assert calls == [1, 1]
    assert [m["text"] for m in await chat.history(db, "s1", 10)] == ["stored, not sent", "next"]
