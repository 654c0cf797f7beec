"""halqa restarted (SIGKILL, then SIGTERM) with a speaker live: the studio and
the watch page reconnect by themselves (Socket.IO and media), and the viewer
sees the speaker again within 5 s of the server being back. No reload.

Real process (`python -m server serve`, SQLite so nothing is lost), Debian's
Chromium: the speaker with a fake camera, the viewer on browser defaults.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.e2e.test_stage_browser import browsers, decoded, mid, open_studio, open_viewer
from tests.support import ServerProcess

pytestmark = pytest.mark.e2e
__all__ = ["browsers"]  # the fixture, imported for this module

RECOVER_S = 5.0


async def invite_and_register(url: str, org: str) -> tuple[str, str, str]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/api/program") as r:
            session = (await r.json())["sessions"][0]["id"]
        async with http.post(f"{url}/api/invites", json={"role": "speaker", "session": session},
                             headers={"Authorization": f"Bearer {org}"}) as r:
            speaker = (await r.json())["token"]
        async with http.post(f"{url}/api/registrations", json={
                "name": "Viewer", "email": f"{os.urandom(5).hex()}@example.org",
                "country": "MA", "language": "fr", "consent": True}) as r:
            viewer = (await r.json())["token"]
    return session, speaker, viewer


async def frames_rising(page: Any, timeout: float) -> float:
    """Seconds until the camera slot of position 0 decodes 5 new frames."""
    start = time.monotonic()
    first = (await decoded(page)).get(mid(0, "camera"), 0)
    trace: list[str] = []
    while time.monotonic() - start < timeout:
        await asyncio.sleep(0.1)
        now = (await decoded(page)).get(mid(0, "camera"), 0)
        state = await page.evaluate("document.querySelector('#stage').dataset.state")
        if not trace or not trace[-1].endswith(f"{state} {now}"):
            trace.append(f"{time.monotonic() - start:.1f}s {state} {now}")
        if now > first + 5 or now < first:  # a new peer connection counts from 0
            if now < first:
                first = now
                continue
            print("viewer:", " | ".join(trace[-12:]))
            return time.monotonic() - start
    raise AssertionError(f"the viewer did not decode again within {timeout} s: {trace}")


async def test_studio_and_watch_page_survive_server_restarts(
    tmp_path: Path, browsers: Any
) -> None:
    org = os.urandom(24).hex()
    server = ServerProcess(tmp_path, {"HALQA_ORGANIZER_TOKEN": org})
    await server.start()
    try:
        session, speaker, viewer = await invite_and_register(server.url, org)
        studio = await open_studio(browsers["speaker"], server.url, session, speaker)
        page = await open_viewer(browsers["viewer"], server.url, session, viewer)
        await frames_rising(page, 20)

        for how in ("SIGKILL", "SIGTERM"):
            if how == "SIGKILL":
                server.kill()
            else:
                server.stop()
            # Both pages say they are reconnecting (no reload, no click).
            await page.wait_for_function(
                "() => ['reconnecting', 'disconnected', 'failed']"
                ".includes(document.querySelector('#stage').dataset.state)", timeout=10000)
            await studio.wait_for_function(
                "() => ['reconnecting', 'disconnected', 'failed']"
                ".includes(document.body.dataset.state)", timeout=10000)
            await server.start()  # same port, same data folder
            back = time.monotonic()
            took = await frames_rising(page, RECOVER_S + 10)
            total = time.monotonic() - back
            print(f"\n{how}: viewer decoding the speaker again {total:.2f} s after the "
                  f"server was ready (frames rising within {took:.2f} s of checking)")
            await studio.wait_for_selector("body[data-state='connected']", timeout=5000)
            assert total <= RECOVER_S, f"{how}: {total:.1f} s > {RECOVER_S} s"
    finally:
        server.stop()
