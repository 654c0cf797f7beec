"""Chat and moderated Q&A through the official socket.io-client in Debian's Chromium:
a participant's session page, the moderator console, and a Python participant."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.e2e.conftest import PageErrors, screenshot_path
from tests.interaction_helpers import clients
from tests.support import Halqa

XSS = '<img src=x onerror="window.__pwned=1">'


async def test_chat_and_moderated_qa_in_chromium(live_app: Halqa, browser: Browser) -> None:
    s1 = (await live_app.session_ids())[0]
    alice = await live_app.register("Alice")
    mod = await live_app.invite("moderator", s1)
    async with clients((live_app.url, await live_app.register("Bob <b>"))) as (bob,):
        await bob.join(s1)
        ctx_a = await browser.new_context()
        ctx_m = await browser.new_context(viewport={"width": 390, "height": 844})  # a phone
        page = await ctx_a.new_page()
        errors = PageErrors(page)
        await page.goto(f"{live_app.url}/session/{s1}#token={alice}")
        console = await ctx_m.new_page()
        console_errors = PageErrors(console)
        await console.goto(f"{live_app.url}/moderate/{s1}#token={mod}")
        try:
            # Chat: the page sends; the Python client receives; back the other way.
            chat_input = page.get_by_test_id("chat-input")
            await chat_input.fill("Salam from Chromium")
            await chat_input.press("Enter")
            got = await bob.wait_for("chat:message", lambda d: d["author"] == "Alice")
            assert got["text"] == "Salam from Chromium"
            assert (await bob.call("chat:send", {"session": s1, "text": XSS}))["ok"]
            chat = page.get_by_test_id("chat-list")
            await expect(chat).to_contain_text(XSS)  # shown as text…
            await expect(chat).to_contain_text("Bob <b>")
            assert await page.locator(".chat-list img").count() == 0  # …never as HTML
            assert await page.evaluate("window.__pwned") is None

            # Q&A: Alice asks anonymously; it waits for the moderator on the phone.
            await page.get_by_test_id("question-input").fill("Quelle est la suite ?")
            await page.get_by_test_id("question-anonymous").check()
            await page.get_by_role("button", name="Ask").or_(
                page.get_by_role("button", name="Poser")).or_(
                page.get_by_role("button", name="اسأل")).click()
            pending = console.get_by_test_id("pending-list")
            await expect(pending).to_contain_text("Quelle est la suite ?")
            await expect(pending).not_to_contain_text("Alice")  # anonymous to moderators too
            assert (await bob.join(s1))["questions"] == []
            await pending.locator("[data-action=approve]").first.click()
            q = await bob.wait_for("question:update", lambda d: d["status"] == "approved")
            assert q["author"] is None
            # Bob votes from Python; Alice sees it and votes in the page.
            assert (await bob.call("question:vote", {"question": q["id"]}))["ok"]
            item = page.locator(f'.question-list [data-id="{q["id"]}"]')
            await expect(item.locator(".question-votes")).to_have_attribute("data-votes", "1")
            await item.get_by_test_id("vote").click()
            await expect(item.locator(".question-votes")).to_have_attribute("data-votes", "2")
            await expect(item.get_by_test_id("vote")).to_have_attribute("aria-pressed", "true")
            # The moderator highlights it: the page shows it as "now answering".
            await console.get_by_role("tab").nth(1).click()
            await console.get_by_test_id("approved-list").locator(
                "[data-action=highlight]").first.click()
            await expect(page.get_by_test_id("question-now")).to_contain_text(
                "Quelle est la suite ?")
            # Viewers: Alice and Bob (the moderator is staff, not counted).
            await expect(page.get_by_test_id("viewer-count")).to_have_attribute("data-count", "2")
            # The moderator deletes Bob's message from the console's chat tab.
            await console.get_by_role("tab").nth(2).click()
            await console.get_by_test_id("mod-chat-list").locator(
                "li", has_text="onerror").locator("[data-action=delete]").click()
            await expect(chat).not_to_contain_text("onerror")
            await page.screenshot(path=screenshot_path("interaction-session"))
            await console.screenshot(path=screenshot_path("interaction-console-phone"))
            own = [e for e in errors.errors + console_errors.errors
                   if "pageerror" in e or "interaction" in e or "chat" in e or "question" in e
                   or "moderate" in e]
            assert own == [], own
        finally:
            await ctx_a.close()
            await ctx_m.close()
