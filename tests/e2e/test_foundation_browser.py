"""A newcomer in Chromium: the program, registration, the session page."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.e2e.conftest import PageErrors, screenshot_path
from tests.support import Halqa


async def test_register_from_the_landing_page_and_land_on_a_session(
    live_app: Halqa, browser: Browser
) -> None:
    page = await browser.new_page()
    errors = PageErrors(page)
    await page.goto(f"{live_app.url}/?lang=en")
    await expect(page.locator(".session")).to_have_count(9)
    await expect(page.locator(".day")).to_have_count(2)
    await expect(page.locator("html")).to_have_attribute("dir", "ltr")
    await page.screenshot(path=screenshot_path("landing-en"), full_page=True)

    await page.get_by_label("Full name", exact=True).fill("Lina Haddad")
    await page.get_by_label("Email", exact=True).fill("lina@example.org")
    await page.get_by_label("Country", exact=True).select_option("DZ")
    await page.get_by_label("Preferred language").select_option("fr")
    # Without consent the server refuses, and says which field.
    await page.get_by_role("button", name="Register").click()
    await expect(page.locator("#consent-error")).to_have_text("Your consent is needed to register.")
    await page.locator("#consent").check()
    await page.get_by_role("button", name="Register").click()
    link = page.locator("#access-url")
    await expect(link).to_be_visible()
    access_url = await link.input_value()
    assert "/join#token=" in access_url

    await page.get_by_role("link", name="Go to the session").click()
    await page.wait_for_url("**/session/*")
    await expect(page.locator("#room")).to_be_visible()
    await expect(page.locator("#session-name")).not_to_be_empty()
    await expect(page.locator("#connection")).to_have_text("Connected")
    await page.screenshot(path=screenshot_path("session-en"), full_page=True)
    unexpected = [e for e in errors.errors if "422" not in e]
    assert unexpected == [], unexpected


async def test_the_personal_link_works_in_a_fresh_browser_in_arabic(
    live_app: Halqa, browser: Browser
) -> None:
    token = await live_app.register(name="سلمى", language="ar")
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{live_app.url}/?lang=ar")
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await expect(page.locator(".session")).to_have_count(9)
    await page.goto(f"{live_app.url}/join#token={token}&session=panel-climate")
    await page.wait_for_url("**/session/panel-climate")
    # The token left the address bar and lives in storage.
    assert "token" not in page.url
    await expect(page.locator("#connection")).to_have_text("متصل")
    await page.screenshot(path=screenshot_path("session-ar"), full_page=True)


async def test_times_are_in_the_event_zone_and_the_viewers_own(
    live_app: Halqa, browser: Browser
) -> None:
    # Opening plenary: 09:00 in Casablanca (UTC+1 in December) = 03:00 in Montreal.
    context = await browser.new_context(timezone_id="America/Montreal", locale="fr-FR")
    page = await context.new_page()
    await page.goto(f"{live_app.url}/?lang=fr")
    opening = page.locator("#s-opening-plenary .time")
    await expect(opening).to_contain_text("09:00–10:30")
    await expect(opening).to_contain_text("03:00")


async def test_a_stranger_is_sent_to_register(live_app: Halqa, browser: Browser) -> None:
    page = await browser.new_page()
    await page.goto(f"{live_app.url}/session/opening-plenary?lang=fr")
    await expect(page.locator("#gate")).to_be_visible()
    await expect(page.locator("#room")).to_be_hidden()
