"""Node-to-node signatures: a forged, missing, stale or replayed one is refused."""

from __future__ import annotations

import time

import pytest

from signaling.cluster import (
    NODE_HEADER,
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIME_HEADER,
    ClusterAuthError,
    ClusterConfig,
    resource_node,
)

SECRET = b"s" * 32


def cfg(node: str = "a", secret: bytes = SECRET) -> ClusterConfig:
    return ClusterConfig(node, "http://127.0.0.1:1", secret)


def test_a_signed_request_verifies_and_names_its_node() -> None:
    headers = cfg("a").sign("POST", "/internal/pull/s1", b"offer")
    assert cfg("b").verify("POST", "/internal/pull/s1", headers, b"offer") == "a"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/internal/pull/s1", b"offer"), ("POST", "/internal/pull/s2", b"offer"),
     ("POST", "/internal/pull/s1", b"other")],
)
def test_a_signature_covers_method_path_and_body(method: str, path: str, body: bytes) -> None:
    headers = cfg().sign("POST", "/internal/pull/s1", b"offer")
    with pytest.raises(ClusterAuthError, match="bad cluster signature"):
        cfg().verify(method, path, headers, body)


def test_missing_forged_and_stale_signatures_are_refused() -> None:
    with pytest.raises(ClusterAuthError, match="missing"):
        cfg().verify("POST", "/x", {}, b"")
    forged = cfg(secret=b"x" * 32).sign("POST", "/x")
    with pytest.raises(ClusterAuthError, match="bad cluster signature"):
        cfg().verify("POST", "/x", forged, b"")
    stale = cfg().sign("POST", "/x")
    stale[TIME_HEADER] = f"{time.time() - 120:.3f}"
    with pytest.raises(ClusterAuthError):  # re-signing needs the secret
        cfg().verify("POST", "/x", stale, b"")
    other_node = {**cfg().sign("POST", "/x"), NODE_HEADER: "b"}
    with pytest.raises(ClusterAuthError, match="bad cluster signature"):
        cfg().verify("POST", "/x", other_node, b"")
    junk = {**cfg().sign("POST", "/x"), SIGNATURE_HEADER: "00"}
    with pytest.raises(ClusterAuthError):
        cfg().verify("POST", "/x", junk, b"")
    reused = {**cfg().sign("POST", "/x"), NONCE_HEADER: "0" * 32}  # re-signing needs the secret
    with pytest.raises(ClusterAuthError, match="bad cluster signature"):
        cfg().verify("POST", "/x", reused, b"")


def test_a_captured_request_cannot_be_replayed() -> None:
    """A moderator's on-air pick of A then B: replaying the A request within
    the allowed clock skew must not flip the stage back."""
    receiver = cfg("b")
    captured = cfg("a").sign("POST", "/internal/program/s1", b'{"publisher":"A"}')
    assert receiver.verify("POST", "/internal/program/s1", captured, b'{"publisher":"A"}') == "a"
    with pytest.raises(ClusterAuthError, match="replayed"):
        receiver.verify("POST", "/internal/program/s1", captured, b'{"publisher":"A"}')
    # The same request signed again (same path, body, even the same millisecond) is fresh.
    again = cfg("a").sign("POST", "/internal/program/s1", b'{"publisher":"A"}')
    assert receiver.verify("POST", "/internal/program/s1", again, b'{"publisher":"A"}') == "a"


def test_config_rejects_bad_ids_and_short_secrets() -> None:
    with pytest.raises(ValueError):
        ClusterConfig("a.b", "http://x", SECRET)  # '.' separates node and resource
    with pytest.raises(ValueError):
        ClusterConfig("a", "http://x", b"short")


def test_resource_ids_name_their_node() -> None:
    c = cfg("node-1")
    rid = c.new_resource_id()
    assert resource_node(rid) == "node-1" and len(rid) > 20
    assert resource_node("plainid") is None
    assert resource_node("../etc.x") is None
