"""Broadcast settings (`[broadcast]` in config/halqa.toml, HALQA_BROADCAST__*)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class BroadcastSettings(BaseModel):
    # The program picture every output gets, encoded once per session.
    width: int = Field(default=1280, ge=320, le=3840, multiple_of=4)
    height: int = Field(default=720, ge=180, le=2160, multiple_of=4)
    fps: int = Field(default=30, ge=10, le=60)
    video_kbps: int = Field(default=3000, ge=300, le=20000)
    audio_kbps: int = Field(default=128, ge=32, le=320)
    # A keyframe every gop_s seconds: YouTube asks for at most 4; an output that
    # (re)connects starts at the next one.
    gop_s: float = Field(default=2.0, ge=0.5, le=4.0)
    # libx264 preset: veryfast keeps one 720p30 program well within one core.
    preset: str = "veryfast"
    # A font with Latin and Arabic glyphs for name captions and the slate
    # (Debian: fonts-dejavu-core); unset = the first one found.
    font: str | None = None
    # The language of the slate's titles (the event's and the session's).
    language: str = Field(default="fr", pattern="^(fr|ar|en)$")
    # Record every session that goes live (organizers can switch it per session).
    record: bool = True
    # After the stage empties, how long an automatic broadcast or recording
    # waits before stopping (a speaker who reloads does not split the recording).
    stop_after_s: float = Field(default=10.0, ge=0)
    # An output that has not connected by then is restarted.
    connect_timeout_s: float = Field(default=15.0, gt=0)
    # Retries of a failed output: min, doubling up to max.
    retry_min_s: float = Field(default=1.0, gt=0)
    retry_max_s: float = Field(default=30.0, gt=0)
    # Destinations per session (event-wide ones included).
    max_destinations: int = Field(default=8, ge=1, le=32)
