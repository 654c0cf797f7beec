"""Three `halqa serve` processes, one Redis, one database, nginx round robin in front.

An aiortc speaker publishes to one process (the holder); aiortc viewers on
every process and a Chromium viewer (browser defaults, through nginx) get its
media; the holder serves exactly one pull per edge. SIGKILL of the Chromium
viewer's process: it resumes on another within 3 s. SIGKILL of the holder:
the speaker publishes again through a live process and viewers resume
within 5 s.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cluster_helpers import Cluster, cluster, nginx_front
from tests.e2e.test_stage_browser import BASE_FLAGS, CHROMIUM, _need_chromium, decoded, mid
from tests.e2e.test_stage_browser import open_viewer as open_page
from tests.stage_helpers import Peer, wait_for, whep_play, whip_publish
from tests.support import Halqa, ServerProcess

pytestmark = pytest.mark.e2e


async def eventually(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out: {what}")


async def resumed_after(page: Any, peers: list[Peer], since: float, timeout: float,
                        away_from: str | None = None) -> float:
    """Seconds from `since` until the page and every peer decode new frames again.

    With `away_from` (the page's WHEP resource on a process that died), only
    frames decoded on a new connection count: frames already in the page's
    jitter buffer still decode for a few hundred milliseconds after the crash.
    """
    slot = mid(0, "camera")
    page_start = base = last = (await decoded(page)).get(slot, 0)
    peer_start = [p.frames["video"] for p in peers]
    while time.monotonic() - since < timeout:
        if away_from is not None:
            if await page.evaluate("() => window.halqaStage.resource") in (away_from, None):
                await asyncio.sleep(0.1)
                continue
            away_from, base, last = None, 0, 0  # a new connection counts from zero
        now = (await decoded(page)).get(slot, 0)
        if now < last:  # the page opened a new connection: its count restarts
            base = 0
        last = now
        # A few frames more than were in flight: media really flows again.
        if now > base + 3 and all(
            p.frames["video"] > s + 3 for p, s in zip(peers, peer_start, strict=True)
        ):
            return time.monotonic() - since
        await asyncio.sleep(0.1)
    raise AssertionError(f"no media {timeout} s after the crash: page {page_start} -> "
                         f"{(await decoded(page)).get(slot, 0)}")


async def test_any_process_serves_any_viewer_and_survives_crashes(
    tmp_path: Path, redis_url: str
) -> None:
    _need_chromium()
    from playwright.async_api import async_playwright

    async with cluster(tmp_path, redis_url, 3) as c:
        p0, holder, p2 = c.procs
        h = Halqa(p0.url, c.organizer, c.http)
        session = (await h.session_ids())[0]
        speaker = await h.invite("speaker", session)
        pub = await whip_publish(c.http, holder.url, session, speaker)
        peers: dict[ServerProcess, list[Peer]] = {}
        try:
            await eventually(lambda: _holds(c, holder, session), 10, "the holder's claim")
            for proc, n in ((p0, 2), (p2, 2), (holder, 1)):
                peers[proc] = [await whep_play(c.http, proc.url, session, await h.register())
                               for _ in range(n)]
            everyone = [p for ps in peers.values() for p in ps]
            await wait_for(lambda: all(p.frames["video"] > 5 and p.frames["audio"] > 5
                                       for p in everyone), timeout=25, what="media everywhere")

            with nginx_front(tmp_path / "nginx", [p0.port, p2.port]) as front:
                async with async_playwright() as pw:
                    browser = await pw.chromium.launch(executable_path=CHROMIUM, args=BASE_FLAGS)
                    try:
                        await _crashes(c, browser, front, session, speaker, holder, peers)
                    finally:
                        await browser.close()
        finally:
            for ps in peers.values():
                for p in ps:
                    await p.close()
            await pub.close()


async def _crashes(c: Cluster, browser: Any, front: str, session: str, speaker: str,
                   holder: ServerProcess, peers: dict[ServerProcess, list[Peer]]) -> None:
    h = Halqa(front, c.organizer, c.http)
    page = await open_page(browser, front, session, await h.register("Chromium"))
    await _rising(page, "a Chromium viewer on an edge")
    # One pull per edge, however many viewers each edge serves.
    await eventually(lambda: _pulls(c, holder, served=2), 10, "one pull per edge")
    # The organizer's dashboard, from whichever process: one row per process.
    admin = await (await browser.new_context()).new_page()
    await admin.goto(f"{front}/admin?lang=en#token={c.organizer}")
    await admin.wait_for_function(
        "() => document.querySelectorAll('#node-rows tr').length === 3", timeout=15000)
    rows = await admin.locator("#node-rows tr").all_inner_texts()
    assert sum("1 / 0" in r for r in rows) == 2 and any("0 / 2" in r for r in rows), rows
    await admin.close()
    edges = [p for p in c.procs if p is not holder]
    # The process serving the page's media: its resource id names it.
    resource = await page.evaluate("() => window.halqaStage.resource")
    serving = resource.rsplit("/", 1)[-1].split(".")[0]
    ids = {p: await c.node_of(p) for p in edges}
    edge = next(p for p in edges if ids[p] == serving)
    other = next(p for p in edges if p is not edge)

    killed = time.monotonic()
    edge.kill()
    took = await resumed_after(page, peers[other], killed, timeout=10,
                                away_from=resource)
    moved = await page.evaluate("() => window.halqaStage.resource")
    assert moved != resource, "the page kept its connection to a dead process"
    print(f"edge SIGKILL -> Chromium viewer decoding again after {took:.2f} s")
    assert took <= 3.0, f"the Chromium viewer resumed {took:.2f} s after its process died"
    edges = [other]

    killed = time.monotonic()
    holder.kill()
    # The speaker's studio reconnects through whatever process it reaches.
    speaker_again = await whip_publish(c.http, other.url, session, speaker)
    try:
        # Viewers where the speaker landed, and the other edge's, which
        # pulls again from the new holder.
        survivors = [p for e in edges for p in peers[e]]
        took = await resumed_after(page, survivors, killed, timeout=10)
        print(f"holder SIGKILL -> viewers decoding again after {took:.2f} s")
        assert took <= 5.0, f"viewers resumed {took:.2f} s after the holder died"
        await eventually(lambda: _holds(c, other, session), 5, "the stage's new holder")
    finally:
        await speaker_again.close()


async def _rising(page: Any, what: str) -> None:
    slot = mid(0, "camera")
    first = (await decoded(page)).get(slot, 0)
    for _ in range(100):
        await asyncio.sleep(0.2)
        if (await decoded(page)).get(slot, 0) > first + 5:
            return
    raise AssertionError(f"{what}: framesDecoded did not rise")


async def _holds(c: Cluster, proc: ServerProcess, session: str) -> bool:
    return session in (await c.me(proc))["held"]


async def _pulls(c: Cluster, holder: ServerProcess, served: int) -> bool:
    me = await c.me(holder)
    edges = [await c.me(p) for p in c.procs if p is not holder]
    return me["served_pulls"] == served and all(e["pulls"] == 1 for e in edges)
