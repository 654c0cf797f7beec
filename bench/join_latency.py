"""Viewer click -> first decoded frame, in Chromium on browser defaults.

    python -m bench.join_latency [--joins 20] [--edge]

The app runs as real `halqa serve` processes (a private Redis, one SQLite
database); a Chromium speaker (fake camera, the
studio page, so keyframe requests are honoured as in real use) is live.
Each join opens a fresh browser context on the watch page's origin with no
media flags (so its ICE candidates are mDNS names and the server reaches it
peer-reflexively), connects Socket.IO, then times
`watchStage()` -> first frame painted from the camera slot
(requestVideoFrameCallback). Prints p50/p95 and the ICE-connected share.
--edge: two nodes, the speaker on one, viewers on the
other (which pulls the stage from the first; signaling/edge.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
JOIN = """async ([sessionId, token]) => {
  const { connect, request } = await import('/js/realtime.js');
  const { watchStage } = await import('/js/stage.js');
  const socket = connect(token);
  await new Promise((ok) => socket.connected ? ok() : socket.once('connect', ok));
  await request(socket, 'stage:state', { session: sessionId });  // warm, like a loaded page
  const video = document.createElement('video');
  video.muted = true; video.autoplay = true; video.playsInline = true;
  document.body.append(video);
  const marks = {};
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = function (...a) {
    const pc = new Native(...a);
    window.joinPc = pc;  // read by DIAGNOSE when a join never shows a frame
    pc.addEventListener('iceconnectionstatechange', () => {
      const now = performance.now() - t0;
      if (pc.iceConnectionState === 'connected' && !marks.iceOnly) marks.iceOnly = now;
    });
    for (const name of ['createOffer', 'setLocalDescription', 'setRemoteDescription']) {
      const native = pc[name].bind(pc);
      pc[name] = async (...args) => {
        marks[name + '0'] ??= performance.now() - t0;
        const r = await native(...args);
        marks[name] ??= performance.now() - t0;
        return r;
      };
    }
    pc.addEventListener('icecandidate', (e) => {
      const now = performance.now() - t0;
      if (e.candidate && !marks.cand) marks.cand = now;
    });
    return pc;
  };
  const nativeFetch = window.fetch;
  window.fetch = async (url, init) => {
    const whep = String(url).startsWith('/whep/') && init?.method === 'POST';
    if (whep) marks.post ??= performance.now() - t0;
    const res = await nativeFetch(url, init);
    if (whep) {
      marks.response ??= performance.now() - t0;
      marks.server ??= res.headers.get('Server-Timing');
    }
    return res;
  };
  const t0 = performance.now();
  let mdns = null;
  const first = new Promise((resolve) => {
    watchStage(socket, sessionId, token, {
      onSlots: (slots) => {
        const cam = slots.find((s) => s.position === 0 && s.label === 'camera');
        video.srcObject = new MediaStream([cam.track]);
        video.play().catch(() => {});
        video.requestVideoFrameCallback(() => resolve(performance.now()));
      },
      onState: (s) => { if (s === 'connected' && !marks.ice) marks.ice = performance.now() - t0; },
    }).then((ctl) => { window.ctl = ctl; marks.answered = performance.now() - t0; });
  });
  const t1 = await first;
  const pc = window.ctl?.pc;
  mdns = pc ? pc.localDescription.sdp.includes('.local') : null;
  let pair = null;
  if (pc) (await pc.getStats()).forEach((r) => {
    if (r.type === 'candidate-pair' && r.nominated) pair = r;
  });
  return { ms: t1 - t0, ice: marks.ice ?? null, mdns, answered: marks.answered ?? null,
           iceOnly: marks.iceOnly ?? null, cand: marks.cand ?? null, marks };
}"""

STUDIO_SPY = """(() => {
  const Native = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = function (...a) {
    const pc = new Native(...a);
    window.__pcs.push(pc);
    return pc;
  };
  window.RTCPeerConnection.prototype = Native.prototype;
})()"""

SPEAKER_STATS = """async () => {
  let pli = 0, keyframes = 0;
  for (const pc of window.__pcs) (await pc.getStats()).forEach((r) => {
    if (r.type === 'outbound-rtp' && r.kind === 'video') {
      pli += r.pliCount ?? 0; keyframes += r.keyFramesEncoded ?? 0;
    }
  });
  return [pli, keyframes];
}"""

DIAGNOSE = """async () => {
  const pc = window.joinPc;
  if (!pc) return 'no peer connection';
  const out = [`connection ${pc.connectionState}, ice ${pc.iceConnectionState}`];
  (await pc.getStats()).forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video' && r.packetsReceived)
      out.push(`mid ${r.mid}: ${r.packetsReceived} packets, ${r.framesDecoded} decoded, ` +
               `${r.keyFramesDecoded} keyframes, ${r.pliCount} PLI, ${r.nackCount} NACK`);
  });
  return out.join('; ');
}"""


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--joins", type=int, default=20)
    parser.add_argument("--edge", action="store_true",
                        help="viewers join a node that pulls the stage from the speaker's")
    args = parser.parse_args()
    from playwright.async_api import async_playwright

    from tests.cluster_helpers import cluster
    from tests.e2e.conftest import CHROMIUM_FLAGS as FLAGS
    from tests.e2e.conftest import FAKE_MEDIA
    from tests.support import Halqa, redis_server

    print(f"host: {os.cpu_count()} CPUs, load average {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        # Real `halqa serve` processes, as deployed: the server's event loop
        # and garbage collector are not shared with this harness's Playwright.
        redis_url = stack.enter_context(redis_server(Path(tmp)))
        async with cluster(Path(tmp), redis_url, 2 if args.edge else 1,
                           HALQA_LOG_LEVEL="warning") as nodes, async_playwright() as pw:
            halqa = Halqa(nodes.procs[0].url, nodes.organizer, nodes.http)
            watch = nodes.procs[-1].url
            session_id = (await halqa.session_ids())[0]
            speaker = await halqa.invite("speaker", session_id)
            fake = [*FLAGS, *FAKE_MEDIA]
            studio_browser = await pw.chromium.launch(executable_path=CHROMIUM, args=fake)
            studio = await (await studio_browser.new_context()).new_page()
            await studio.add_init_script(STUDIO_SPY)
            await studio.goto(f"{halqa.url}/studio/{session_id}#token={speaker}")
            await studio.wait_for_selector("body[data-ready='1']", timeout=15000)
            await studio.click("#golive")
            await studio.wait_for_selector("body[data-state='connected']", timeout=15000)
            await asyncio.sleep(2)
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            results = []
            seen = tuple(await studio.evaluate(SPEAKER_STATS))
            for i in range(args.joins):
                token = await halqa.register(name=f"Bench {i}")
                ctx = await browser.new_context()
                page = await ctx.new_page()
                await page.goto(f"{watch}/session/{session_id}")
                try:
                    r = await asyncio.wait_for(page.evaluate(JOIN, [session_id, token]), 30)
                except TimeoutError:
                    print(f"page: {await page.evaluate(DIAGNOSE)}")
                    for proc in nodes.procs:  # what the servers said, before the folder goes
                        print(f"--- {proc.log}\n{proc.log.read_text()[-3000:]}")
                    raise SystemExit(f"join {i + 1}: no frame within 30 s") from None
                results.append(r)
                nan = float("nan")
                print(
                    f"join {i + 1:2d}: first frame {r['ms']:6.0f} ms (answer "
                    f"{r['answered'] or nan:.0f}, ICE {r['iceOnly'] or nan:.0f}, "
                    f"ICE+DTLS {r['ice'] or nan:.0f} ms; own first candidate "
                    f"{r['cand'] or nan:.0f} ms; mDNS: {r['mdns']})",
                    flush=True,
                )
                m = r["marks"]
                steps = ("createOffer0", "createOffer", "setLocalDescription", "post",
                         "response", "setRemoteDescription0", "setRemoteDescription")
                print("         page: " + ", ".join(
                    f"{k} {m[k]:.0f}" for k in steps if m.get(k) is not None)
                    + f"; server: {m.get('server')}", flush=True)
                await ctx.close()
                # The speaker's own count since the last join: a PLI its encoder
                # ignored (libwebrtc honours one per 300 ms) shows as more PLIs
                # than keyframes.
                pli, keyframes = await studio.evaluate(SPEAKER_STATS)
                print(f"         speaker since the last join: {pli - seen[0]} PLI received, "
                      f"{keyframes - seen[1]} keyframes encoded", flush=True)
                seen = (pli, keyframes)
            await browser.close()
            await studio_browser.close()
    ms = sorted(r["ms"] for r in results)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    print(
        f"\nclick -> first decoded frame over {len(ms)} joins: p50 {statistics.median(ms):.0f} ms, "
        f"p95 {p95:.0f} ms, max {ms[-1]:.0f} ms; mDNS on in "
        f"{sum(1 for r in results if r['mdns'])}/{len(results)} joins"
    )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    asyncio.run(main())
