"""TURN credentials in coturn's use-auth-secret scheme, computed independently."""

import base64
import hashlib
import hmac
from pathlib import Path

import pytest

from server.config import ConfigError, load_settings
from signaling.settings import MediaSettings


def test_turn_credentials_expire_and_verify_with_the_shared_secret() -> None:
    media = MediaSettings(ice_servers=[{"urls": ["stun:stun.example.org"]}],
                          turn_urls=["turn:turn.example.org:3478"], turn_secret="s3cret",
                          turn_ttl_s=3600)
    stun, turn = media.client_ice_servers(now=1_000_000)
    assert stun.urls == ["stun:stun.example.org"] and stun.credential is None
    assert turn.username == "1003600:halqa"
    expected = base64.b64encode(hmac.new(b"s3cret", b"1003600:halqa", hashlib.sha1).digest())
    assert turn.credential == expected.decode()
    assert "s3cret" not in str(media.ice_servers_json())


def test_no_turn_entry_without_a_secret() -> None:
    assert MediaSettings(turn_urls=["turn:t.example.org"]).client_ice_servers() == []


def test_the_turn_secret_is_refused_in_the_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "halqa.toml"
    cfg.write_text('[media]\nturn_secret = "x"\n')
    with pytest.raises(ConfigError, match="HALQA_MEDIA__TURN_SECRET"):
        load_settings(cfg)
