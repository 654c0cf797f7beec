"""This process's identity in a cluster: node id, internal address, shared secret."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import structlog

from server.config import ConfigError, Settings
from signaling.cluster import ClusterConfig, new_node_id

log = structlog.get_logger("halqa")
SECRET_FILE = "cluster-secret"  # noqa: S105  (a file name)


def cluster_secret(settings: Settings) -> str:
    """HALQA_CLUSTER_SECRET, else one generated once into the data folder.

    Processes sharing a data folder (`halqa serve --workers N`) share the
    generated one; machines must be given the same HALQA_CLUSTER_SECRET.
    """
    if settings.cluster_secret is not None:
        value = settings.cluster_secret.get_secret_value()
        if len(value) < 22:
            raise ConfigError("the cluster secret must be at least 22 characters (128 bits)")
        return value
    path = settings.data_dir / SECRET_FILE
    if not path.exists():
        _create(path)
    return path.read_text().strip()


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made it first: use theirs
        return
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(32) + "\n")
    log.info("cluster_secret_generated", file=str(path))


def cluster_config(settings: Settings, internal_url: str | None = None) -> ClusterConfig:
    url = internal_url or settings.internal_url or f"http://127.0.0.1:{settings.port}"
    return ClusterConfig(
        node_id=settings.node_id or new_node_id(),
        internal_url=url,
        secret=cluster_secret(settings).encode(),
        directory_url=settings.redis_url,
    )
