"""Who this process is in a cluster, and how nodes prove it to each other.

Every halqa process is a *node*: an id, an internal address other nodes reach
it on (pulls, forwarded WHIP/WHEP signalling), and the cluster secret all nodes
share. Node-to-node requests carry an HMAC-SHA256 of what they ask
(method, path, time, a nonce, node, body digest) under that secret; the
secret itself never crosses the wire, and a captured request can neither be
turned into another one nor replayed: each node remembers the nonces it
accepted for `MAX_SKEW_S`, after which the time alone refuses it (a replayed
on-air pick or interpreter hand-over would otherwise undo a later one).

Resource ids name the node that holds the resource (`<node>.<random>`), so a
PATCH or DELETE on a WHIP/WHEP resource URL can land on any node: it is
forwarded to the one that holds it, without asking Redis.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

NODE_HEADER = "X-Halqa-Node"
TIME_HEADER = "X-Halqa-Time"
SIGNATURE_HEADER = "X-Halqa-Signature"
NONCE_HEADER = "X-Halqa-Nonce"
NONCE = re.compile(r"^[0-9a-f]{16,64}$")
# A forwarded request is never forwarded again: that is what makes proxy
# loops impossible, whatever the directory says at that moment.
FORWARDED_HEADER = "X-Halqa-Forwarded"
MAX_SKEW_S = 30.0
NODE_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class ClusterAuthError(Exception):
    """A node-to-node request whose signature is missing, forged or stale."""


@dataclass(frozen=True)
class ClusterConfig:
    node_id: str
    internal_url: str  # e.g. http://10.0.0.5:8081, no trailing slash
    secret: bytes
    # Where the stage directory lives (Redis URL); None: this node is alone.
    directory_url: str | None = None
    # Nonces accepted within MAX_SKEW_S -> when they may be forgotten (insertion
    # order is time order, so the oldest are pruned from the front).
    _seen: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not NODE_ID.match(self.node_id):
            raise ValueError(f"node id {self.node_id!r}: letters, digits, - and _ only (≤ 40)")
        if len(self.secret) < 16:
            raise ValueError("the cluster secret must be at least 16 bytes")

    @staticmethod
    def single(internal_url: str = "http://127.0.0.1:0") -> ClusterConfig:
        """A node alone: a fresh id and a secret nobody else knows."""
        return ClusterConfig(new_node_id(), internal_url, secrets.token_bytes(32))

    # -- signing ------------------------------------------------------------
    def _mac(self, method: str, path: str, when: str, nonce: str, node: str,
             body: bytes) -> str:
        digest = hashlib.sha256(body).hexdigest()
        msg = "\n".join((method.upper(), path, when, nonce, node, digest)).encode()
        return hmac.new(self.secret, msg, hashlib.sha256).hexdigest()

    def sign(self, method: str, path: str, body: bytes = b"") -> dict[str, str]:
        """Headers proving this node sent this request (path includes the query)."""
        when = f"{time.time():.3f}"
        nonce = secrets.token_hex(16)
        return {
            NODE_HEADER: self.node_id,
            TIME_HEADER: when,
            NONCE_HEADER: nonce,
            SIGNATURE_HEADER: self._mac(method, path, when, nonce, self.node_id, body),
        }

    def verify(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> str:
        """The sending node's id, or ClusterAuthError saying why not."""
        node = headers.get(NODE_HEADER, "")
        when = headers.get(TIME_HEADER, "")
        nonce = headers.get(NONCE_HEADER, "")
        given = headers.get(SIGNATURE_HEADER, "")
        if not node or not when or not given or not nonce:
            raise ClusterAuthError("missing cluster signature")
        if not NODE_ID.match(node):
            raise ClusterAuthError("malformed node id")
        if not NONCE.match(nonce):
            raise ClusterAuthError("malformed nonce")
        try:
            skew = abs(time.time() - float(when))
        except ValueError:
            raise ClusterAuthError("malformed time") from None
        if skew > MAX_SKEW_S:
            raise ClusterAuthError(f"request time is {skew:.0f} s off")
        if not hmac.compare_digest(self._mac(method, path, when, nonce, node, body), given):
            raise ClusterAuthError("bad cluster signature")
        self._remember(node + ":" + nonce)
        return node

    def _remember(self, key: str) -> None:
        """Accept a nonce once; ClusterAuthError if it was already used."""
        now = time.monotonic()
        seen = self._seen
        while seen:
            oldest = next(iter(seen))
            if seen[oldest] > now:
                break
            del seen[oldest]
        if key in seen:
            raise ClusterAuthError("replayed request")
        # Past 2 × skew the time check refuses it (the sender's clock may run ahead).
        seen[key] = now + 2 * MAX_SKEW_S

    # -- resource ids -------------------------------------------------------
    def new_resource_id(self) -> str:
        # Unguessable: the resource URL is not a capability, but it must not be enumerable.
        return f"{self.node_id}.{secrets.token_urlsafe(16)}"


def new_node_id() -> str:
    return secrets.token_hex(6)


def resource_node(resource_id: str) -> str | None:
    """The node a resource id names, or None for an id that names none."""
    node, dot, _ = resource_id.partition(".")
    return node if dot and NODE_ID.match(node) else None
