"""Media settings: what the live stage may carry and how it protects itself.

halqa's `Settings` (server/config.py) embeds this as `settings.media` and hands
it to signaling in its `Host` (signaling/host.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from pydantic import BaseModel, Field, SecretStr


class IceServer(BaseModel):
    """One STUN/TURN server handed to clients (never used by the server itself)."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None


class MediaSettings(BaseModel):
    ice_servers: list[IceServer] = Field(default_factory=list)
    # Speakers live on one stage at once (a panel); the 7th is refused.
    max_publishers: int = Field(default=6, ge=1, le=12)
    # Admission caps per process, counted (bench/RESULTS.md, "1 vs 2
    # processes", `bench.cluster capacity --quota 0.85 --one`): a process held
    # to 85 % of a core (the rest is the publisher's leg's headroom: at ~98 %
    # its ICE consent expires and the stage collapses) served 310-320 viewers
    # at >= 95 % of packets; 270 keeps ~15 % below that count (the server read
    # 0.72-0.76 core there). A viewer past them is handed to another process
    # with room (signaling/relay.py), refused only when every process is full.
    # Per stage on this process: one stage may fill the process, the cluster has more.
    max_viewers: int = Field(default=270, ge=1)
    # Across every stage this process serves (same reason, one event loop).
    max_viewers_total: int = Field(default=270, ge=1)
    # Keyframe requests upstream are coalesced: at most one per interval per
    # track, a request inside it deferred to its end. Above 300: libwebrtc
    # publishers (browsers) ignore a PLI that reaches them within 300 ms of the
    # last one they honoured (kMinKeyframeSendIntervalMs), timed on arrival; a
    # deferred ask sent exactly 300 ms after the previous one was ignored
    # whenever the previous one had left a little late, and the new viewer
    # waited for the next retry (bench.join_latency --edge, 560 ms more).
    keyframe_min_interval_ms: int = Field(default=350, ge=50)
    # A viewer still waiting for a keyframe re-asks after this long.
    keyframe_retry_ms: int = Field(default=1000, ge=100)
    # Packets kept per track for NACK retransmission (power of two).
    packet_cache: int = Field(default=512, ge=64)
    # A peer connection that has not connected by then is closed (no leaks).
    connect_timeout_s: float = Field(default=15.0, gt=0)
    # A screen share that sent nothing for this long counts as stopped.
    screen_idle_s: float = Field(default=2.0, gt=0)
    # Offers (WHIP/WHEP) allowed per caller per 10 s; more is a flood.
    offers_per_10s: int = Field(default=20, ge=1)
    # Viewer resources one identity may hold at once, over every stage
    # together, pending (not yet connected) ones included (tabs, players).
    max_viewers_per_caller: int = Field(default=4, ge=1)
    # The same from one network address, whatever the identities: bounds what
    # one person with many free registrations can hold. A venue's Wi-Fi puts
    # many people behind one address; raise it for such events.
    max_viewers_per_address: int = Field(default=50, ge=1)
    # A viewer that has not connected this long after its offer is dropped
    # (browsers connect in ~1 s); it counts against the caps meanwhile.
    pending_timeout_s: float = Field(default=10.0, gt=0)

    # TURN with time-limited credentials (coturn's use-auth-secret, the "TURN
    # REST API"): each client gets a username "<expiry>:halqa" and its HMAC
    # under the shared secret, so no long-lived TURN password is handed out.
    turn_urls: list[str] = Field(default_factory=list)
    turn_secret: SecretStr | None = None
    turn_ttl_s: int = Field(default=6 * 3600, ge=60)

    def client_ice_servers(self, now: float | None = None) -> list[IceServer]:
        servers = list(self.ice_servers)
        if self.turn_urls and self.turn_secret is not None:
            expiry = int((time.time() if now is None else now) + self.turn_ttl_s)
            username = f"{expiry}:halqa"
            digest = hmac.new(self.turn_secret.get_secret_value().encode(),
                              username.encode(), hashlib.sha1).digest()
            servers.append(IceServer(urls=self.turn_urls, username=username,
                                     credential=base64.b64encode(digest).decode()))
        return servers

    def ice_servers_json(self) -> list[dict[str, Any]]:
        return [s.model_dump(exclude_none=True) for s in self.client_ice_servers()]

