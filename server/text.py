"""User text (names, chat, questions): what is refused, by Unicode category.

Refused: control characters (category Cc; chat and questions keep line
breaks), bidirectional embeddings, overrides and isolates (they reorder what
others see, e.g. "Eve\u202egnp.exe"), and text with nothing visible (only
spaces and format characters such as U+200B ZERO WIDTH SPACE). Kept: every
script, and the joiners (ZWJ, ZWNJ) that Arabic, Persian and emoji need
inside visible text.
"""

from __future__ import annotations

import unicodedata

# LRE RLE PDF LRO RLO, LRI RLI FSI PDI: they change the order others read in.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Categories that draw nothing on their own.
INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Me", "Cn"})


class BadText(ValueError):
    """`code` is "empty" (nothing visible) or "invalid_text"."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def clean(text: str, *, multiline: bool = False) -> str:
    """The text stripped, or BadText saying why it is refused."""
    text = text.strip()
    for ch in text:
        if ch in BIDI_CONTROLS:
            raise BadText("invalid_text", "bidirectional control characters are not allowed")
        if unicodedata.category(ch) == "Cc" and not (multiline and ch in "\n\t"):
            raise BadText("invalid_text", "control characters are not allowed")
    if all(unicodedata.category(ch) in INVISIBLE for ch in text):
        raise BadText("empty", "the text has nothing visible")
    return text
