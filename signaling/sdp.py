"""Checking offers before any peer connection exists, and trimming them.

Bad input must cost us nothing: parse and judge the SDP first, build an
RTCPeerConnection only for an offer we can serve.
"""

from __future__ import annotations

from dataclasses import dataclass

from signaling import aiortc_internals as ai
from signaling.errors import BadRequest
from signaling.rtp import FORWARDABLE, codec_usable

# An 18-section offer without codec preferences is ~65 KB.
MAX_SDP_BYTES = 128 * 1024
# Parsing cost grows with lines, peer-connection cost with sections: both are
# bounded before aiortc sees the text (an 18-section browser offer has ~600
# lines; 380 tiny sections under the byte limit cost 0.3 s of loop each).
MAX_SDP_LINES = 3000


@dataclass(frozen=True, slots=True)
class MediaLine:
    kind: str
    direction: str
    mimes: dict[int, str]  # payload type -> forwardable mime


def _bad(code: str, message: str) -> BadRequest:
    return BadRequest(code, message)


def strip_mdns(sdp_text: str) -> str:
    """Drop `.local` candidates: aioice cannot resolve them from a server.

    Waiting on the mDNS lookup only delays the connection; the browser's
    connectivity checks reach us anyway and we learn its address as a
    peer-reflexive candidate.
    """
    lines = sdp_text.splitlines()
    kept = [ln for ln in lines if not (ln.startswith("a=candidate:") and ".local " in ln)]
    return "\r\n".join(kept) + "\r\n"


def parse_offer(sdp_text: str, *, want: str, max_sections: int = 36) -> list[MediaLine]:
    """Validate an offer. `want` is 'send' (a publisher) or 'recv' (a viewer).

    Cheap checks first (size, line and section counts: string scans), so a
    hostile offer is refused before aiortc parses it.
    """
    if not sdp_text.strip():
        raise _bad("sdp_missing", "the request body must be an SDP offer")
    if len(sdp_text) > MAX_SDP_BYTES:
        raise _bad("sdp_too_large", "the SDP offer is larger than 128 KiB")
    if not sdp_text.lstrip().startswith("v=0"):
        raise _bad("sdp_malformed", "the SDP offer must start with v=0")
    sections = sdp_text.count("\nm=")
    if sections > max_sections:
        raise _bad("sdp_too_many_sections",
                   f"the SDP offer has {sections} media sections; at most {max_sections}")
    if sdp_text.count("\n") > MAX_SDP_LINES:
        raise _bad("sdp_too_complex", f"the SDP offer has more than {MAX_SDP_LINES} lines")
    try:
        parsed = ai.parse_sdp(sdp_text)
    except Exception as exc:  # aiortc raises assorted errors on garbage
        raise _bad("sdp_malformed", f"the SDP offer cannot be parsed: {exc}") from None
    lines: list[MediaLine] = []
    mids: set[str] = set()
    for media in parsed.media:
        if media.kind not in ("audio", "video"):
            if media.kind == "application":
                raise _bad("sdp_unsupported", "data channels are not accepted here")
            raise _bad("sdp_unsupported", f"unsupported media kind {media.kind!r}")
        if not media.ice or not media.ice.usernameFragment or not media.dtls:
            raise _bad(
                "sdp_malformed", "each media section needs ICE credentials and a DTLS fingerprint"
            )
        if not media.rtp.muxId:
            raise _bad("sdp_malformed", "each media section needs an a=mid")
        if media.rtp.muxId in mids:
            raise _bad("sdp_malformed", f"the mid {media.rtp.muxId[:32]!r} is used twice")
        mids.add(media.rtp.muxId)
        mimes: dict[int, str] = {}
        for codec in media.rtp.codecs:
            mime = codec.mimeType.lower()
            if (mime in FORWARDABLE and codec.payloadType is not None
                    and codec_usable(mime, codec.parameters)):
                mimes[codec.payloadType] = mime
        if not mimes:
            raise _bad(
                "no_usable_codec",
                f"the {media.kind} section offers no codec we forward "
                "(video: VP8 or H.264 packetization-mode=1; audio: Opus)",
            )
        direction = media.direction or "sendrecv"
        ok = ("sendonly", "sendrecv") if want == "send" else ("recvonly", "sendrecv")
        if direction not in ok:
            raise _bad(
                "sdp_direction",
                f"a {'publisher' if want == 'send' else 'viewer'} offer must be "
                f"{' or '.join(ok)}, got {direction}",
            )
        lines.append(MediaLine(media.kind, direction, mimes))
    if not lines:
        raise _bad("sdp_no_media", "the SDP offer has no audio or video section")
    bundled = any(g.semantic == "BUNDLE" for g in parsed.group or [])
    if not bundled and len(lines) > 1:
        raise _bad("sdp_no_bundle", "offers with several media sections must use BUNDLE")
    return lines
