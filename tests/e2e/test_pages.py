"""Every page in each language: no console error, no failed request, the right
direction, no serious or critical axe-core violation; screenshots at desktop
and phone width are written to test-artifacts/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.e2e.conftest import (
    CHROMIUM_FLAGS,
    FAKE_MEDIA,
    PageErrors,
    chromium_path,
    screenshot_path,
)
from tests.support import Halqa

AXE = Path(__file__).resolve().parents[2] / "client" / "node_modules" / "axe-core" / "axe.min.js"
LANGS = ("fr", "ar", "en")
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}


@pytest.fixture
async def media_browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=chromium_path(),
                                     args=CHROMIUM_FLAGS + FAKE_MEDIA)
        yield b
        await b.close()


async def axe_violations(page: Page) -> list[str]:
    if not AXE.exists():
        pytest.fail("axe-core is missing: run `npm ci` in client/ (scripts/test does)")
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map("
        "v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))})))"
    )
    return [f"{v['id']} ({v['impact']}): {v['nodes'][:3]}" for v in result
            if v["impact"] in ("serious", "critical")]


async def pages(h: Halqa) -> dict[str, tuple[str, str | None]]:
    """name → (path, token to hold)."""
    session = "panel-climate"
    return {
        "landing": ("/", None),
        "session-gate": (f"/session/{session}", None),
        "session": (f"/session/{session}", await h.register()),
        "studio": (f"/studio/{session}", await h.invite("speaker", session)),
        "moderate": (f"/moderate/{session}", await h.invite("moderator", session)),
        "admin": ("/admin", h.organizer_token),
    }


@pytest.mark.parametrize("lang", LANGS)
async def test_every_page_in_every_language(live_app: Halqa, media_browser: Browser,
                                            lang: str) -> None:
    problems: list[str] = []
    for name, (path, token) in (await pages(live_app)).items():
        for size, (w, hgt) in SIZES.items():
            # bypass_csp lets the test inject axe-core; the pages themselves
            # run under the real policy in every other test.
            context = await media_browser.new_context(viewport={"width": w, "height": hgt},
                                                      bypass_csp=size == "desktop")
            page = await context.new_page()
            errors = PageErrors(page)
            url = f"{live_app.url}{path}?lang={lang}"
            if token:
                url += f"#token={token}"
            await page.goto(url)
            await page.wait_for_load_state("networkidle")
            await page.wait_for_timeout(300)
            direction = await page.get_attribute("html", "dir")
            if direction != ("rtl" if lang == "ar" else "ltr"):
                problems.append(f"{name}/{lang}: dir={direction}")
            if await page.get_attribute("html", "lang") != lang:
                problems.append(f"{name}/{lang}: lang attribute")
            await page.screenshot(path=screenshot_path(f"{name}-{lang}-{size}"), full_page=True)
            if size == "desktop":
                problems += [f"{name}/{lang}: axe {v}" for v in await axe_violations(page)]
            problems += [f"{name}/{lang}/{size}: {e}" for e in errors.errors]
            await context.close()
    assert problems == [], "\n".join(problems)
