"""The organizer credential: from the environment, a file, or generated once."""

from __future__ import annotations

import os
import secrets
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
        return _generated(settings.data_dir / GENERATED)
    if len(token) < 22:
        raise ConfigError("the organizer token must be at least 22 characters (128 bits)")
    return token


def _generated(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    log.warning(
        "organizer_token_generated",
        file=str(path),
        hint="no HALQA_ORGANIZER_TOKEN set; a token was generated and saved there",
    )
    return token
