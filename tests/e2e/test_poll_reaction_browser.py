"""A poll and reactions in Debian's Chromium: the moderator prepares and opens a
poll on the console, a participant votes on the watch page and hears the
changes through the live region; reactions float over the video (a tally
instead when the user prefers reduced motion)."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.e2e.conftest import PageErrors, screenshot_path
from tests.interaction_helpers import clients
from tests.support import Halqa


async def test_poll_and_reactions_on_the_watch_page(live_app: Halqa, browser: Browser) -> None:
    s1 = (await live_app.session_ids())[0]
    alice, mod = await live_app.register("Alice"), await live_app.invite("moderator", s1)
    async with clients((live_app.url, await live_app.register("Bob"))) as (bob,):
        await bob.join(s1)
        ctx = await browser.new_context(locale="en-US")
        calm = await browser.new_context(locale="en-US", reduced_motion="reduce")
        ctx_m = await browser.new_context(viewport={"width": 390, "height": 844})
        page, still, console = await ctx.new_page(), await calm.new_page(), await ctx_m.new_page()
        errors = [PageErrors(p) for p in (page, still, console)]
        await page.goto(f"{live_app.url}/session/{s1}#token={alice}")
        await still.goto(f"{live_app.url}/session/{s1}#token={await live_app.register('Cal')}")
        await console.goto(f"{live_app.url}/moderate/{s1}#token={mod}")
        try:
            # Both watch pages are mounted and joined (Bob counts them) before anything.
            for p in (page, still):
                await expect(p.get_by_test_id("reaction-layer")).to_be_attached(timeout=30_000)
            await bob.wait_for("presence:count", lambda d: d["count"] == 3, timeout=30)
            # The moderator prepares a poll in the Polls tab and opens it.
            await console.get_by_test_id("tab-polls").click()
            await console.get_by_test_id("poll-question").fill("Next session format?")
            options = console.get_by_test_id("poll-option")
            await options.nth(0).fill("Talk")
            await options.nth(1).fill("Panel")
            await console.get_by_test_id("poll-create").click()
            admin = console.get_by_test_id("poll-admin-list")
            await expect(admin).to_contain_text("Next session format?")
            poll_panel = page.locator("#poll")
            await expect(poll_panel).to_be_hidden()  # a draft is not shown to participants
            await admin.get_by_test_id("poll-open").click()

            # The participant sees it, hears it announced, and votes.
            await expect(poll_panel).to_be_visible()
            await expect(page.get_by_test_id("poll-said")).to_contain_text("Next session format?")
            await page.get_by_test_id("poll-choice").nth(1).check()
            await page.get_by_test_id("poll-vote").click()
            await expect(page.get_by_test_id("poll-said")).to_contain_text("recorded")
            # Live results for the moderator; none for participants yet.
            await expect(admin.locator('[data-testid="poll-results"] li[data-count="1"]')
                         ).to_contain_text("Panel")
            await expect(poll_panel.get_by_test_id("poll-results")).to_have_count(0)
            await admin.get_by_test_id("poll-reveal").click()
            results = poll_panel.get_by_test_id("poll-results")
            await expect(results.locator('li[data-count="1"]')).to_contain_text("Panel")
            await expect(page.get_by_test_id("poll-said")).to_contain_text("Results shown")

            # Reactions: the page's button reaches a Python participant as a count…
            await page.get_by_test_id("react-clap").click()
            got = await bob.wait_for("reaction:counts", lambda d: d["counts"].get("clap") == 1)
            assert got["session"] == s1
            # …and Bob's reactions float over Alice's video.
            for _ in range(3):
                assert (await bob.call("reaction:send", {"session": s1, "reaction": "party"}))["ok"]
            layer = page.get_by_test_id("reaction-layer")
            await expect(layer).to_have_attribute("data-total", "4")
            assert await layer.locator(".reaction-float").count() >= 1
            # Reduced motion: the same counts arrive, nothing floats, a tally shows.
            calm_layer = still.get_by_test_id("reaction-layer")
            await expect(calm_layer).to_have_attribute("data-total", "4")
            assert await calm_layer.locator(".reaction-float").count() == 0
            await expect(still.get_by_test_id("reaction-tally")).to_contain_text("🎉")
            await page.screenshot(path=screenshot_path("poll-reaction-watch"))
            for e in errors:
                assert e.errors == [], e.errors
        finally:
            await ctx.close()
            await calm.close()
            await ctx_m.close()
