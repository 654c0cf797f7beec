"""Behind a real nginx with proxy_cache (docs/operations.md's configuration):
many players asking for the same segment reach halqa once."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from server.keys import METRICS, SHARED
from tests.hls_helpers import get, make_archive, segment_uris
from tests.nginx_helpers import cache_proxy
from tests.support import app_server

ROUTE = "/hls/{session}/{scope}/{expiry}/{signature}/{file}"


def halqa_saw(app: object) -> int:
    """HLS file requests halqa itself answered (its own metrics)."""
    total = 0
    for metric in app[METRICS].http_requests.collect():  # type: ignore[index]
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels.get("route") == ROUTE:
                total += int(sample.value)
    return total


async def test_fifty_requests_for_one_segment_reach_halqa_once(tmp_path: Path) -> None:
    async with app_server(tmp_path / "halqa") as h:
        assert h.app is not None
        sid = (await h.session_ids())[0]
        make_archive(tmp_path / "halqa", sid, seconds=5)
        await h.app[SHARED].stages_set("elsewhere", {sid}, 60)
        status, body, _ = await get(h.http, f"{h.url}/api/sessions/{sid}/hls",
                                    headers=h.auth(await h.register()))
        assert status == 200
        path = json.loads(body)["url"].removeprefix(h.url).rsplit("/", 1)[0]
        port = int(h.url.rsplit(":", 1)[1])
        with cache_proxy(tmp_path / "nginx", port) as edge:
            status, body, _ = await get(h.http, f"{edge}{path}/720p/index.m3u8")
            assert status == 200
            seg = f"{edge}{path}/720p/{segment_uris(body.decode())[0]}"
            before = halqa_saw(h.app)
            answers = await asyncio.gather(*(get(h.http, seg) for _ in range(50)))
            assert {a[0] for a in answers} == {200}
            assert len({a[1] for a in answers}) == 1 and answers[0][1][:1] == b"\x47"
            assert halqa_saw(h.app) - before == 1
            statuses = [a[2].get("X-Cache-Status") for a in answers]
            assert statuses.count("HIT") >= 48, statuses

            # A query string cannot bust the cache; a forged signature is refused
            # by halqa, not served from the cache.
            status, _, headers = await get(h.http, seg + "?nocache=1")
            assert status == 200 and headers["X-Cache-Status"] == "HIT"
            forged = seg.replace(path.split("/")[5], "A" * 22)
            status, _, _ = await get(h.http, forged)
            assert status == 403
