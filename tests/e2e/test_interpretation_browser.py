"""Real Chromium on the watch page: floor -> Arabic -> floor on one peer connection.

An aiortc speaker sends 440 Hz with a camera, an aiortc Arabic interpreter
1 kHz. The page's own Web Audio analyser says what the viewer hears; getStats
says the video never stopped; a wrapped RTCPeerConnection constructor says no
second connection was made.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.e2e.conftest import PEER_PROBE
from tests.e2e.test_stage_browser import browsers, decoded  # noqa: F401 (fixture)
from tests.interpretation_helpers import publish_tone

pytestmark = pytest.mark.e2e

COUNT_PCS = """() => {
  const Original = window.RTCPeerConnection;
  window.halqaPcs = 0;
  window.RTCPeerConnection = function (...args) {
    window.halqaPcs += 1;
    return new Original(...args);
  };
  window.RTCPeerConnection.prototype = Original.prototype;
}"""


async def hearing(page: Any, want: float, what: str, timeout: float = 15.0) -> None:
    seen: list[float] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        f = float(await page.evaluate(
            "() => window.halqaMix ? window.halqaMix.dominantFrequency() : 0"))
        seen.append(round(f))
        if abs(f - want) < 25:
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"{what}: the page heard {seen[-8:]} Hz, wanted {want}")


async def test_viewer_switches_language_without_a_new_peer_connection(
    live_app: Any, browsers: dict[str, Any]  # noqa: F811
) -> None:
    halqa = live_app
    session_id = (await halqa.session_ids())[0]
    speaker = await halqa.invite("speaker", session_id)
    async with halqa.http.post(f"{halqa.url}/api/invites", headers=halqa.auth(), json={
            "role": "interpreter", "session": session_id, "language": "ar"}) as r:
        interpreter = (await r.json())["token"]
    viewer = await halqa.register(language="fr")
    floor = await publish_tone(halqa.http, halqa.url, session_id, speaker, 440, video=True)
    ar = await publish_tone(halqa.http, halqa.url, session_id, interpreter, 1000)

    page = await browsers["viewer"].new_page()
    await page.add_init_script(PEER_PROBE)
    await page.add_init_script(f"({COUNT_PCS})()")
    await page.goto(f"{halqa.url}/session/{session_id}?lang=en#token={viewer}")
    await page.wait_for_function("() => window.__halqaPeers.length > 0")
    await page.click(".stage-unmute")  # a user gesture starts the page's audio
    # The ar channel is on air: offered in the picker; the viewer registered
    # in French (no channel) so the page starts on the floor.
    await page.wait_for_selector("#listen-language option[value=ar]", state="attached")
    assert await page.input_value("#listen-language") == "floor"
    await hearing(page, 440, "the floor at first")

    async def video_frames() -> int:
        return sum((await decoded(page)).values())

    async def interpretation_packets() -> int:
        return int(await page.evaluate("""() => Promise.all(window.__halqaPeers
          .filter((pc) => pc.connectionState !== 'closed').map((pc) => pc.getStats()))
          .then((reports) => { let n = 0; for (const stats of reports) stats.forEach((r) => {
            if (r.type === 'inbound-rtp' && r.kind === 'audio' && r.mid === '18') {
              n += r.packetsReceived || 0; } }); return n; })"""))

    before = await video_frames()
    await page.select_option("#listen-language", "ar")
    await hearing(page, 1000, "Arabic after choosing it")
    assert await page.evaluate("() => localStorage.getItem('halqa.listen')") == "ar"
    got = await interpretation_packets()
    await asyncio.sleep(0.5)
    assert await interpretation_packets() > got, "the interpretation slot carries no packets"
    mid_frames = await video_frames()
    assert mid_frames > before + 5, f"video stalled during the switch: {before} -> {mid_frames}"

    await page.check("#listen-faint")
    await page.select_option("#listen-language", "floor")
    await hearing(page, 440, "back to the floor")
    assert await video_frames() > mid_frames + 5
    assert await page.evaluate("() => window.halqaPcs") == 1, "a new RTCPeerConnection was made"
    # Back on the floor the server stopped feeding the interpretation slot.
    await asyncio.sleep(0.3)
    got = await interpretation_packets()
    await asyncio.sleep(0.6)
    assert await interpretation_packets() == got

    await page.close()
    for peer in (ar, floor):
        await peer.close(halqa.http, halqa.url)


async def test_console_goes_on_air_and_refuses_a_participant(
    live_app: Any, browsers: dict[str, Any]  # noqa: F811
) -> None:
    halqa = live_app
    session_id = (await halqa.session_ids())[0]
    tokens = []
    for _ in range(2):
        async with halqa.http.post(f"{halqa.url}/api/invites", headers=halqa.auth(), json={
                "role": "interpreter", "session": session_id, "language": "ar"}) as r:
            tokens.append((await r.json())["token"])
    participant = await halqa.register()

    refused = await browsers["viewer"].new_page()
    await refused.goto(f"{halqa.url}/interpret/{session_id}?lang=en#token={participant}")
    await refused.wait_for_function("() => document.getElementById('error').textContent")
    assert "not an interpreter" in await refused.text_content("#error")
    assert await refused.is_hidden("#desk")

    # Two interpreters (fake microphones): the first on air, the second queued;
    # "hand over" swaps them.
    first = await browsers["speaker"].new_page()
    second = await browsers["speaker"].new_page()
    for page, token in ((first, tokens[0]), (second, tokens[1])):
        await page.goto(f"{halqa.url}/interpret/{session_id}?lang=en#token={token}")
        await page.wait_for_selector("#desk:not([hidden])")
        await page.click("#start")
        await page.wait_for_function(
            "() => ['on_air', 'queued'].includes(document.getElementById('on-air').dataset.state)")
    on_air = "() => document.getElementById('on-air').dataset.state"
    assert (await first.evaluate(on_air), await second.evaluate(on_air)) == ("on_air", "queued")
    assert "On air" in await first.text_content("#on-air")
    await first.wait_for_selector("#handover:not([disabled])")
    await first.click("#handover")
    await second.wait_for_function(f"() => ({on_air})() === 'on_air'")
    await first.wait_for_function(f"() => ({on_air})() === 'queued'")
    await first.click("#cough")
    assert await first.get_attribute("#cough", "aria-pressed") == "true"
    for page in (first, second, refused):
        await page.close()
