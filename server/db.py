"""The database: an async SQLAlchemy engine, sessions, and migrations on start."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS = Path(__file__).parent / "migrations"
# An arbitrary constant naming halqa's migration lock in pg_advisory_xact_lock.
MIGRATION_LOCK = 0x68616C7161


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                # Registrations (names, e-mail addresses) and token hashes:
                # readable by halqa's user only. SQLite gives its -wal and
                # -shm files the database file's mode.
                with contextlib.suppress(FileExistsError):
                    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer per database. Without turns, concurrent write
        # transactions of this process meet in SQLite's busy handler, which
        # sleeps and retries in worker threads (seconds under a chat rush);
        # with this lock they queue here, in arrival order, and never wait on
        # each other inside SQLite. Other processes still meet SQLite's busy
        # timeout (several processes need PostgreSQL anyway).
        self.write_turn: asyncio.Lock | None = (
            asyncio.Lock() if url.startswith("sqlite") else None)
        self._writer: asyncio.Task[Any] | None = None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as s:
            yield s

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits together, or not at all.

        On SQLite, write transactions of this process take turns
        (`write_turn`): never open one inside another, it would wait for
        itself; that mistake raises instead of hanging.
        """
        if self.write_turn is None:
            async with self.sessionmaker() as s, s.begin():
                yield s
            return
        me = asyncio.current_task()
        if me is not None and self._writer is me:
            raise RuntimeError("db.transaction() inside another one: it would wait for itself")
        async with self.write_turn:
            self._writer = me
            try:
                async with self.sessionmaker() as s, s.begin():
                    yield s
            finally:
                self._writer = None

    async def migrate(self) -> None:
        async with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Several processes starting together take turns: the lock is
                # held until this transaction ends, so the second one finds
                # the schema already at head.
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": MIGRATION_LOCK})
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "head"))

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers run while a writer commits; foreign keys are off by
    # default in SQLite and the model relies on ON DELETE CASCADE.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
