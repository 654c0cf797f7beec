"""Settings: config/halqa.toml < HALQA_* environment < command-line flags.

Secrets (the organizer credential, the SMTP password) are refused in the TOML
file: they come only from the environment or from a file named there.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from broadcast.settings import BroadcastSettings
from server import assets
from signaling.settings import MediaSettings

DEFAULT_CONFIG = Path("config/halqa.toml")
# --config for the Settings being built now (not an environment variable: that
# would outlive the call and leak into every later Settings in the process).
_CONFIG_FILE: ContextVar[Path | None] = ContextVar("halqa_config_file", default=None)
SECRET_KEYS = {
    ("organizer_token",), ("smtp", "password"), ("media", "turn_secret"), ("cluster_secret",),
    ("hls", "secret"),
}


class SmtpSettings(BaseModel):
    host: str | None = None
    port: int = Field(587, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    sender: str = "halqa <noreply@localhost>"
    starttls: bool = True


class LimitSettings(BaseModel):
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    registrations_per_minute: int = Field(30, ge=1)
    requests_per_minute: int = Field(3000, ge=1)
    # Socket.IO (engine.io) handshakes per client address: they need no token,
    # so they are counted before any work. A venue's NAT reconnecting a room
    # after a restart stays well under it.
    handshakes_per_minute: int = Field(600, ge=1)


class PublicSettings(BaseModel):
    """Public answers served from memory (server/public_cache.py)."""

    # Each process rebuilds the program from the database at most this often
    # (0: on every request, no in-memory copy).
    refresh_s: float = Field(1.0, ge=0, le=60)
    # What nginx/a CDN and browsers may reuse without asking, and how long a
    # cache may keep serving a stale copy while it revalidates in the background.
    max_age_s: int = Field(2, ge=0, le=3600)
    stale_s: int = Field(30, ge=0, le=86400)


class Rendition(BaseModel):
    name: str = Field(pattern=r"^[a-z0-9]{1,16}$")
    width: int = Field(ge=16, le=3840)
    height: int = Field(ge=16, le=2160)
    video_kbps: int = Field(ge=50, le=20000)
    audio_kbps: int = Field(128, ge=16, le=512)


class HlsSettings(BaseModel):
    """Live HLS and replays (server/hls.py, docs/protocol.md "HLS")."""

    # Package live HLS (720p = the program's own encode, 360p scaled in the
    # mixer) whenever a session's program runs live.
    enabled: bool = True
    # Signs the playlist URLs (HMAC-SHA256). From HALQA_HLS__SECRET; unset,
    # generated once into <data_dir>/hls-secret (every process of a machine
    # shares it; several machines need the same value in the environment).
    secret: SecretStr | None = None
    # A URL handed out stays valid at least url_ttl_s; expiries are rounded up
    # to url_window_s so every viewer of one window gets the same URL prefix
    # (caches then share one copy of each segment).
    url_ttl_s: int = Field(6 * 3600, ge=60)
    url_window_s: int = Field(3600, ge=1)
    # Segments a live playlist lists (about 2 s each).
    live_window: int = Field(6, ge=3, le=60)
    segment_s: float = Field(2.0, ge=1.0, le=10.0)
    # Whether a session's replay is visible to participants until an organizer
    # hides it.
    replay_published: bool = True
    renditions: list[Rendition] = [
        # The program's size: this rendition is the program feed itself.
        Rendition(name="720p", width=1280, height=720, video_kbps=3000, audio_kbps=128),
        Rendition(name="360p", width=640, height=360, video_kbps=700, audio_kbps=96),
    ]


class InteractionSettings(BaseModel):
    """Chat, Q&A and presence limits (server/chat.py, server/question.py)."""

    chat_max_chars: int = Field(500, ge=1, le=4000)
    question_max_chars: int = Field(300, ge=1, le=4000)
    # Per identity (all tabs together): at most N messages per window seconds.
    chat_rate: int = Field(5, ge=1)
    chat_rate_window: float = Field(10.0, gt=0)
    question_rate: int = Field(3, ge=1)
    question_rate_window: float = Field(60.0, gt=0)
    vote_rate: int = Field(30, ge=1)
    vote_rate_window: float = Field(10.0, gt=0)
    history: int = Field(50, ge=0, le=500)
    max_slow_mode: int = Field(600, ge=1)
    # Chat fan-out (server/realtime/chat_fanout.py): "tick" coalesces a busy
    # room's messages per chat_tick seconds into one frame per socket; "emit"
    # is the old one-emit-per-message path, kept for benchmarks.
    chat_fanout: Literal["tick", "emit"] = "tick"
    chat_tick: float = Field(0.1, ge=0.01, le=1.0)
    chat_batch_max: int = Field(100, ge=1, le=1000)
    # Polls (server/poll.py): managing (create/open/reveal/close/delete) and
    # voting, per identity per window; results pushed at most once per poll_tick.
    poll_max_chars: int = Field(300, ge=1, le=4000)
    poll_option_chars: int = Field(100, ge=1, le=500)
    poll_rate: int = Field(30, ge=1)
    poll_rate_window: float = Field(60.0, gt=0)
    poll_vote_rate: int = Field(10, ge=1)
    poll_vote_rate_window: float = Field(10.0, gt=0)
    poll_tick: float = Field(0.25, ge=0.01, le=5.0)
    # Reactions (server/reaction.py): per identity per window; counts sent once
    # per reaction_tick per session, whatever the number of reactors.
    reaction_rate: int = Field(10, ge=1)
    reaction_rate_window: float = Field(5.0, gt=0)
    reaction_tick: float = Field(0.25, ge=0.05, le=5.0)
    # Any interaction event, per connection per second (server/realtime/common.py
    # `flooding`): the cheapest protection, checked before the per-identity rates.
    flood_events: int = Field(20, ge=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HALQA_", env_nested_delimiter="__", extra="forbid"
    )

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # The address people use to reach halqa (behind a reverse proxy it differs
    # from host:port); every link handed out is built on it.
    public_url: str | None = None
    # Trust X-Forwarded-For / X-Forwarded-Proto from the proxy in front.
    behind_proxy: bool = False
    data_dir: Path = Path("data")
    database_url: str | None = None
    redis_url: str | None = None
    # The program loaded into an empty database; the demo event shipped with
    # halqa unless set (found from the package, not the working directory).
    event_file: Path = Field(default_factory=assets.demo_event)
    organizer_token: SecretStr | None = None
    organizer_token_file: Path | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["console", "json"] = "console"
    # Several processes or machines (docs/operations.md, "Many processes"):
    # this node's id (default: random per start), the address other nodes
    # reach it on (default: a private listener on 127.0.0.1, enough on one
    # machine), and the secret every node shares (HALQA_CLUSTER_SECRET; by
    # default generated once into <data_dir>/cluster-secret).
    node_id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,40}$")
    internal_url: str | None = None
    cluster_secret: SecretStr | None = None
    # `halqa serve --workers N`: processes on one port (1: this one alone).
    workers: int = Field(1, ge=1, le=256)
    # Socket.IO heartbeat TTL for presence entries, seconds.
    presence_ttl: int = Field(30, ge=5, le=600)
    smtp: SmtpSettings = SmtpSettings()
    limits: LimitSettings = LimitSettings()
    media: MediaSettings = MediaSettings()
    interaction: InteractionSettings = InteractionSettings()
    public: PublicSettings = PublicSettings()
    broadcast: BroadcastSettings = BroadcastSettings()
    hls: HlsSettings = HlsSettings()

    @field_validator("public_url", "internal_url")
    @classmethod
    def _strip_slash(cls, v: str | None) -> str | None:
        return v.rstrip("/") if v else v

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url
        host = "localhost" if self.host in ("0.0.0.0", "127.0.0.1", "::") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @property
    def database(self) -> str:
        """The SQLAlchemy async URL (plain postgresql:// and sqlite:// accepted)."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'halqa.db'}"
        for plain, driver in (
            ("postgresql://", "postgresql+asyncpg://"),
            ("postgres://", "postgresql+asyncpg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if url.startswith(plain):
                return driver + url[len(plain) :]
        return url

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the file named by --config, else HALQA_CONFIG, else the default."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = _CONFIG_FILE.get() or os.environ.get("HALQA_CONFIG")
        self.path = Path(path) if path else DEFAULT_CONFIG
        self.required = bool(path)
        self.data = self._load()

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            if self.required:
                raise ConfigError(f"config file not found: {self.path}")
            return {}
        try:
            data = tomllib.loads(self.path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{self.path}: {exc}") from exc
        for keys in SECRET_KEYS:
            node: Any = data
            for k in keys:
                node = node.get(k) if isinstance(node, dict) else None
            if node is not None:
                name = ".".join(keys)
                env = "HALQA_" + "__".join(keys).upper()
                raise ConfigError(
                    f"{self.path}: '{name}' is a secret; set it in the environment ({env})"
                )
        return data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.data)


class ConfigError(Exception):
    """A configuration problem, worded for the person running halqa."""


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    token = _CONFIG_FILE.set(config)
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            lines.append(f"  {where}: {err['msg']}")
        raise ConfigError("invalid settings:\n" + "\n".join(lines)) from None
    finally:
        _CONFIG_FILE.reset(token)
