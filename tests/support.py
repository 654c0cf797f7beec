"""Test support: free ports, a private redis-server, throw-away PostgreSQL
databases, and halqa servers in-process or as real processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("HALQA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def redis_server(tmp: Path) -> Iterator[str]:
    """A private redis-server on a free port (never the machine's shared one)."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is not installed; run ./scripts/test, which installs it")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp), "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(5)


async def pg_reachable() -> bool:
    import asyncpg

    try:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=2)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


@contextlib.asynccontextmanager
async def throwaway_pg() -> AsyncIterator[str]:
    """Create a fresh PostgreSQL database and drop it afterwards."""
    import asyncpg

    name = f"halqa_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@dataclass
class Halqa:
    """A running halqa: its URL, organizer token, and shortcuts for tests."""

    url: str
    organizer_token: str
    http: aiohttp.ClientSession = field(repr=False)
    settings: dict[str, Any] = field(default_factory=dict, repr=False)
    # The application object when the server runs in this process.
    app: web.Application | None = field(default=None, repr=False)

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.organizer_token}"}

    async def program(self) -> dict[str, Any]:
        async with self.http.get(f"{self.url}/api/program") as r:
            assert r.status == 200
            data: dict[str, Any] = await r.json()
            return data

    async def session_ids(self) -> list[str]:
        return [s["id"] for s in (await self.program())["sessions"]]

    async def invite(self, role: str, session: str | None) -> str:
        async with self.http.post(
            f"{self.url}/api/invites", json={"role": role, "session": session},
            headers=self.auth(),
        ) as r:
            body = await r.json()
            assert r.status == 201, body
            token: str = body["token"]
            return token

    async def register(self, name: str = "Test Participant", email: str | None = None,
                       country: str = "MA", language: str = "fr") -> str:
        email = email or f"{secrets.token_hex(6)}@example.org"
        async with self.http.post(
            f"{self.url}/api/registrations",
            json={"name": name, "email": email, "country": country,
                  "language": language, "consent": True},
        ) as r:
            body = await r.json()
            assert r.status == 201, body
            token: str = body["token"]
            return token


def settings_for(data_dir: Path, **overrides: Any) -> Any:
    from server.config import Settings

    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "data_dir": data_dir,
        "organizer_token": secrets.token_urlsafe(24),
        "event_file": ROOT / "config" / "demo-event.toml",
        # Every test gets its own limits; the rate-limit tests lower them.
        "limits": {"registrations_per_minute": 1000, "requests_per_minute": 100_000},
        # Recording every live stage would start a mixer (a core) in every stage
        # test; the broadcast tests turn it on where they test it.
        "broadcast": {"record": False},
        # Live HLS would start the mixer too; the HLS tests turn it on.
        "hls": {"enabled": False},
    }
    base.update(overrides)
    return Settings(**base)


@contextlib.asynccontextmanager
async def app_server(data_dir: Path, **overrides: Any) -> AsyncIterator[Halqa]:
    """The real app, in this process, on a free port."""
    from server.app import create_app

    port = free_port()
    settings = settings_for(data_dir, port=port, **overrides)
    app = create_app(settings)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        async with aiohttp.ClientSession() as http:
            yield Halqa(f"http://127.0.0.1:{port}", settings.organizer_token.get_secret_value(),
                        http, dict(overrides), app)
    finally:
        await runner.cleanup()


class ServerProcess:
    """`halqa serve` as a real OS process (for multi-process and crash tests)."""

    def __init__(self, data_dir: Path, env: dict[str, str], args: tuple[str, ...] = ()) -> None:
        self.args = args  # e.g. ("--workers", "2")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "HALQA_DATA_DIR": str(data_dir),
                    "HALQA_EVENT_FILE": str(ROOT / "config" / "demo-event.toml"),
                    "HALQA_BROADCAST__RECORD": "false", "HALQA_HLS__ENABLED": "false", **env}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / f"server-{self.port}.log"

    async def start(self, timeout: float = 30) -> ServerProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1",
                 "--port", str(self.port), *self.args],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"halqa exited: {self.log.read_text()[-2000:]}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{self.url}/readyz") as r:
                        if r.status == 200:
                            return self
                await asyncio.sleep(0.1)
        self.stop()
        raise RuntimeError(f"halqa did not become ready: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: a crash, no clean-up runs."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 10) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
