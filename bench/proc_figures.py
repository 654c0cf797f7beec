"""A process's memory and descriptors from /proc (Linux), for the soak.

Descriptors are split by kind: UDP sockets are media (ICE candidates), TCP
sockets by the port at the far end, so a leaked client connection or a
half-closed one (CLOSE_WAIT) tells itself apart from a pool that grew.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def _inodes(pid: int, table: str) -> set[str]:
    inodes = set()
    for name in (table, table + "6"):
        with open(f"/proc/{pid}/net/{name}") as f:
            next(f)
            inodes.update(line.split()[9] for line in f)
    return inodes


def tcp_peers(pid: int) -> dict[str, int]:
    """The process's TCP sockets by the port they talk to (the far end's
    listening port, or "client" for an ephemeral one) and state."""
    socks = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            socks.add(link[8:-1])
    states = {"01": "established", "08": "close_wait", "0A": "listen"}
    out: dict[str, int] = {}
    for name in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{name}") as f:
            next(f)
            for line in f:
                cols = line.split()
                if cols[9] not in socks:
                    continue
                local, remote = (int(c.rsplit(":", 1)[1], 16) for c in cols[1:3])
                state = states.get(cols[3], cols[3])
                peer = "listen" if state == "listen" else (
                    "client" if remote > 32767 and local < 32768 else str(remote))
                key = f"{peer} {state}"
                out[key] = out.get(key, 0) + 1
    return out


def proc_figures(pid: int) -> dict[str, float]:
    """RSS, open descriptors, and of those the UDP (media) and TCP sockets."""
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    links = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):  # closed meanwhile
            links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
    socks = {link[8:-1] for link in links if link.startswith("socket:[")}
    return {"rss_mib": round(rss, 1), "fds": len(links),
            "udp": len(socks & _inodes(pid, "udp")), "tcp": len(socks & _inodes(pid, "tcp"))}
