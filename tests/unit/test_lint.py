"""The code stays ruff- and mypy-clean: CI fails the day it does not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


def test_ruff_finds_nothing() -> None:
    _run("ruff", "check", ".")


def test_mypy_strict_finds_nothing() -> None:
    _run("mypy")
