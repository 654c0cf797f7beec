"""A real nginx with proxy_cache in front of halqa, configured as docs/operations.md says.

The `http` block is taken from docs/operations.md ("HLS through a cache"), with
its upstream address and cache folder replaced: if the documented
configuration stops working, the test that uses this fails.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from tests.support import ROOT, free_port

DOC = ROOT / "docs" / "operations.md"
MARK = "# halqa-hls-cache"  # the first line of the documented block


def documented_config() -> str:
    text = DOC.read_text(encoding="utf-8")
    for block in re.findall(r"```nginx\n(.*?)```", text, re.S):
        if block.startswith(MARK):
            return str(block)
    raise AssertionError(f"{DOC} lost its nginx block starting with {MARK!r}")


@contextlib.contextmanager
def cache_proxy(folder: Path, upstream_port: int) -> Iterator[str]:
    """nginx on a free port, proxying to halqa at upstream_port; yields its URL."""
    if shutil.which("nginx") is None:
        raise RuntimeError("nginx is not installed; ./scripts/test installs it")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    http = (documented_config()
            .replace("127.0.0.1:8080", f"127.0.0.1:{upstream_port}")
            .replace("/var/cache/nginx/halqa", str(folder / "cache"))
            .replace("listen 80;", f"listen 127.0.0.1:{port};"))
    conf = f"""
daemon off;
master_process off;
user root;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
{http}
}}
"""
    (folder / "nginx.conf").write_text(conf)
    proc = subprocess.Popen(["nginx", "-p", str(folder), "-c", str(folder / "nginx.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                log = folder / "error.log"
                why = log.read_text() if log.exists() else ""
                raise RuntimeError(f"nginx did not start: {why}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
