"""Real Chromium: a speaker with a fake camera, viewers on browser defaults.

Pass criteria are behavioural: each viewer's inbound video `framesDecoded`
rises. Viewers run without any media flags, so their ICE candidates are mDNS
names and the server reaches them peer-reflexively, as with real viewers.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.e2e.conftest import CHROMIUM_FLAGS, DECODED_BY_MID, FAKE_MEDIA, PEER_PROBE
from tests.stage_helpers import find_registry, wait_for

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
BASE_FLAGS = [*CHROMIUM_FLAGS, "--autoplay-policy=no-user-gesture-required"]
SPEAKER_FLAGS = [*BASE_FLAGS, *FAKE_MEDIA]


def _need_chromium() -> None:
    if not os.path.exists(CHROMIUM):
        pytest.skip(
            f"SKIPPED LOUDLY: {CHROMIUM} missing (apt package chromium); no browser test ran"
        )
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.skip("SKIPPED LOUDLY: playwright (python) not installed; no browser test ran")


@pytest.fixture
async def browsers() -> AsyncIterator[dict[str, Any]]:
    _need_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        speaker = await pw.chromium.launch(executable_path=CHROMIUM, args=SPEAKER_FLAGS)
        viewer = await pw.chromium.launch(executable_path=CHROMIUM, args=BASE_FLAGS)
        try:
            yield {"speaker": speaker, "viewer": viewer}
        finally:
            await speaker.close()
            await viewer.close()


# A synthetic screen for the studio's "share" (getDisplayMedia needs a picker).
FAKE_SCREEN = """() => {
  window.halqaScreenSource = () => {
    const c = document.createElement('canvas'); c.width = 640; c.height = 360;
    const g = c.getContext('2d'); let n = 0;
    setInterval(() => { g.fillStyle = `hsl(${(n += 7) % 360},80%,50%)`; g.fillRect(0, 0, 640, 360);
      g.fillStyle = '#fff'; g.fillText('screen ' + n, 20, 40); }, 66);
    return c.captureStream(15);
  };
}"""

async def decoded(page: Any) -> dict[str, int]:
    return dict(await page.evaluate(DECODED_BY_MID))


async def wait_rising(page: Any, mids: list[str], what: str, timeout: float = 20.0) -> None:
    """Wait until framesDecoded rose on every given slot (by mid)."""
    first = await decoded(page)
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.3)
        now = await decoded(page)
        if all(now.get(m, 0) > first.get(m, 0) + 5 for m in mids):
            return
    raise AssertionError(
        f"{what}: framesDecoded did not rise on {mids}: {first} -> {await decoded(page)}"
    )


def mid(position: int, label: str) -> str:
    # The client adds transceivers in order (audio, camera, screen) per position,
    # and Chromium numbers mids 0, 1, 2... in that order.
    return str(position * 3 + ["audio", "camera", "screen"].index(label))


async def open_studio(browser: Any, base: str, session_id: str, token: str) -> Any:
    ctx = await browser.new_context()
    page = await ctx.new_page()
    await page.add_init_script(f"({FAKE_SCREEN})()")
    await page.goto(f"{base}/studio/{session_id}#token={token}")
    await page.wait_for_selector("body[data-ready='1']", timeout=15000)
    await page.click("#golive")
    await page.wait_for_selector("body[data-state='connected']", timeout=15000)
    return page


async def open_viewer(browser: Any, base: str, session_id: str, token: str) -> Any:
    ctx = await browser.new_context()
    page = await ctx.new_page()
    page.on("console", lambda m: print("viewer console:", m.text) if m.type == "error" else None)
    await page.add_init_script(PEER_PROBE)
    await page.goto(f"{base}/session/{session_id}#token={token}")
    await page.wait_for_function("() => window.__halqaPeers.length > 0", timeout=15000)
    return page


async def test_speaker_to_two_viewers_panel_screen_and_reload(live_app: Any, browsers: Any) -> None:
    halqa = live_app
    session_id = (await halqa.session_ids())[0]
    spk_a = await halqa.invite("speaker", session_id)
    spk_b = await halqa.invite("speaker", session_id)
    viewers = [await halqa.register(name=f"Viewer {i}") for i in range(2)]

    studio_a = await open_studio(browsers["speaker"], halqa.url, session_id, spk_a)
    pages = [await open_viewer(browsers["viewer"], halqa.url, session_id, t) for t in viewers]
    for page in pages:
        await wait_rising(page, [mid(0, "camera")], "speaker A camera")

    # The studio shows how many people are watching (from stage:update).
    await studio_a.wait_for_function(
        "() => document.getElementById('watchers').dataset.count === '2'", timeout=15000
    )

    # Screen share: arrives as the position's screen slot, shown large.
    await studio_a.click("#share")
    for page in pages:
        await wait_rising(page, [mid(0, "screen")], "speaker A screen share")
        await page.wait_for_selector(".stage-grid.layout-screen", timeout=10000)

    # Panel: a second speaker goes live; both viewers get both.
    studio_b = await open_studio(browsers["speaker"], halqa.url, session_id, spk_b)
    for page in pages:
        await wait_rising(page, [mid(0, "camera"), mid(1, "camera")], "panel of two")
        names = await page.locator(".stage-name").all_text_contents()
        assert len([n for n in names if n]) >= 2

    # Speaker B reloads the studio: viewers resume on their own.
    await studio_b.reload()
    await studio_b.wait_for_selector("body[data-ready='1']", timeout=15000)
    await studio_b.click("#golive")
    await studio_b.wait_for_selector("body[data-state='connected']", timeout=15000)
    for page in pages:
        await wait_rising(page, [mid(1, "camera")], "resume after speaker reload")

    # Viewers leave: the server holds nothing for them.
    reg = find_registry(live_app)
    assert reg.counts()["viewers"] == 2
    started = asyncio.get_running_loop().time()
    for page in pages:
        await page.close(run_before_unload=True)
    await wait_for(lambda: reg.counts()["viewers"] == 0, timeout=45, what="viewers released")
    print(f"viewers released {asyncio.get_running_loop().time() - started:.1f} s after closing")
    assert all(
        not t.active and not t.waiting
        for st in reg.stages.values()
        for p in st.publishers.values()
        for t in p.tracks.values()
    )
