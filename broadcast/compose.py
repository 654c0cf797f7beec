"""Drawing the program picture: tiles, name captions and the slate, in YUV 4:2:0.

The canvas is one yuv420p buffer that the encoder takes as it is (no colour
conversion per frame). Each source frame is scaled once by swscale (in C) when
a new one arrives; captions and the slate are drawn once with Pillow (raqm
shapes Arabic and puts it right to left) and kept as YUV + alpha.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from broadcast.layout import Plan, Tile

FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",  # fonts-dejavu-core: Latin + Arabic
    "/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
)
BACKGROUND = (16, 128, 128)  # Y, U, V: black
PLACEHOLDER = (40, 128, 128)
CAPTION_H = 36


def find_font(preferred: str | None) -> str | None:
    for path in (preferred, *FONTS):
        if path and Path(path).is_file():
            return path
    return None


def rtl(text: str) -> bool:
    """Whether the first strongly directional character is right-to-left."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False


def rgba_to_yuva(img: Image.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """BT.601 limited range, as swscale produces yuv420p by default."""
    a = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
    r, g, b, alpha = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    y = 16 + 65.481 * r + 128.553 * g + 24.966 * b
    u = 128 - 37.797 * r - 74.203 * g + 112.0 * b
    v = 128 + 112.0 * r - 93.786 * g - 18.214 * b

    def half(p: np.ndarray) -> np.ndarray:
        return p[0::2, 0::2]

    return y, half(u), half(v), alpha


@dataclass
class Overlay:
    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    alpha: np.ndarray
    alpha_half: np.ndarray


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.buf = np.empty((height * 3 // 2, width), dtype=np.uint8)
        q = height // 4
        self.Y = self.buf[:height]
        self.U = self.buf[height : height + q].reshape(height // 2, width // 2)
        self.V = self.buf[height + q :].reshape(height // 2, width // 2)

    def fill(self, yuv: tuple[int, int, int], x: int = 0, y: int = 0,
             w: int | None = None, h: int | None = None) -> None:
        w = self.width if w is None else w
        h = self.height if h is None else h
        self.Y[y : y + h, x : x + w] = yuv[0]
        self.U[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = yuv[1]
        self.V[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = yuv[2]

    def paste(self, planes: np.ndarray, x: int, y: int, w: int, h: int) -> None:
        """`planes` is a (h*3/2, w) yuv420p array, as `VideoFrame.to_ndarray` gives."""
        q = h // 4
        self.Y[y : y + h, x : x + w] = planes[:h]
        self.U[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = planes[h : h + q].reshape(
            h // 2, w // 2
        )
        self.V[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = planes[h + q :].reshape(
            h // 2, w // 2
        )

    def blend(self, o: Overlay, x: int, y: int) -> None:
        h, w = o.alpha.shape
        h, w = min(h, self.height - y), min(w, self.width - x)
        a = o.alpha[:h, :w]
        region = self.Y[y : y + h, x : x + w]
        region[:] = (region * (1 - a) + o.y[:h, :w] * a).astype(np.uint8)
        ah = o.alpha_half[: h // 2, : w // 2]
        for plane, src in ((self.U, o.u), (self.V, o.v)):
            reg = plane[y // 2 : y // 2 + h // 2, x // 2 : x // 2 + w // 2]
            reg[:] = (reg * (1 - ah) + src[: h // 2, : w // 2] * ah).astype(np.uint8)


class Composer:
    def __init__(self, width: int, height: int, font: str | None = None) -> None:
        self.canvas = Canvas(width, height)
        self.font_path = find_font(font)
        self._captions: dict[tuple[str, int], Overlay] = {}
        self._scaled: dict[Tile, tuple[int, np.ndarray, int, int]] = {}
        self.slate = np.empty_like(self.canvas.buf)
        self.set_titles("", "")

    def _font(self, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        if self.font_path is None:
            return ImageFont.load_default(size)
        return ImageFont.truetype(self.font_path, size)

    def _text_image(self, text: str, size: int, width: int, box: bool) -> Image.Image:
        font = self._font(size)
        img = Image.new("RGBA", (width, int(size * 1.6) // 2 * 2), (0, 0, 0, 0))
        draw = ImageDraw.Draw(img)
        if box:
            draw.rectangle((0, 0, img.width, img.height), fill=(0, 0, 0, 150))
        left, _, right, _ = draw.textbbox((0, 0), text, font=font)
        text_w = right - left
        pad = size // 2
        # Captions sit at the reading start of the name; the slate is centred.
        x = (width - pad - text_w if rtl(text) else pad) if box else (width - text_w) // 2
        draw.text((x, img.height // 2), text, font=font, fill=(255, 255, 255, 255), anchor="lm")
        return img

    def _overlay(self, img: Image.Image) -> Overlay:
        y, u, v, alpha = rgba_to_yuva(img)
        return Overlay(y, u, v, alpha, alpha[0::2, 0::2])

    def caption(self, text: str, width: int) -> Overlay:
        key = (text, width)
        if key not in self._captions:
            if len(self._captions) > 64:
                self._captions.clear()
            size = 22 if width >= 400 else 16
            self._captions[key] = self._overlay(self._text_image(text, size, width, box=True))
        return self._captions[key]

    def set_titles(self, event: str, session: str) -> None:
        """Redraw the slate: the session's title large, the event's below it."""
        c = self.canvas
        c.fill((32, 136, 120))  # a dark blue-grey
        for text, size, y in ((session, 44, c.height // 2 - 50), (event, 28, c.height // 2 + 30)):
            if text:
                o = self._overlay(self._text_image(text, size, c.width, box=False))
                c.blend(o, 0, y // 2 * 2)
        self.slate[:] = c.buf

    def _scaled_tile(
        self, tile: Tile, frame: av.VideoFrame, seq: int
    ) -> tuple[np.ndarray, int, int]:
        cached = self._scaled.get(tile)
        if cached is not None and cached[0] == seq:
            return cached[1], cached[2], cached[3]
        # Fit inside the tile, keeping the picture's shape (bars around it).
        scale = min(tile.w / frame.width, tile.h / frame.height)
        # Multiples of 4: the yuv420p array's chroma rows then fall on whole rows.
        w = max(4, int(frame.width * scale) // 4 * 4)
        h = max(4, int(frame.height * scale) // 4 * 4)
        planes = frame.reformat(width=w, height=h, format="yuv420p").to_ndarray()
        self._scaled[tile] = (seq, planes, w, h)
        return planes, w, h

    def render(
        self, plan: Plan, frames: dict[tuple[int, str], tuple[int, av.VideoFrame]]
    ) -> np.ndarray:
        """Draw one program picture; `frames` maps (position, label) to (seq, latest frame)."""
        c = self.canvas
        if plan.slate:
            c.buf[:] = self.slate
            return c.buf
        c.fill(BACKGROUND)
        for tile in plan.tiles:
            got = frames.get((tile.position, tile.label))
            if got is None:
                c.fill(PLACEHOLDER, tile.x, tile.y, tile.w, tile.h)
            else:
                planes, w, h = self._scaled_tile(tile, got[1], got[0])
                x = tile.x + (tile.w - w) // 4 * 2
                y = tile.y + (tile.h - h) // 4 * 2
                c.paste(planes, x, y, w, h)
            if tile.caption:
                o = self.caption(tile.caption, min(tile.w, 480))
                cy = tile.y + tile.h - o.alpha.shape[0]
                cx = tile.x if not rtl(tile.caption) else tile.x + tile.w - o.alpha.shape[1]
                c.blend(o, cx, cy)
        live = {(t.position, t.label) for t in plan.tiles}
        for key in [k for k in self._scaled if (k.position, k.label) not in live]:
            del self._scaled[key]
        return c.buf
