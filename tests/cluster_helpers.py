"""Several real `halqa serve` processes and a round-robin nginx in front of them."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.support import ServerProcess, free_port

NGINX_CONF = """
worker_processes 1;
pid {tmp}/nginx.pid;
events {{ worker_connections 512; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  upstream halqa {{
{servers}
  }}
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 256k;
    # In memory: nginx's workers may run as another user than the temp folders'.
    client_body_buffer_size 256k;
    proxy_buffering off;
    location / {{
      proxy_pass http://halqa;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_next_upstream error timeout;
      proxy_connect_timeout 1s;
      proxy_read_timeout 3600s;
    }}
  }}
}}
"""


@contextlib.contextmanager
def nginx_front(tmp: Path, ports: Sequence[int]) -> Iterator[str]:
    """Debian's nginx on a free port, round robin over `ports` (skipping dead ones)."""
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(exe).exists():
        raise RuntimeError("nginx is not installed; ./scripts/test installs it (apt nginx)")
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in ports)
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, servers=servers))
    proc = subprocess.Popen(
        [exe, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError):
                import socket

                with socket.create_connection(("127.0.0.1", port), 0.2):
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {(tmp / 'error.log').read_text()}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@dataclass
class Cluster:
    procs: list[ServerProcess]
    organizer: str
    http: aiohttp.ClientSession

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.organizer}"}

    async def view(self, proc: ServerProcess) -> dict[str, Any]:
        async with self.http.get(f"{proc.url}/api/cluster", headers=self.auth()) as r:
            assert r.status == 200, await r.text()
            data: dict[str, Any] = await r.json()
            return data

    async def node_of(self, proc: ServerProcess) -> str:
        return str((await self.view(proc))["node"])

    async def me(self, proc: ServerProcess) -> dict[str, Any]:
        view = await self.view(proc)
        return next(n for n in view["nodes"] if n["id"] == view["node"])


@contextlib.asynccontextmanager
async def cluster(tmp: Path, redis_url: str, n: int, **extra: str) -> AsyncIterator[Cluster]:
    """n `halqa serve` processes sharing a private Redis, one SQLite database, one secret."""
    org = secrets.token_urlsafe(24)
    env = {"HALQA_REDIS_URL": redis_url, "HALQA_ORGANIZER_TOKEN": org,
           "HALQA_DATABASE_URL": f"sqlite:///{tmp / 'shared.db'}",
           "HALQA_CLUSTER_SECRET": secrets.token_urlsafe(32), "HALQA_LOG_LEVEL": "info", **extra}
    procs = [ServerProcess(tmp / f"node{i}", env) for i in range(n)]
    try:
        # The first one migrates and loads the program. Patient: on a shared
        # machine three interpreters loading aiortc take a while.
        await procs[0].start(timeout=90)
        await asyncio.gather(*(p.start(timeout=90) for p in procs[1:]))
        async with aiohttp.ClientSession() as http:
            yield Cluster(procs, org, http)
    finally:
        for p in procs:
            p.stop()
