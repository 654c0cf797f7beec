"""What signaling needs from the application that hosts it, and nothing more.

signaling/ imports nothing from server/: the app builds a `Host` and passes it
to `signaling.setup(app, host)`. Like Galène's `conn` interface, this is the
whole seam:

  * `media`          the media settings (MediaSettings),
  * `resolve_token`  a bearer token -> the `Caller` it stands for, or None,
  * `sio`            the app's Socket.IO server, seen through `Sockets`
                     (None: no `stage:*` events, e.g. a bare media server),
  * `admit`          asked before any resource is made (session in the
                     program, caller not banned); None admits everyone,
  * `address_of`     a request's client address, for per-address caps,
  * `languages`      the event's interpretation languages (an edge pulls
                     each one's channel; signaling/edge.py).

The server fills it in server/stages.py (`media_host`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from signaling.cluster import ClusterConfig
from signaling.settings import MediaSettings

EVERY_SESSION = "*"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who makes a media request, as signaling sees them.

    `publish_to` and `moderate` are session ids, or EVERY_SESSION. Any caller
    the host resolves may watch any session (registration is for the event).
    """

    key: str  # a stable identity across tabs and reloads: it owns its resources
    name: str  # shown on the stage
    role: str  # for the record (speaker, moderator, organizer, participant)
    publish_to: frozenset[str] = frozenset()
    moderate: frozenset[str] = frozenset()
    # A person, not a venue: a new publish replaces their previous one (a
    # studio reload) instead of taking a second position.
    one_seat: bool = False
    # No per-caller cap on viewer resources (organizers checking many players).
    unlimited_viewers: bool = False
    # The process's own connection (the broadcast mixer, one per program):
    # never refused for room, never handed to another process (where its
    # credential means nothing).
    own_process: bool = False
    # An interpreter: (session id, language) of the one channel they may feed
    # (signaling/interpretation.py); they publish audio only, never as a speaker.
    interprets: tuple[str, str] | None = None

    def can_publish(self, session_id: str) -> bool:
        return session_id in self.publish_to or EVERY_SESSION in self.publish_to

    def can_moderate(self, session_id: str) -> bool:
        return session_id in self.moderate or EVERY_SESSION in self.moderate

    def interpreter_language(self, session_id: str) -> str | None:
        """The language this caller interprets into on this session, if any."""
        if self.interprets is not None and self.interprets[0] == session_id:
            return self.interprets[1]
        return None


TokenResolver = Callable[[str], Awaitable[Caller | None]]
# Asked before any media resource is made: (caller, session id, "watch" or
# "publish"). Raise a signaling.errors.Failure to refuse (NotFound: the
# session is not in the program; Forbidden "banned"); return to admit.
Admit = Callable[[Caller, str, str], Awaitable[None]]
# The client's network address for a request (the host knows its proxies).
AddressOf = Callable[[Any], str]
M = TypeVar("M", bound=BaseModel)
Ack = dict[str, Any]
EventHandler = Callable[[str, Caller, M], Awaitable[Ack]]


class Sockets(Protocol):
    """The part of the app's Socket.IO server signaling uses.

    `on` registers an event through the app's shared handler, which rate-limits,
    validates the payload with `model`, resolves the connection's Caller, and
    turns a raised `signaling.errors.Failure` into an error acknowledgement.
    """

    def on(self, event: str, model: type[M], handler: EventHandler[M]) -> None: ...

    async def enter(self, sid: str, session_id: str) -> None:
        """Make the connection follow a session's broadcasts."""

    async def broadcast(self, event: str, data: dict[str, Any], session_id: str) -> None:
        """Send to every connection following the session, in every process."""


@dataclass(frozen=True)
class Host:
    media: MediaSettings
    resolve_token: TokenResolver
    sio: Sockets | None = None
    # This process's identity among several (None: a node alone).
    cluster: ClusterConfig | None = None
    admit: Admit | None = None
    address_of: AddressOf | None = None
    languages: tuple[str, ...] = ()
