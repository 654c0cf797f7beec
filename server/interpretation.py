"""Simultaneous interpretation, the server's side: who may interpret, who listened.

The media side (channels, hand-over, what each viewer hears) is in
signaling/interpretation.py; here are the rules of the `interpreter` role
(bound to one session and one of the event's languages).
"""

from __future__ import annotations

from server.errors import invalid_fields

# The event's languages: what participants register with and what interpreters feed.
LANGUAGES = ("fr", "ar", "en")


def check_interpreter(session_id: str | None, language: str | None) -> None:
    """An interpreter is invited to one session and one of the event's languages."""
    problems = {}
    if session_id is None:
        problems["session"] = "an interpreter is invited to one session"
    if language not in LANGUAGES:
        problems["language"] = f"one of {', '.join(LANGUAGES)}"
    if problems:
        raise invalid_fields(problems)
