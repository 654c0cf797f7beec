"""The `halqa` command as an organizer runs it, against a real data folder."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import socketio

from tests.support import ROOT, ServerProcess
from tests.unit.test_program import FRAB


def halqa(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HALQA_DATA_DIR": str(data),
           "HALQA_EVENT_FILE": str(ROOT / "config" / "demo-event.toml")}
    env.pop("HALQA_ORGANIZER_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "server", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


async def test_invite_prints_link_then_token_and_the_server_accepts_it(tmp_path: Path) -> None:
    out = halqa(tmp_path, "invite", "speaker", "panel-climate")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    token = lines[-1]
    assert lines[-2] == f"http://localhost:8080/studio/panel-climate#token={token}"
    assert len(token) >= 32
    # The organizer credential was generated once and persisted, not printed.
    assert (tmp_path / "organizer-token").exists()
    assert (tmp_path / "organizer-token").read_text().strip() not in out.stdout

    server = await ServerProcess(tmp_path, {}).start()  # returns once /readyz says 200
    try:
        client = socketio.AsyncClient(reconnection=False)
        # The client's default waits 1 s for the server's `connect` handler
        # (token lookup and sanctions in the database): a loaded machine
        # exceeds that ("Unexpected connection error"); 20 s still fails a
        # server that never accepts.
        try:
            await client.connect(server.url, auth={"token": token}, transports=["websocket"],
                                 wait_timeout=20)
        except socketio.exceptions.ConnectionError as exc:
            raise AssertionError(f"{exc!r}; server log: {server.log.read_text()[-3000:]}") from exc
        assert client.connected
        await client.disconnect()
    finally:
        server.stop()
    # The server is gone (not merely told to go) before the CLI opens the database.
    assert server.proc is not None and server.proc.returncode is not None, server.log.read_text()

    revoked = halqa(tmp_path, "revoke", token)
    assert (revoked.returncode, revoked.stdout.strip()) == (0, "revoked"), revoked.stderr
    again = halqa(tmp_path, "revoke", token)
    assert again.returncode == 1 and "no live token" in again.stderr, (again.stdout, again.stderr)


def test_invite_refuses_an_unknown_session(tmp_path: Path) -> None:
    out = halqa(tmp_path, "invite", "speaker", "no-such-session")
    assert out.returncode == 1 and "no session" in out.stderr, (out.stdout, out.stderr)
    moderator = halqa(tmp_path, "invite", "moderator")
    assert moderator.returncode == 0 and "/moderate#token=" in moderator.stdout, moderator.stderr


def test_import_schedule_from_frab_json_and_toml(tmp_path: Path) -> None:
    assert halqa(tmp_path, "migrate").returncode == 0
    frab = tmp_path / "schedule.json"
    frab.write_text(json.dumps(FRAB))
    out = halqa(tmp_path, "import-schedule", str(frab))
    assert out.returncode == 0, out.stderr
    assert "imported 2 sessions, 2 speakers" in out.stdout
    out = halqa(tmp_path, "import-schedule", str(ROOT / "config" / "demo-event.toml"))
    assert "imported 9 sessions, 55 speakers" in out.stdout
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    out = halqa(tmp_path, "import-schedule", str(bad))
    assert out.returncode == 1 and "bad.json" in out.stderr


def test_bad_settings_are_reported_not_raised(tmp_path: Path) -> None:
    cfg = tmp_path / "halqa.toml"
    cfg.write_text('port = "eighty"\n')
    out = halqa(tmp_path, "--config", str(cfg), "migrate")
    assert out.returncode == 2
    assert "port" in out.stderr and "Traceback" not in out.stderr


def test_unreachable_database_and_busy_port_are_one_line_errors(tmp_path: Path) -> None:
    import socket

    env_db = {"HALQA_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    out = subprocess.run([sys.executable, "-m", "server", "migrate"], cwd=ROOT,
                         env={**os.environ, "HALQA_DATA_DIR": str(tmp_path), **env_db},
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("halqa: ")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "server", "serve", "--port", str(port)],
                             cwd=ROOT, env={**os.environ, "HALQA_DATA_DIR": str(tmp_path)},
                             capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 1
    assert "cannot start" in out.stderr and "Traceback" not in out.stderr


def test_invite_interpreter_binds_a_language_and_revokes(tmp_path: Path) -> None:
    out = halqa(tmp_path, "invite", "interpreter", "panel-climate", "--language", "ar")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    token = lines[-1]
    assert "into ar" in lines[0]
    assert lines[-2] == f"http://localhost:8080/interpret/panel-climate#token={token}"
    for args, why in ((["panel-climate"], "language"), (["panel-climate", "--language", "de"],
                      "language"), (["--language", "ar"], "session")):
        bad = halqa(tmp_path, "invite", "interpreter", *args)
        assert bad.returncode == 1 and why in bad.stderr, bad.stderr
    speaker = halqa(tmp_path, "invite", "speaker", "panel-climate", "--language", "ar")
    assert speaker.returncode == 1 and "language" in speaker.stderr
    assert halqa(tmp_path, "revoke", token).stdout.strip() == "revoked"


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # the field after the state: the parent's pid
            out.append(int(stat.parent.name))
    return out


async def test_a_killed_workers_supervisor_takes_its_workers_and_redis_with_it(
    tmp_path: Path,
) -> None:
    """SIGKILL of `halqa serve --workers 2`: nothing may stay behind. Orphaned
    workers kept the port (SO_REUSEPORT) beside a restarted halqa's, on their
    own old Redis, and took half its requests."""
    import asyncio

    proc = ServerProcess(tmp_path, {}, ("--workers", "2"))
    await proc.start(timeout=90)
    assert proc.proc is not None
    children = _children(proc.proc.pid)
    try:
        assert len(children) == 3, children  # two workers and the private Redis
        proc.kill()
        for _ in range(100):
            alive = [c for c in children if Path(f"/proc/{c}").exists()
                     and "Z" not in Path(f"/proc/{c}/stat").read_text().rsplit(")", 1)[1][:3]]
            if not alive:
                break
            await asyncio.sleep(0.1)
        assert not alive, f"left behind: {alive}"
    finally:
        for child in children:
            with contextlib.suppress(OSError):
                os.kill(child, signal.SIGKILL)
