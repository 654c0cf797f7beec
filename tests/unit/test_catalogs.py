"""Every visible string comes from the fr/ar/en catalogs, and they agree."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[2] / "client"
LANGS = ("fr", "ar", "en")


def catalogs() -> dict[str, dict[str, str]]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to read the ES-module catalogs (scripts/test installs npm)")
    script = (
        "const out = {};"
        + "".join(f"out.{c} = (await import('{CLIENT}/i18n/{c}.js')).default;" for c in LANGS)
        + "console.log(JSON.stringify(out));"
    )
    done = subprocess.run([node, "--input-type=module", "-e", script],
                          capture_output=True, text=True, check=True)
    data: dict[str, dict[str, str]] = json.loads(done.stdout)
    return data


def used_keys() -> dict[str, set[str]]:
    """Keys named literally in pages (data-i18n*) and modules (t("…"))."""
    found: dict[str, set[str]] = {}
    for path in [*CLIENT.glob("*.html"), *CLIENT.glob("js/*.js")]:
        text = path.read_text(encoding="utf-8")
        keys = set(re.findall(r'data-i18n(?:-label|-placeholder)?="([^"]+)"', text))
        keys |= set(re.findall(r'\bt\(\s*"([a-z_]+\.[a-z0-9_.]+)"', text))
        # The interaction views' tr("key") (from interaction-ui.js) reads "ix.key".
        if "./interaction-ui.js" in text:
            keys |= {f"ix.{k}" for k in re.findall(r'\btr\(\s*"([a-z_.]+)"', text)}
        if keys:
            found[path.name] = keys
    return found


def test_the_three_catalogs_have_the_same_keys() -> None:
    cats = catalogs()
    for lang in LANGS:
        assert set(cats[lang]) == set(cats["en"]), (
            lang, sorted(set(cats["en"]) ^ set(cats[lang])))


def test_every_key_used_in_the_client_exists() -> None:
    cats = catalogs()
    missing = {f"{page}: {k}" for page, keys in used_keys().items()
               for k in keys if k not in cats["en"]}
    assert not missing, sorted(missing)


def test_placeholders_agree_across_languages() -> None:
    cats = catalogs()
    for key, text in cats["en"].items():
        want = set(re.findall(r"\{(\w+)\}", text))
        for lang in ("fr", "ar"):
            assert set(re.findall(r"\{(\w+)\}", cats[lang][key])) == want, (lang, key)
