"""Fault injection for the fault suite: a Redis and a PostgreSQL that tests may
stop and start again, on ports of their own (never the machine's shared ones).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support import free_port


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"{what} did not start on port {port}")
        time.sleep(0.05)


class RedisProcess:
    """A private redis-server that can be killed and brought back on the same port."""

    def __init__(self, tmp: Path) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed; ./scripts/test installs it")
        self.exe, self.tmp, self.port = exe, tmp, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisProcess:
        self.proc = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.tmp), "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port, self.proc, "redis-server")
        return self

    def kill(self) -> None:
        """SIGKILL: Redis vanishes with everything it held (no persistence)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def pg_bin() -> Path | None:
    """Debian's PostgreSQL binaries (the newest installed version)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return Path(found[-1]).parent if found else None


class PgCluster:
    """A throw-away PostgreSQL cluster (initdb + pg_ctl) on a free port.

    Stopping and starting it is a PostgreSQL restart that touches nothing
    else on the machine. As root, the server runs as the `postgres` user
    (PostgreSQL refuses to run as root).
    """

    def __init__(self) -> None:
        bindir = pg_bin()
        if bindir is None:
            raise FileNotFoundError("no /usr/lib/postgresql/*/bin/pg_ctl")
        self.bin = bindir
        # Its own folder under /tmp: pytest's tmp_path is private to root,
        # and the server runs as `postgres` when the tests run as root.
        tmp = Path(tempfile.mkdtemp(prefix="halqa-pg-"))
        self.root = tmp
        self.dir = tmp / "pgdata"
        self.sock = tmp / "pgsock"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]
        self.log = tmp / "postgres.log"

    def _run(self, *args: str, timeout: float = 60) -> None:
        subprocess.run([*self._as, *args], check=True, timeout=timeout,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def init(self) -> PgCluster:
        for d in (self.dir, self.sock):
            d.mkdir(parents=True, exist_ok=True)
        self.log.touch()
        if self._as:
            shutil.chown(self.root, "postgres")
            for p in (self.dir, self.sock, self.log):
                shutil.chown(p, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.dir), "-U", "postgres", "-A", "trust",
                  "--no-sync", "-E", "UTF8")
        return self

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir), "-l", str(self.log), "-w",
                  "-o", f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 "
                        "-c fsync=off -c full_page_writes=off", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir), "-m", mode, "-w", "stop")


@contextlib.contextmanager
def pg_cluster() -> Iterator[PgCluster]:
    cluster = PgCluster().init()
    try:
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            cluster.stop("immediate")
        shutil.rmtree(cluster.root, ignore_errors=True)
