"""A real RTMP ingest for the broadcast tests: Debian's nginx with libnginx-mod-rtmp.

`Ingest` is one nginx (its own prefix, free ports, `master_process off` so it
is a single process we can kill and restart). Its RTMP application records
every publish to its own FLV file (`record_unique`): the number of files is
the number of times an output connected, and ffprobe reads what arrived.
With `tls=True` nginx's stream module terminates TLS in front of it (RTMPS),
with a certificate made for the test by openssl.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.support import free_port

MODULES = Path("/usr/lib/nginx/modules")


def nginx_available() -> str | None:
    """Why the ingest cannot run here, or None."""
    if shutil.which("nginx") is None:
        return "nginx is not installed (apt: nginx)"
    if not (MODULES / "ngx_rtmp_module.so").exists():
        return "libnginx-mod-rtmp is not installed"
    if not (MODULES / "ngx_stream_module.so").exists():
        return "libnginx-mod-stream is not installed"
    if shutil.which("ffprobe") is None or shutil.which("openssl") is None:
        return "ffprobe (apt: ffmpeg) or openssl is missing"
    return None


def make_cert(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


class Ingest:
    def __init__(self, folder: Path, app: str, tls: bool = False) -> None:
        self.folder, self.app, self.tls = folder, app, tls
        self.rtmp_port = free_port()
        self.tls_port = free_port() if tls else None
        self.records = folder / "records"
        self.records.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self._write_conf()

    @property
    def url(self) -> str:
        if self.tls:
            return f"rtmps://127.0.0.1:{self.tls_port}/{self.app}"
        return f"rtmp://127.0.0.1:{self.rtmp_port}/{self.app}"

    def _write_conf(self) -> None:
        stream = ""
        if self.tls:
            cert, key = make_cert(self.folder)
            stream = f"""
stream {{
    server {{
        listen 127.0.0.1:{self.tls_port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        proxy_pass 127.0.0.1:{self.rtmp_port};
    }}
}}"""
        conf = f"""
load_module {MODULES}/ngx_rtmp_module.so;
load_module {MODULES}/ngx_stream_module.so;
daemon off;
master_process off;
user root;
pid {self.folder}/nginx.pid;
error_log {self.folder}/error.log warn;
events {{ worker_connections 64; }}
rtmp {{
    server {{
        listen 127.0.0.1:{self.rtmp_port};
        application {self.app} {{
            live on;
            record all;
            record_path {self.records};
            record_unique on;
        }}
    }}
}}
{stream}
"""
        (self.folder / "nginx.conf").write_text(conf)

    def start(self) -> Ingest:
        self.proc = subprocess.Popen(
            ["nginx", "-p", str(self.folder), "-c", str(self.folder / "nginx.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        ports = [p for p in (self.rtmp_port, self.tls_port) if p]
        while ports:
            with contextlib.suppress(OSError), socket.create_connection(
                ("127.0.0.1", ports[0]), 0.2
            ):
                ports.pop(0)
                continue
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"nginx did not start: {self.error_log()}")
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None

    def error_log(self) -> str:
        path = self.folder / "error.log"
        return path.read_text()[-2000:] if path.exists() else ""

    def publishes(self, key: str) -> list[Path]:
        """The FLV files nginx recorded for stream `key`: one per publish.

        nginx names the stream by the key's path part (Facebook's keys carry a
        query string, which nginx-rtmp treats as arguments).
        """
        name = key.split("?", 1)[0]
        return sorted(p for p in self.records.glob("*.flv") if p.name.startswith(f"{name}-"))


def probe(path: Path | str) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=30,
    )
    data: dict[str, Any] = json.loads(out.stdout or "{}")
    return data


def video_audio(info: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    streams = info.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), {})
    audio = next((s for s in streams if s.get("codec_type") == "audio"), {})
    return video, audio
