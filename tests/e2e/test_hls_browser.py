"""Chromium: with the stage capped at one viewer, the first viewer plays WebRTC,
the second is switched to HLS in the same page (hls.js; its video advances)
and still chats; back to real time on request; the replay after the session.
The HLS is the real program mixer's (broadcast/hls.py)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CHROMIUM_FLAGS
from tests.hls_helpers import BROADCAST, HLS
from tests.stage_helpers import whip_publish
from tests.support import Halqa, app_server

pytestmark = pytest.mark.e2e
CHROMIUM = "/usr/bin/chromium"
FLAGS = [*CHROMIUM_FLAGS, "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture
async def capped(tmp_path: Path) -> AsyncIterator[Halqa]:
    # Two places on the stage: the program mixer (a WHEP viewer itself) and
    # one person; the next person gets 503 stage_full.
    async with app_server(tmp_path, media={"max_viewers": 2}, hls=HLS, broadcast=BROADCAST) as h:
        yield h


async def hls_ready(h: Halqa, sid: str, token: str, timeout: float = 40) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        async with h.http.get(f"{h.url}/api/sessions/{sid}/hls", headers=h.auth(token)) as r:
            if r.status == 200:
                return
        await asyncio.sleep(0.5)
    raise AssertionError("the session's HLS never became available")


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"SKIPPED LOUDLY: {CHROMIUM} missing (apt chromium); no browser test ran")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield b
        finally:
            await b.close()


async def open_page(browser: Any, base: str, session_id: str, token: str) -> Any:
    page = await (await browser.new_context()).new_page()
    page.on("console", lambda m: print("page:", m.text) if m.type == "error" else None)
    page.on("response", lambda r: print("page:", r.status, r.url) if r.status >= 400 else None)
    await page.goto(f"{base}/session/{session_id}?lang=en#token={token}")
    await page.wait_for_function("() => !!window.halqaPlayback", timeout=20000)
    return page


async def advancing(page: Any, timeout: float = 25.0) -> float:
    """Wait until the HLS video's currentTime moves forward; returns it."""
    await page.wait_for_function("() => halqaPlayback.video.currentTime > 0",
                                 timeout=timeout * 1000)
    first = await page.evaluate("() => halqaPlayback.video.currentTime")
    await page.wait_for_function(f"() => halqaPlayback.video.currentTime > {first} + 1",
                                 timeout=timeout * 1000)
    return float(await page.evaluate("() => halqaPlayback.video.currentTime"))


async def test_second_viewer_falls_back_to_hls_and_still_chats(
    capped: Halqa, chromium: Any, tmp_path: Path,
) -> None:
    h = capped
    sid = (await h.session_ids())[0]
    speaker = await whip_publish(h.http, h.url, sid, await h.invite("speaker", sid))
    try:
        first_token = await h.register(name="First")
        await hls_ready(h, sid, first_token)  # the mixer is on the stage, packaging
        first = await open_page(chromium, h.url, sid, first_token)
        await first.wait_for_function(
            "() => window.halqaPlayback?.mode === 'webrtc' && "
            "document.getElementById('stage').dataset.state === 'connected'", timeout=20000)
        second = await open_page(chromium, h.url, sid, await h.register(name="Second"))
        await second.wait_for_function("() => window.halqaPlayback?.mode === 'hls'", timeout=20000)
        assert await second.evaluate("() => document.querySelector('.hls-view').dataset.reason") \
            == "full"
        await advancing(second)
        assert await second.evaluate("() => halqaPlayback.player.engine") == "hls.js"
        note = await second.locator(".hls-note").text_content()
        assert note == "Live, a few seconds behind"
        assert await second.locator(".hls-retry").is_visible()
        # The first viewer still plays real time.
        assert await first.evaluate("() => halqaPlayback.mode") == "webrtc"

        # Chat works the same on HLS.
        chat = second.get_by_test_id("chat-input")
        await chat.fill("Salam from HLS")
        await chat.press("Enter")
        await first.get_by_test_id("chat-list").get_by_text("Salam from HLS").wait_for(
            timeout=10000)

        # Back to real time: the stage is still full, so it falls back again.
        assert await second.evaluate("() => halqaPlayback.history") == ["webrtc", "hls"]
        await second.click(".hls-retry")
        await second.wait_for_function("() => halqaPlayback.history.length === 4", timeout=20000)
        assert await second.evaluate("() => halqaPlayback.history") == [
            "webrtc", "hls", "webrtc", "hls"]
        await advancing(second)
        await first.close()
        await second.close()
    finally:
        await speaker.close(h.http, h.url)


async def test_replay_plays_after_the_session_with_its_answered_questions(
    tmp_path: Path, chromium: Any,
) -> None:
    import datetime as dt

    from server.keys import DB
    from server.models_interaction import Question
    from tests.hls_helpers import make_archive

    async with app_server(tmp_path) as h:
        assert h.app is not None
        sid = (await h.session_ids())[0]
        base = make_archive(tmp_path, sid, seconds=8)
        first = (base / "720p" / "index.m3u8").read_text()
        start = next(ln.split(":", 1)[1] for ln in first.splitlines()
                     if ln.startswith("#EXT-X-PROGRAM-DATE-TIME"))
        at = dt.datetime.fromisoformat(start) + dt.timedelta(seconds=5)
        async with h.app[DB].transaction() as s:
            s.add(Question(session_id=sid, author_key="p9", author_name="Nadia", text="Et après ?",
                           status="answered", answered_at=at.astimezone(dt.UTC)))
        # The public session answer is rebuilt at most once a second (the
        # program cache), and the page reads it once: open the page only once
        # it announces the replay (seen: a warm browser came within that
        # second, read `replay: false` and went to the stage).
        for _ in range(100):
            async with h.http.get(f"{h.url}/api/sessions/{sid}") as r:
                if (await r.json()).get("replay"):
                    break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the session never announced its replay")
        page = await open_page(chromium, h.url, sid, await h.register())
        await page.wait_for_function("() => window.halqaPlayback?.mode === 'replay'", timeout=20000)
        await advancing(page)
        jump = page.locator(".replay-jump")
        assert await jump.text_content() == "0:05"
        assert "Et après ?" in (await page.locator(".replay-questions").text_content() or "")
        await jump.click()
        await page.wait_for_function("() => halqaPlayback.video.currentTime >= 5", timeout=10000)

        # The organizer hides it: a participant's page now shows the stage instead.
        async with h.http.put(f"{h.url}/api/sessions/{sid}/replay", json={"published": False},
                              headers=h.auth()) as r:
            assert r.status == 200
        await page.reload()
        await page.wait_for_function("() => window.halqaPlayback?.mode === 'webrtc'", timeout=20000)
        assert await page.locator(".hls-view").is_hidden()
        await page.close()
