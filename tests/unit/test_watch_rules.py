"""Watch beats: time between beats within the gap counts, once; long gaps count nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server import watch
from server.db import Database
from server.models import Event, Participant, Session

T0 = dt.datetime(2026, 12, 9, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    await database.migrate()
    async with database.transaction() as s:
        s.add(Event(id="e", name={"en": "E"}, timezone="UTC"))
        await s.flush()
        s.add(Session(id="s", event_id="e", kind="plenary", title={"en": "S"},
                      starts_at=T0, ends_at=T0 + dt.timedelta(hours=1)))
        s.add(Participant(id=1, name="A", email="a@x.org", country="MA", language="fr",
                          consent_at=T0))
    yield database
    await database.close()


async def test_beats_add_the_gaps_that_are_short_enough(db: Database) -> None:
    beats = [0, 30, 60, 90, 300, 330, 330, 329]  # a 210 s pause, a repeat, a late one
    async with db.transaction() as s:
        for t in beats:
            total = await watch.beat(s, "s", 1, "hls", T0 + dt.timedelta(seconds=t))
    assert total == 90 + 30
    async with db.session() as s:
        fig = await watch.figures(s)
    assert watch.per_session(fig, "s")["hls_watch_seconds"] == 120
    assert watch.per_session(fig, "s")["hls_viewers"] == 1
    assert watch.per_session(fig, "s")["webrtc_viewers"] == 0
