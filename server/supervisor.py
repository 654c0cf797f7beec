"""`halqa serve --workers N`: N halqa processes on one port, one machine.

Each worker is a whole halqa node (its own event loop, its own UDP media
sockets) listening on the shared port with SO_REUSEPORT, so the kernel
spreads connections over them; the stage directory in Redis lets any worker
serve any request (signaling/node.py). The supervisor
  * prepares what must happen once: migrations, the demo program, the cluster
    secret in the data folder, and a private redis-server on a unix socket
    when no Redis URL is configured;
  * starts the workers, and starts again one that dies;
  * on SIGTERM/SIGINT passes SIGTERM on (each worker drains: hands its stages
    over, then exits) and waits for them.
"""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import structlog

from broadcast.lifeline import die_with_parent
from server.cluster import cluster_secret
from server.config import Settings

log = structlog.get_logger("halqa.supervisor")
STOP_TIMEOUT_S = 30.0


def run_workers(settings: Settings, workers: int, config: Path | None) -> int:
    env = dict(os.environ)
    env["HALQA_CLUSTER_SECRET"] = cluster_secret(settings)
    redis: subprocess.Popen[bytes] | None = None
    if not settings.redis_url:
        redis, url = _private_redis(settings.data_dir)
        if redis is None:
            print("halqa: --workers needs Redis: set redis_url (HALQA_REDIS_URL) or install "
                  "redis-server", file=sys.stderr)
            return 2
        env["HALQA_REDIS_URL"] = url
    try:
        asyncio.run(_prepare(settings))
        port = settings.port or _free_port(settings.host)
        argv = [sys.executable, "-m", "server"]
        if config is not None:
            argv += ["--config", str(config)]
        argv += ["serve", "--host", settings.host, "--port", str(port), "--workers", "1",
                 "--reuse-port"]
        return _supervise(argv, env, workers, settings, port)
    finally:
        if redis is not None:
            redis.terminate()
            redis.wait(10)


async def _prepare(settings: Settings) -> None:
    """Once, before the workers: they must not race to migrate or load the program."""
    from server.app import load_demo_if_empty
    from server.db import Database
    from server.secrets_store import organizer_token

    organizer_token(settings)  # generated here once, if it must be
    db = Database(settings.database)
    try:
        await db.migrate()
        await load_demo_if_empty(db, settings.event_file)
    finally:
        await db.close()


def _supervise(argv: list[str], env: dict[str, str], n: int, settings: Settings,
               port: int) -> int:
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def spawn(i: int) -> subprocess.Popen[bytes]:
        child_env = dict(env)
        if settings.internal_url:
            # Each worker needs its own internal address: the port plus its index.
            url = urlsplit(settings.internal_url)
            port = (url.port or 80) + i
            child_env["HALQA_INTERNAL_URL"] = f"{url.scheme}://{url.hostname}:{port}"
        return subprocess.Popen(  # noqa: S603  (our own interpreter)
            argv, env=child_env, preexec_fn=_lifeline())

    children = [spawn(i) for i in range(n)]
    base = settings.public_url or f"http://{_shown(settings.host)}:{port}"
    print(f"halqa is running: open {base}/ ({n} workers)", flush=True)
    while not stopping:
        time.sleep(0.5)
        for i, child in enumerate(children):
            code = child.poll()
            if code is not None and not stopping:
                log.warning("worker_exited", worker=i, code=code, action="restarting")
                time.sleep(1)
                children[i] = spawn(i)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return 0


def _lifeline() -> Callable[[], None]:
    """Workers and the private Redis die with the supervisor, even SIGKILLed:
    left running, the orphans kept the port (SO_REUSEPORT) beside a restarted
    halqa's workers, on their own old Redis, and took half its requests."""
    return functools.partial(die_with_parent, os.getpid())


def _private_redis(data_dir: Path) -> tuple[subprocess.Popen[bytes] | None, str]:
    exe = shutil.which("redis-server")
    if exe is None:
        return None, ""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = (data_dir / "redis.sock").resolve()
    path.unlink(missing_ok=True)
    proc = subprocess.Popen(  # noqa: S603  (redis-server found on PATH, fixed arguments)
        [exe, "--port", "0", "--unixsocket", str(path), "--unixsocketperm", "700",
         "--save", "", "--appendonly", "no", "--dir", str(data_dir.resolve())],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_lifeline(),
    )
    deadline = time.monotonic() + 10
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            return None, ""
        time.sleep(0.05)
    log.info("private_redis_started", socket=str(path))
    return proc, f"unix://{path}"


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _shown(host: str) -> str:
    return "localhost" if host in ("0.0.0.0", "127.0.0.1", "::") else host  # noqa: S104
