from pathlib import Path

import pytest

from server.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("HALQA_"):
            monkeypatch.delenv(key)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "halqa.toml"
    path.write_text(text)
    return path


def test_file_then_environment_then_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(tmp_path, 'port = 7001\nhost = "0.0.0.0"\nlog_level = "debug"\n')
    assert load_settings(cfg).port == 7001
    monkeypatch.setenv("HALQA_PORT", "7002")
    s = load_settings(cfg)
    assert (s.port, s.host, s.log_level) == (7002, "0.0.0.0", "debug")
    assert load_settings(cfg, port=7003).port == 7003


def test_nested_settings_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALQA_LIMITS__REGISTRATIONS_PER_MINUTE", "3")
    assert load_settings(write(tmp_path, "")).limits.registrations_per_minute == 3


@pytest.mark.parametrize(
    "text", ['organizer_token = "x"\n', '[smtp]\npassword = "x"\n']
)
def test_secrets_are_refused_in_the_file(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match="secret"):
        load_settings(write(tmp_path, text))


def test_invalid_values_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, 'port = "many"\nbogus = 1\n'))
    assert "port" in str(err.value)
    assert "bogus" in str(err.value)


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_database_urls_get_async_drivers(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, ""), data_dir=tmp_path)
    assert s.database == f"sqlite+aiosqlite:///{tmp_path}/halqa.db"
    s = load_settings(write(tmp_path, ""), database_url="postgresql://u@h/db")
    assert s.database == "postgresql+asyncpg://u@h/db"


def test_shipped_config_file_is_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    s = load_settings(root / "config" / "halqa.toml")
    assert s.port == 8080


def test_the_shipped_settings_file_states_the_defaults() -> None:
    """config/halqa.toml is read when halqa runs from the checkout, and it is
    the documentation operators edit: a value there that differs from the
    code's default silently changes what runs (the viewer caps said 300 there
    while the measured default was 230)."""
    import tomllib
    from typing import Any

    from pydantic import BaseModel, TypeAdapter

    from server.config import Settings

    shipped = Path(__file__).resolve().parents[2] / "config" / "halqa.toml"
    differs: list[str] = []

    def check(model: type[BaseModel], values: dict[str, Any], path: str) -> None:
        for key, value in values.items():
            field = model.model_fields[key]
            if isinstance(value, dict):
                assert isinstance(field.annotation, type)
                check(field.annotation, value, f"{path}{key}.")
                continue
            default = field.get_default(call_default_factory=True)
            if TypeAdapter(field.annotation).validate_python(value) != default:
                differs.append(f"{path}{key}: file {value!r}, default {default!r}")

    check(Settings, tomllib.loads(shipped.read_text()), "")
    assert not differs, differs
