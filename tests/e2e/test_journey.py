"""The whole event in one story, every part real: a speaker goes live from the
studio with a fake camera; a newcomer registers on the landing page, lands on
the session and sees the video decode; chats; asks; the moderator (on a phone)
approves and highlights the question; the speaker sees it in the studio."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import aiohttp
from playwright.async_api import expect

from tests.e2e.conftest import DECODED_BY_MID, PEER_PROBE, PageErrors, screenshot_path
from tests.e2e.test_stage_browser import browsers, open_studio  # noqa: F401
from tests.support import Halqa, ServerProcess

SESSION = "panel-climate"


async def test_register_watch_chat_ask_highlight_speaker_sees_it(
    live_app: Halqa, browsers: dict  # noqa: F811
) -> None:
    await journey(live_app, browsers)


async def test_the_journey_through_two_workers_on_one_port(
    tmp_path: Path, browsers: dict  # noqa: F811
) -> None:
    """`halqa serve --workers 2`: one port, two processes (a private Redis, no
    settings); the kernel spreads the pages' connections over both."""
    org = secrets.token_urlsafe(24)
    proc = ServerProcess(tmp_path, {"HALQA_ORGANIZER_TOKEN": org}, ("--workers", "2"))
    await proc.start(timeout=90)
    try:
        async with aiohttp.ClientSession() as http:
            halqa = Halqa(proc.url, org, http)
            await journey(halqa, browsers)
            async with http.get(f"{proc.url}/api/cluster", headers=halqa.auth()) as r:
                nodes = (await r.json())["nodes"]
            assert len(nodes) == 2, nodes
    finally:
        proc.stop(timeout=40)  # SIGTERM: both workers drain, then the supervisor exits
    assert proc.proc is not None and proc.proc.returncode == 0, proc.log.read_text()[-2000:]


async def journey(live_app: Halqa, browsers: dict) -> None:  # noqa: F811
    speaker_token = await live_app.invite("speaker", SESSION)
    moderator_token = await live_app.invite("moderator", SESSION)
    studio = await open_studio(browsers["speaker"], live_app.url, SESSION, speaker_token)

    # A newcomer, on browser defaults (no media flags), in French.
    ctx = await browsers["viewer"].new_context()
    page = await ctx.new_page()
    await page.add_init_script(PEER_PROBE)
    errors = PageErrors(page)
    await page.goto(f"{live_app.url}/?lang=fr&session={SESSION}")
    await page.get_by_label("Nom complet", exact=True).fill("Meriem Ziani")
    await page.get_by_label("Courriel", exact=True).fill("meriem@example.org")
    await page.get_by_label("Pays", exact=True).select_option("DZ")
    await page.locator("#consent").check()
    await page.get_by_role("button", name="S'inscrire").click()
    await page.get_by_role("link", name="Aller à la session").click()
    await page.wait_for_url(f"**/session/{SESSION}")

    # The stage plays: video frames are decoded in this browser.
    await page.wait_for_function("() => window.__halqaPeers.length > 0", timeout=15000)
    frames = 0
    for _ in range(60):
        frames = max([0, *(await page.evaluate(DECODED_BY_MID)).values()])
        if frames > 10:
            break
        await asyncio.sleep(0.5)
    assert frames > 10, f"the viewer decoded {frames} frames"

    # Chat.
    await page.get_by_test_id("chat-input").fill("Bonjour à toutes et à tous")
    await page.get_by_test_id("chat-input").press("Enter")
    await expect(page.get_by_test_id("chat-list")).to_contain_text("Bonjour à toutes et à tous")

    # Ask; the session is pre-moderated, so the moderator approves and highlights it.
    await page.get_by_test_id("question-input").fill("Quels financements pour l'ombre urbaine ?")
    await page.get_by_role("button", name="Poser").click()
    phone = await browsers["viewer"].new_context(viewport={"width": 390, "height": 844})
    console = await phone.new_page()
    await console.goto(f"{live_app.url}/moderate/{SESSION}?lang=fr#token={moderator_token}")
    pending = console.get_by_test_id("pending-list")
    await expect(pending).to_contain_text("Quels financements")
    await pending.locator("[data-action=approve]").first.click()
    await console.get_by_role("tab").nth(1).click()
    await console.get_by_test_id("approved-list").locator("[data-action=highlight]").first.click()

    # Everyone sees the question being answered now, the speaker in the studio.
    await expect(page.get_by_test_id("question-now")).to_contain_text("Quels financements")
    await expect(studio.get_by_test_id("question-now")).to_contain_text("Quels financements")
    await page.screenshot(path=screenshot_path("journey-viewer"))
    await studio.screenshot(path=screenshot_path("journey-studio"))
    await console.screenshot(path=screenshot_path("journey-console-phone"))
    assert [e for e in errors.errors if "pageerror" in e] == []
