import json
from pathlib import Path

import pytest

from server.program import ProgramError, from_frab, parse_program

ROOT = Path(__file__).resolve().parents[2]


def test_demo_event_has_the_reference_shape() -> None:
    p = parse_program(ROOT / "config" / "demo-event.toml")
    assert len(p.sessions) == 9
    assert len({s.starts.date() for s in p.sessions}) == 2
    assert len(p.speakers) == 55
    assert len({s.country for s in p.speakers}) == 12
    assert {s.kind for s in p.sessions} == {"plenary", "panel", "workshop"}
    assert all(set(s.title) == {"fr", "ar", "en"} for s in p.sessions)
    panels = [s for s in p.sessions if s.kind == "panel"]
    assert panels and all(len(s.speakers) > 1 for s in panels)
    assert p.event.timezone == "Africa/Casablanca"


FRAB = {
    "schedule": {
        "version": "1",
        "conference": {
            "acronym": "demo26",
            "title": "Demo Conference",
            "time_zone_name": "Europe/Paris",
            "days": [
                {
                    "index": 1,
                    "date": "2026-05-04",
                    "rooms": {
                        "Main Hall": [
                            {
                                "id": 42,
                                "guid": "c0ffee",
                                "date": "2026-05-04T10:00:00+02:00",
                                "start": "10:00",
                                "duration": "00:45",
                                "room": "Main Hall",
                                "slug": "demo26-42-keynote",
                                "title": "Keynote",
                                "type": "Talk",
                                "language": "en",
                                "abstract": "Opening words",
                                "persons": [{"id": 7, "code": "ABC7", "public_name": "Ada L."}],
                            },
                            {
                                "id": 43,
                                "date": "2026-05-04T11:00:00+02:00",
                                "duration": "01:30",
                                "room": "Main Hall",
                                "slug": "demo26-43-panel",
                                "title": "Table ronde",
                                "type": "Panel discussion",
                                "language": "fr",
                                "persons": [
                                    {"id": 7, "code": "ABC7", "public_name": "Ada L."},
                                    {"id": 8, "code": "XYZ8", "public_name": "Grace H."},
                                ],
                            },
                        ]
                    },
                }
            ],
        },
    }
}


def test_frab_export_is_mapped() -> None:
    p = from_frab(FRAB)
    assert p.event.timezone == "Europe/Paris"
    keynote, panel = p.sessions
    assert keynote.id == "demo26-42-keynote" and keynote.title == {"en": "Keynote"}
    assert (keynote.ends - keynote.starts).total_seconds() == 45 * 60
    assert panel.kind == "panel" and panel.speakers == ["abc7", "xyz8"]
    assert len(p.speakers) == 2


def test_bad_program_files_say_where(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[event]\nid = "x"\nname = {fr = "X"}\ntimezone = "Mars/Olympus"\n'
                   "sessions = []\n")
    with pytest.raises(ProgramError, match="time zone"):
        parse_program(bad)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"schedule": {}})[:-3])
    with pytest.raises(ProgramError):
        parse_program(broken)
    with pytest.raises(ProgramError, match="No such file"):
        parse_program(tmp_path / "missing.toml")
