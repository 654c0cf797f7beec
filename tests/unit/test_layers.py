"""The package seams: signaling/ is a leaf, and the CLI does not load the media stack."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT

SIGNALING = ROOT / "signaling"
MEDIA_STACK = ("aiortc", "av", "aioice", "pylibsrtp")


def _imported_names(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, statically or through importlib/__import__."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and getattr(node.func, "attr", getattr(node.func, "id", None))
              in ("import_module", "__import__")):
            found.append((node.lineno, node.args[0].value))
    return found


def test_no_module_under_signaling_imports_server() -> None:
    modules = sorted(SIGNALING.rglob("*.py"))
    assert len(modules) > 5, "signaling/ not found"
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in modules
        for line, name in _imported_names(path)
        if name == "server" or name.startswith("server.")
    ]
    assert offenders == [], "signaling/ must not import server/ (use signaling.host.Host):\n" + \
        "\n".join(offenders)


def test_the_import_check_sees_every_form_of_import(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import server.config\nfrom server import roles\n"
                     "def f():\n    from server.keys import SIO\n"
                     "import importlib\nimportlib.import_module('server.auth')\n")
    assert [n for _, n in _imported_names(probe)] == [
        "server.config", "server", "importlib", "server.keys", "server.auth"]


def _loaded_after(code: str) -> list[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def _top(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return sorted({m for m in modules if m.split(".")[0] in names})


def test_settings_and_the_cli_do_not_load_the_media_stack() -> None:
    for module in ("server.config", "server.cli"):
        loaded = _loaded_after(f"import {module}")
        assert module in loaded
        assert _top(loaded, MEDIA_STACK) == [], f"import {module} loads the media stack"


def test_every_signaling_module_loads_without_server() -> None:
    names = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in SIGNALING.rglob("*.py")
    )
    loaded = _loaded_after("\n".join(f"import {n}" for n in names))
    assert set(names) <= set(loaded)
    assert _top(loaded, ("server",)) == []
