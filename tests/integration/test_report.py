"""The report's figures against a scripted event with known attendance."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from server.db import Database
from server.models_interaction import Attendance, Question
from tests.support import app_server

T0 = dt.datetime(2026, 12, 9, 9, 0, tzinfo=dt.UTC)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


async def test_report_matches_a_scripted_event(tmp_path: Path) -> None:
    async with app_server(tmp_path) as h:
        tokens = [await h.register(email=f"p{i}@ex.org", country=c)
                  for i, c in enumerate(["MA", "MA", "FR", "SN"])]
        assert len(tokens) == 4
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'halqa.db'}")
        async with db.transaction() as s:
            def stay(session: str, pid: int | None, a: int, b: int, key: str = "") -> None:
                s.add(Attendance(session_id=session, subject_key=key or f"p{pid}",
                                 participant_id=pid, name="x", joined_at=at(a), seen_at=at(b),
                                 left_at=at(b)))
            # opening-plenary: p1 has two tabs (counted once), p2 overlaps p1,
            # then p3 overlaps p2: at most two people at once.
            stay("opening-plenary", 1, 60, 90)
            stay("opening-plenary", 1, 70, 80)
            stay("opening-plenary", 2, 75, 105)
            stay("opening-plenary", 3, 100, 120)
            # A speaker watching is not a viewer.
            stay("opening-plenary", None, 60, 120, key="t99")
            stay("panel-climate", 1, 0, 10)
            for text in ("Q1", "Q2"):
                s.add(Question(session_id="opening-plenary", author_key="p1", author_name="x",
                               text=text, status="approved"))
        await db.close()

        async with h.http.get(f"{h.url}/api/report", headers=h.auth(tokens[0])) as r:
            assert r.status == 403
        async with h.http.get(f"{h.url}/api/report", headers=h.auth()) as r:
            report = await r.json()
        totals = report["totals"]
        assert totals == {
            "registered": 4, "attended": 3, "speakers": 55, "speaker_countries": 12,
            "participant_countries": 3, "countries": 12, "sessions": 9, "questions": 2,
            "chat_messages": 0, "watch_seconds": (30 + 30 + 20 + 10) * 60,
            # No player beat in this script (tests/integration/test_hls_access.py does).
            "webrtc_viewers": 0, "webrtc_watch_seconds": 0, "hls_viewers": 0,
            "hls_watch_seconds": 0, "replay_viewers": 0, "replay_watch_seconds": 0,
        }
        by_id = {x["id"]: x for x in report["sessions"]}
        opening = by_id["opening-plenary"]
        assert (opening["peak_viewers"], opening["total_viewers"]) == (2, 3)
        assert opening["watch_seconds"] == 80 * 60 and opening["questions"] == 2
        assert (by_id["panel-climate"]["peak_viewers"], by_id["panel-climate"]["total_viewers"]) \
            == (1, 1)
        assert by_id["closing-plenary"]["total_viewers"] == 0
        assert report["countries"][0] == {"country": "MA", "registered": 2, "attended": 2}

        async with h.http.get(f"{h.url}/api/report/sessions.csv?lang=ar", headers=h.auth()) as r:
            assert r.content_type == "text/csv"
            rows = list(csv.DictReader(io.StringIO((await r.read()).decode("utf-8-sig"))))
        assert len(rows) == 9
        row = next(x for x in rows if x["session"] == "opening-plenary")
        assert row["peak_viewers"] == "2" and row["watch_minutes"] == "80.0"
        assert row["starts_at"] == "2026-12-09T09:00:00+01:00"
        assert row["title"].startswith("الجلسة")
        async with h.http.get(f"{h.url}/api/report/countries.csv", headers=h.auth()) as r:
            text = (await r.read()).decode("utf-8-sig")
        assert text.splitlines()[1] == "MA,2,2"
