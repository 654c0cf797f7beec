"""The dashboard's broadcast panel in Chromium: add a destination, start, see
it fail and retry with its error, stop; the stream key never reaches the page."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, expect

from tests.broadcast_helpers import mine
from tests.e2e.conftest import PageErrors
from tests.support import app_server, free_port

KEY = "abcd-efgh-ijkl-mnop-SECRET"


async def test_broadcast_panel(tmp_path: Path, browser: Browser) -> None:
    async with app_server(tmp_path, broadcast={"retry_min_s": 0.5}) as halqa:
        page = await browser.new_page()
        errors = PageErrors(page)
        await page.goto(f"{halqa.url}/admin?lang=en#token={halqa.organizer_token}")
        panel = page.locator("#broadcast")
        await expect(panel.locator("#broadcast-state")).to_have_text("stopped")
        # Nothing listens there: the ingest refuses, as a wrong URL would.
        await panel.locator("#destination-name").fill("YouTube")
        await panel.locator("#destination-url").fill(f"rtmp://127.0.0.1:{free_port()}/live2")
        await panel.locator("#destination-key").fill(KEY)
        await panel.get_by_role("button", name="Add the destination").click()
        row = panel.locator("#destination-rows tr", has_text="YouTube")
        await expect(row).to_contain_text("****CRET")
        await expect(row).to_contain_text("stopped")

        await panel.get_by_role("button", name="Start broadcasting").click()
        await expect(panel.locator("#broadcast-state")).to_have_text("live to the destinations")
        await expect(row).to_contain_text("retrying", timeout=20_000)
        await expect(row.locator(".error")).to_contain_text("refused")

        await panel.get_by_role("button", name="Stop broadcasting").click()
        await expect(panel.locator("#broadcast-state")).to_have_text("stopped", timeout=15_000)
        assert KEY not in await page.content()
        assert mine() == []
        assert errors.errors == []
