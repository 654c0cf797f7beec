"""halqa installed from a wheel, as the Dockerfile does, serves the whole site.

The wheel is built from a copy of exactly what the Dockerfile copies into its
build stage, installed (not editable) into a fresh virtualenv, and started from
an empty folder: the pages, the modules, socket.io-client, the demo event and
the migrations must all come from the installed package.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.support import ROOT, free_port

SOCKET_IO = ROOT / "client" / "node_modules" / "socket.io-client" / "dist"
HLS_JS = ROOT / "client" / "node_modules" / "hls.js" / "dist"


def run(*cmd: str | Path, cwd: Path | None = None, timeout: float = 300) -> str:
    out = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                         timeout=timeout, check=False, env=_clean_env())
    assert out.returncode == 0, f"{cmd} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


def _clean_env() -> dict[str, str]:
    # Nothing may point back at the checkout or configure halqa from outside.
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("HALQA_", "PYTHON", "VIRTUAL_ENV"))}


def dockerfile_folders() -> list[str]:
    """The folders the Dockerfile's build stage copies as they are (`COPY x/ x/`)."""
    text = (ROOT / "Dockerfile").read_text()
    build = text.split(" AS build", 1)[1].split("\nFROM ", 1)[0]
    return re.findall(r"^COPY (\w+)/ \1/$", build, flags=re.M)


def docker_build_context(dest: Path) -> Path:
    """What the Dockerfile's build stage copies (node_modules from `npm ci`)."""
    if not (SOCKET_IO / "socket.io.esm.min.js").is_file():
        pytest.fail("client/node_modules is missing: run `npm ci` in client/ (scripts/test does)")
    ignore = shutil.ignore_patterns("__pycache__", "node_modules", "bundled")
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, dest / name)
    folders = dockerfile_folders()
    assert {"server", "signaling", "client"} <= set(folders), folders
    for folder in folders:
        shutil.copytree(ROOT / folder, dest / folder, ignore=ignore)
    (dest / "config").mkdir()
    shutil.copy(ROOT / "config" / "demo-event.toml", dest / "config")
    shutil.copytree(SOCKET_IO, dest / "client" / "node_modules" / "socket.io-client" / "dist")
    shutil.copytree(HLS_JS, dest / "client" / "node_modules" / "hls.js" / "dist")
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(the wheel, the fresh virtualenv's bin/) — built and installed once."""
    tmp = tmp_path_factory.mktemp("install")
    (tmp / "src").mkdir()
    src = docker_build_context(tmp / "src")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", tmp / "wheels", src)
    wheel = next((tmp / "wheels").glob("halqa-*.whl"))
    venv = tmp / "venv"
    run(sys.executable, "-m", "venv", venv)
    # Dependencies come from pip's cache (or its index): the same as `pip install` in the image.
    run(venv / "bin" / "pip", "install", "--quiet", wheel)
    yield wheel, venv / "bin"


def test_the_wheel_carries_the_site_and_nothing_of_the_build(installed: tuple[Path, Path]) -> None:
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    site = "server/bundled/"
    for page in ROOT.joinpath("client").glob("*.html"):
        assert f"{site}client/{page.name}" in names
    for module in ROOT.joinpath("client", "js").glob("*.js"):
        assert f"{site}client/js/{module.name}" in names
    assert f"{site}client/vendor/socket.io/socket.io.esm.min.js" in names
    assert f"{site}client/vendor/hls.js/hls.light.min.mjs" in names
    assert f"{site}config/demo-event.toml" in names
    assert "server/migrations/versions/0001_initial.py" in names
    # Small: no node_modules, no npm manifests, no tests.
    assert not [n for n in names if "node_modules" in n or n.endswith("package.json")
                or n.startswith("tests/")], sorted(names)


@contextlib.contextmanager
def serving(bin_dir: Path, cwd: Path, data: Path, token: str) -> Iterator[str]:
    port = free_port()
    env = {**_clean_env(), "HALQA_DATA_DIR": str(data), "HALQA_ORGANIZER_TOKEN": token}
    log = data.parent / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(bin_dir / "halqa"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


async def _ready(http: aiohttp.ClientSession, url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"{url}/readyz") as r:
                if r.status == 200:
                    return
        await asyncio.sleep(0.2)
    pytest.fail(f"the installed halqa did not become ready:\n{log.read_text()[-3000:]}")


async def test_installed_halqa_serves_the_site_and_the_demo_event_from_an_empty_folder(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    _, bin_dir = installed
    empty = tmp_path / "cwd"
    empty.mkdir()
    where = run(bin_dir / "python", "-c", "import server; print(server.__file__)", cwd=empty)
    assert Path(where.strip()).is_relative_to(bin_dir.parent), where

    with serving(bin_dir, empty, tmp_path / "data", secrets.token_urlsafe(24)) as url:
        async with aiohttp.ClientSession() as http:
            await _ready(http, url, tmp_path / "server.log")
            async with http.get(f"{url}/") as r:
                assert r.status == 200
                assert "<html" in (await r.text()).lower()
            for module in sorted(ROOT.joinpath("client", "js").glob("*.js")):
                async with http.get(f"{url}/js/{module.name}") as r:
                    assert r.status == 200, module.name
                    assert await r.read() == module.read_bytes(), module.name
            async with http.get(f"{url}/vendor/socket.io/socket.io.esm.min.js") as r:
                assert r.status == 200
                assert await r.read() == (SOCKET_IO / "socket.io.esm.min.js").read_bytes()
            async with http.get(f"{url}/vendor/hls.js/hls.light.min.mjs") as r:
                assert r.status == 200
                assert await r.read() == (HLS_JS / "hls.light.min.mjs").read_bytes()
            async with http.get(f"{url}/i18n/ar.js") as r:
                assert r.status == 200
            async with http.get(f"{url}/api/program") as r:
                program = await r.json()
                assert r.status == 200, program
            assert len(program["sessions"]) == 9
            session = program["sessions"][0]["id"]
            async with http.post(f"{url}/api/registrations", json={
                "name": "Installed", "email": "installed@example.org", "country": "MA",
                "language": "ar", "consent": True, "session": session,
            }) as r:
                body = await r.json()
                assert r.status == 201, body
            assert body["access_url"].endswith(f"&session={session}")
            async with http.get(f"{url}/session/{session}") as r:
                assert r.status == 200
    # The database went where it was told, not into the working directory.
    assert (tmp_path / "data" / "halqa.db").is_file()
    assert list(empty.iterdir()) == []
