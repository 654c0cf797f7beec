"""Debian's Chromium driven by Playwright (its own browser download is not possible here)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

# Test-only instrumentation, added to a page before its own scripts: it keeps
# every RTCPeerConnection the page makes, so tests read getStats() themselves
# and production code exposes nothing on window.
PEER_PROBE = """(() => {
  const Native = window.RTCPeerConnection;
  window.__halqaPeers = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...args) { super(...args); window.__halqaPeers.push(this); }
  };
})()"""
# {mid: framesDecoded} over the page's open peer connections' inbound video.
DECODED_BY_MID = """() => Promise.all((window.__halqaPeers || [])
    .filter((pc) => pc.connectionState !== 'closed').map((pc) => pc.getStats()))
  .then((reports) => {
    const out = {};
    for (const stats of reports) stats.forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') out[r.mid] = r.framesDecoded || 0;
    });
    return out;
  })"""

# Flags that work on these machines (Debian's Chromium, no GPU, no sandbox in
# containers). Fake media devices are added
# only for speakers: viewers run on browser defaults (mDNS candidates on).
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]
FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def chromium_path() -> str:
    path = os.environ.get("HALQA_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("Debian's chromium is not installed; scripts/test installs it (apt chromium)")
    return path


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            await b.close()


class PageErrors:
    """Console errors and failed requests seen by a page; a test asserts none."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("requestfailed", lambda req: self.errors.append(f"failed: {req.url}"))
        page.on("response",
                lambda r: r.status >= 400 and self.errors.append(f"{r.status}: {r.url}"))

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.errors.append(f"console: {msg.text}")


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"
