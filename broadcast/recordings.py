"""Recordings: one MPEG-TS file per run of a session's program, in the data folder.

    <data_dir>/recordings/<session>/<recording>.ts     the program, as it went out
    <data_dir>/recordings/<session>/<recording>.json   started_at, ended_at, duration

TS needs no index written at the end, so a file cut short (halqa killed, disk
full) plays up to its last packet. A recording whose side file still says
"recording" but whose writer is gone is finalized on the next listing, its
duration read by FFmpeg (PyAV).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import secrets
from pathlib import Path
from typing import Any

import av

SAFE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
REC_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(path: Path) -> float | None:
    try:
        with av.open(str(path)) as container:
            if container.duration is None:
                return None
            return round(container.duration / 1_000_000, 3)  # AV_TIME_BASE units
    except (av.FFmpegError, OSError):
        return None


async def probe_duration(path: Path) -> float | None:
    """The file's duration as FFmpeg reads it (first to last timestamp for TS)."""
    return await asyncio.to_thread(_duration, path)


class Recordings:
    def __init__(self, root: Path, owner: str) -> None:
        self.root = root
        self.owner = owner  # this process's node id: who writes which file
        self.active: set[tuple[str, str]] = set()

    def folder(self, session_id: str) -> Path:
        if not SAFE.match(session_id):
            raise ValueError("unsafe session id")
        return self.root / session_id

    def file(self, session_id: str, rec_id: str) -> Path | None:
        if not REC_ID.match(rec_id) or not SAFE.match(session_id):
            return None
        path = self.folder(session_id) / f"{rec_id}.ts"
        return path if path.exists() else None

    def begin(self, session_id: str) -> tuple[str, Path]:
        now = _now()
        rec_id = f"{now:%Y%m%dT%H%M%S}Z-{secrets.token_hex(3)}"
        folder = self.folder(session_id)
        folder.mkdir(parents=True, exist_ok=True)
        self._write(session_id, rec_id, {"id": rec_id, "session": session_id,
                                         "started_at": _iso(now), "ended_at": None,
                                         "duration_s": 0.0, "state": "recording",
                                         "owner": self.owner})
        self.active.add((session_id, rec_id))
        return rec_id, folder / f"{rec_id}.ts"

    async def finish(self, session_id: str, rec_id: str) -> None:
        self.active.discard((session_id, rec_id))
        meta = self._read(session_id, rec_id)
        if meta is None:
            return
        path = self.folder(session_id) / f"{rec_id}.ts"
        duration = await probe_duration(path)
        if duration is None:
            started = dt.datetime.fromisoformat(meta["started_at"].replace("Z", "+00:00"))
            duration = (_now() - started).total_seconds()
        meta.update(ended_at=_iso(_now()), duration_s=duration, state="finished")
        self._write(session_id, rec_id, meta)

    async def list(self, session_id: str, held_by: str | None) -> list[dict[str, Any]]:
        """Newest first. `held_by`: who runs this session's broadcast now, if anyone."""
        folder = self.folder(session_id)
        if not folder.is_dir():
            return []
        out = []
        for side in sorted(folder.glob("*.json"), reverse=True):
            rec_id = side.stem
            meta = self._read(session_id, rec_id)
            ts = folder / f"{rec_id}.ts"
            if meta is None or not ts.exists():
                continue
            writing = (session_id, rec_id) in self.active or (
                meta.get("state") == "recording" and meta.get("owner") == held_by
                and held_by is not None)
            if meta.get("state") == "recording" and not writing:
                # Its writer died (halqa killed mid-session): finalize it now.
                duration = await probe_duration(ts)
                meta.update(state="interrupted", duration_s=duration or 0.0)
                self._write(session_id, rec_id, meta)
            if writing:
                started = dt.datetime.fromisoformat(meta["started_at"].replace("Z", "+00:00"))
                meta["duration_s"] = round((_now() - started).total_seconds(), 1)
            out.append({
                "id": rec_id,
                "started_at": meta["started_at"],
                "ended_at": meta.get("ended_at"),
                "duration_s": meta.get("duration_s", 0.0),
                "bytes": ts.stat().st_size,
                "state": meta.get("state"),
                "url": f"/api/sessions/{session_id}/recordings/{rec_id}",
            })
        return out

    def delete(self, session_id: str, rec_id: str) -> bool:
        path = self.file(session_id, rec_id)
        if path is None:
            return False
        if (session_id, rec_id) in self.active:
            raise RecordingBusy(rec_id)
        path.unlink(missing_ok=True)
        (path.with_suffix(".json")).unlink(missing_ok=True)
        return True

    def _read(self, session_id: str, rec_id: str) -> dict[str, Any] | None:
        try:
            data = json.loads((self.folder(session_id) / f"{rec_id}.json").read_text())
        except (OSError, json.JSONDecodeError):
            return None
        return data if isinstance(data, dict) else None

    def _write(self, session_id: str, rec_id: str, meta: dict[str, Any]) -> None:
        path = self.folder(session_id) / f"{rec_id}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(meta))
        tmp.replace(path)  # atomic: a reader never sees half a file


class RecordingBusy(Exception):
    """The recording is still being written."""
