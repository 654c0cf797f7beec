"""Chat per session: send (length, rate limit, slow mode, mute/ban), history, delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from server.chat_writer import ChatWriter
from server.config import InteractionSettings
from server.db import Database
from server.errors import Forbidden, NotFound, RateLimited
from server.interaction import Refused, check_open_for_writing, iso, load_session
from server.models import utcnow
from server.models_interaction import ChatMessage
from server.moderation import check_can_write
from server.roles import Principal
from server.shared import SharedState
from server.text import BadText, clean

__all__ = ["ChatMessage", "delete", "history", "send", "view"]


def view(m: ChatMessage) -> dict[str, Any]:
    return {
        "id": m.id,
        "session": m.session_id,
        "text": m.text,
        "author": m.author_name,
        "role": m.author_role,
        "at": iso(m.created_at),
    }


async def send(
    db: Database, writer: ChatWriter, shared: SharedState, cfg: InteractionSettings,
    principal: Principal, session_id: str, text: str,
) -> dict[str, Any]:
    """Store one message; once this returns, the message survives a restart.

    The checks read in their own short session; the insert goes through the
    process's group commit (server/chat_writer.py), which publishes the
    message to the room after its commit.
    """
    try:
        text = clean(text, multiline=True)
    except BadText as exc:
        raise Refused(exc.code) from None
    if len(text) > cfg.chat_max_chars:
        raise Refused("too_long", max=cfg.chat_max_chars)
    # The rate limit comes first: a flood costs one counter hit per message,
    # never a database query.
    if not await shared.hit(f"chat:{principal.key}", cfg.chat_rate, cfg.chat_rate_window):
        raise RateLimited("rate_limited")
    async with db.session() as s:
        session = await load_session(s, session_id)
        await check_can_write(s, principal, session_id)
    check_open_for_writing(session, principal)
    moderator = principal.can_moderate(session_id)
    if session.slow_mode and not moderator and not await shared.hit(
        f"slow:{session_id}:{principal.key}", 1, session.slow_mode
    ):
        raise Refused("slow_mode", seconds=session.slow_mode)
    return await writer.write(ChatMessage(
        session_id=session_id, author_key=principal.key, author_name=principal.name,
        author_role=principal.role.value, text=text,
    ))


async def history(db: Database, session_id: str, limit: int) -> list[dict[str, Any]]:
    """The last `limit` messages that were not deleted, oldest first."""
    async with db.session() as s:
        rows = await s.scalars(
            select(ChatMessage)
            .where(ChatMessage.session_id == session_id, ChatMessage.deleted_at.is_(None))
            .order_by(ChatMessage.id.desc())
            .limit(limit)
        )
        return [view(m) for m in reversed(rows.all())]


async def delete(db: Database, principal: Principal, message_id: int) -> dict[str, Any]:
    async with db.transaction() as s:
        msg = await s.get(ChatMessage, message_id)
        if msg is None:
            raise NotFound("not_found")
        if not principal.can_moderate(msg.session_id):
            raise Forbidden("forbidden")
        if msg.deleted_at is None:
            msg.deleted_at = utcnow()
        return {"session": msg.session_id, "id": msg.id}
