"""The organizer credential: from the environment, a file, or generated once."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import structlog

from server.config import ConfigError, Settings

log = structlog.get_logger("halqa")
GENERATED = "organizer-token"


def organizer_token(settings: Settings) -> str:
    if settings.organizer_token is not None:
        token = settings.organizer_token.get_secret_value()
    elif settings.organizer_token_file is not None:
        try:
            token = settings.organizer_token_file.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"organizer_token_file: {exc.strerror}") from None
    else:
        return _generated(settings.data_dir / GENERATED, "organizer_token_generated",
                          "no HALQA_ORGANIZER_TOKEN set; a token was generated and saved there")
    if len(token) < 22:
        raise ConfigError("the organizer token must be at least 22 characters (128 bits)")
    return token


def _generated(path: Path, event: str, hint: str) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of this machine won the race
        time.sleep(0.1)
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    log.warning(event, file=str(path), hint=hint)
    return token


HLS_GENERATED = "hls-secret"


def hls_secret(settings: Settings) -> bytes:
    """The key that signs HLS URLs: HALQA_HLS__SECRET, else generated once."""
    if settings.hls.secret is not None:
        value = settings.hls.secret.get_secret_value()
        if len(value) < 22:
            raise ConfigError("hls.secret must be at least 22 characters (128 bits)")
        return value.encode()
    return _generated(settings.data_dir / HLS_GENERATED, "hls_secret_generated",
                      "no HALQA_HLS__SECRET set; a key was generated and saved there "
                      "(set the same value on every machine)").encode()
