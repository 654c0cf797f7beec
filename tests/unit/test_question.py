"""Domain rules of questions, chat and sanctions, without sockets (SQLite)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server import chat, question
from server.chat_writer import ChatWriter
from server.config import InteractionSettings
from server.db import Database
from server.errors import Forbidden, NotFound, RateLimited
from server.interaction import Refused
from server.models import Event, Participant, Session
from server.moderation import Target, sanction, update_session
from server.realtime.common import flooding
from server.roles import Principal, Role
from server.shared import MemorySharedState

CFG = InteractionSettings()
T0 = dt.datetime(2026, 12, 9, 8, tzinfo=dt.UTC)


def person(n: int) -> Principal:
    return Principal(Role.participant, 100 + n, f"P{n}", participant_id=n)


MOD = Principal(Role.moderator, 1, "Mod", session_id="s1")
OTHER_MOD = Principal(Role.moderator, 2, "Mod2", session_id="s2")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    d = Database(f"sqlite+aiosqlite:///{tmp_path / 'q.db'}")
    await d.migrate()
    async with d.transaction() as s:
        s.add(Event(id="e", name={"en": "E"}, timezone="UTC"))
        for sid in ("s1", "s2"):
            s.add(Session(id=sid, event_id="e", kind="panel", title={"en": sid},
                          starts_at=T0, ends_at=T0 + dt.timedelta(hours=1)))
        for n in (1, 2, 3):
            s.add(Participant(id=n, name=f"P{n}", email=f"{n}@x.org", country="MA",
                              language="fr", consent_at=T0))
    yield d
    await d.close()


async def test_question_lifecycle(db: Database) -> None:
    shared = MemorySharedState()
    c = await question.ask(db, shared, CFG, person(1), "s1", " Why? ", anonymous=True)
    q = c.question
    assert (q["status"], q["author"], q["text"], c.public) == ("pending", None, "Why?", False)
    with pytest.raises(NotFound) as e:
        await question.vote(db, shared, CFG, person(2), q["id"], True)
    assert e.value.code == "not_found"
    for who in (person(1), OTHER_MOD):
        with pytest.raises(Forbidden) as e:
            await question.moderate(db, who, q["id"], "approve")
        assert e.value.code == "forbidden"
    [c] = await question.moderate(db, MOD, q["id"], "approve")
    assert c.public and c.question["status"] == "approved"
    for _ in range(3):
        c = await question.vote(db, shared, CFG, person(2), q["id"], True)
    assert c.question["votes"] == 1
    c = await question.vote(db, shared, CFG, person(3), q["id"], True)
    c = await question.vote(db, shared, CFG, person(2), q["id"], False)
    assert c.question["votes"] == 1
    q2 = (await question.ask(db, shared, CFG, person(2), "s1", "How?", False)).question
    await question.moderate(db, MOD, q["id"], "highlight")
    changes = await question.moderate(db, MOD, q2["id"], "highlight")
    assert [(x.question["id"], x.question["highlighted"]) for x in changes] == [
        (q2["id"], True), (q["id"], False)]
    assert changes[0].question["status"] == "approved"  # highlighting approves
    [c] = await question.moderate(db, MOD, q2["id"], "answer")
    assert c.question["status"] == "answered" and not c.question["highlighted"]
    [c] = await question.moderate(db, MOD, q["id"], "reject")
    assert c.public  # it was public: the room must hear it is gone
    q3 = (await question.ask(db, shared, CFG, person(3), "s1", "Spam", False)).question
    [c] = await question.moderate(db, MOD, q3["id"], "reject")
    assert not c.public  # never shown: only moderators and the author hear
    with pytest.raises(Refused):
        await question.moderate(db, MOD, q3["id"], "highlight")
    seen = await question.visible(db, person(3), "s1")
    assert [x["id"] for x in seen["questions"]] == [q2["id"]] and seen["voted"] == [q["id"]]


async def test_open_mode_and_limits(db: Database) -> None:
    shared = MemorySharedState()
    await update_session(db, MOD, "s1", None, "open", None)
    assert (await question.ask(db, shared, CFG, person(1), "s1", "x", False)).public
    for text, code in (("", "empty"), ("x" * 301, "too_long")):
        with pytest.raises(Refused) as e:
            await question.ask(db, shared, CFG, person(1), "s1", text, False)
        assert e.value.code == code
    for _ in range(2):
        await question.ask(db, shared, CFG, person(1), "s1", "again", False)
    with pytest.raises(RateLimited) as e:
        await question.ask(db, shared, CFG, person(1), "s1", "one too many", False)
    assert e.value.code == "rate_limited"


async def test_chat_sanctions_slow_mode_and_delete(db: Database) -> None:
    shared = MemorySharedState()
    published: list[dict[str, object]] = []

    async def publish(messages: list[dict[str, object]]) -> None:
        published.extend(messages)

    writer = ChatWriter(db, chat.view, publish)
    writer.start()
    m = await chat.send(db, writer, shared, CFG, person(1), "s1", "hello")
    await sanction(db, MOD, "s1", "mute", Target(message=m["id"]))
    with pytest.raises(Refused) as e:
        await chat.send(db, writer, shared, CFG, person(1), "s1", "still?")
    assert e.value.code == "muted"
    await chat.send(db, writer, shared, CFG, person(1), "s2", "elsewhere is fine")
    with pytest.raises(Forbidden) as e:
        await sanction(db, MOD, None, "ban", Target(message=m["id"]))
    assert e.value.code == "forbidden"  # a session moderator has no event-wide power
    change = await sanction(db, MOD, "s1", "unmute", Target(user="p1"))
    assert (change.kind, change.active, change.subject_name) == ("mute", False, "P1")
    await update_session(db, MOD, "s1", None, None, 30)
    await chat.send(db, writer, shared, CFG, person(1), "s1", "one")
    with pytest.raises(Refused) as e:
        await chat.send(db, writer, shared, CFG, person(1), "s1", "two")
    assert e.value.code == "slow_mode"
    with pytest.raises(Forbidden) as e:
        await chat.delete(db, person(2), m["id"])
    assert e.value.code == "forbidden"
    assert (await chat.delete(db, MOD, m["id"])) == {"session": "s1", "id": m["id"]}
    assert [x["text"] for x in await chat.history(db, "s1", 50)] == ["one"]
    # Refused messages were never published.
    assert [m["text"] for m in published] == ["hello", "elsewhere is fine", "one"]
    await writer.close()


def test_flood_limit_per_connection() -> None:
    # The limit is put in the connection's state at connect (interaction.flood_events).
    conn: dict[str, object] = {"flood_limit": 20}
    assert [flooding(conn) for _ in range(22)][-3:] == [False, True, True]


async def test_slow_mode_is_cut_to_the_configured_maximum(db: Database) -> None:
    settings = await update_session(db, MOD, "s1", None, None, 3600, max_slow_mode=600)
    assert settings["slow_mode"] == 600
    settings = await update_session(db, MOD, "s1", None, None, 30, max_slow_mode=600)
    assert settings["slow_mode"] == 30
