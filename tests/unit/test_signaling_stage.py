"""Stage rules: positions, the on-air default, update throttling."""

from __future__ import annotations

from typing import Any

from signaling import stage as stage_mod
from signaling.stage import Publisher, Stage, Viewer


def pub(pid: str, position: int, connected: bool = True) -> Publisher:
    p = Publisher(pid, "s1", f"t{pid}", f"Speaker {pid}", "speaker", position, pc=None)  # type: ignore[arg-type]
    p.connected = connected
    return p


def test_positions_and_on_air_default() -> None:
    st = Stage("s1", 2, 2.0)
    assert st.free_position() == 0
    st.add_publisher(pub("a", 0))
    st.add_publisher(pub("b", 1))
    assert st.free_position() is None
    assert st.on_air is not None and st.on_air.id == "a"  # first live
    st.on_air_id = "b"
    assert st.on_air.id == "b"
    st.remove_publisher(st.publishers["b"])
    assert st.on_air.id == "a"  # the moderator's pick left: back to first live
    assert st.free_position() == 1


def test_viewer_count_updates_are_throttled(monkeypatch: Any) -> None:
    now = [100.0]
    monkeypatch.setattr(stage_mod.time, "monotonic", lambda: now[0])
    st = Stage("s1", 6, 2.0)
    sent: list[int] = []
    st.on_change = lambda s: sent.append(s.snapshot()["viewers"])
    st.add_publisher(pub("a", 0))
    st.changed()
    assert sent == [0]
    for i in range(5):  # five viewers connect within a second
        v = Viewer(f"v{i}", "s1", f"p{i}", "browser", pc=None)  # type: ignore[arg-type]
        v.connected = True
        st.viewers[v.id] = v
        now[0] += 0.2
        st.changed()
    assert sent == [0]  # count-only changes wait
    now[0] += 1.5
    st.changed()
    assert sent == [0, 5]
    st.add_publisher(pub("b", 1))  # a speaker joining goes out at once
    now[0] += 0.1
    st.changed()
    assert len(sent) == 3
