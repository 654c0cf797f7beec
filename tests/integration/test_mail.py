"""Personal links by mail, through a real SMTP server (aiosmtpd) on a free port."""

from __future__ import annotations

import asyncio
import re
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import socketio
from aiosmtpd.controller import Controller

from tests.support import app_server, free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.arrived = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        self.arrived.set()
        return "250 OK"


def body(msg: Message) -> str:
    payload = msg.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


async def test_links_are_mailed_and_mailed_again_to_the_owner_only(tmp_path: Path) -> None:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        smtp = {"host": "127.0.0.1", "port": port, "starttls": False}
        async with app_server(tmp_path, smtp=smtp) as h:
            reg = {"name": "Awa", "email": "awa@example.org", "country": "SN",
                   "language": "fr", "consent": True}
            async with h.http.post(f"{h.url}/api/registrations", json=reg) as r:
                assert r.status == 201
                first = await r.json()
            assert len(inbox.messages) == 1
            assert inbox.messages[0]["To"] == "awa@example.org"
            assert first["access_url"] in body(inbox.messages[0])

            # Someone asks again with Awa's address: they get no link; Awa gets a mail.
            async with h.http.post(f"{h.url}/api/registrations",
                                   json={**reg, "name": "Someone else"}) as r:
                assert r.status == 409
                answer = await r.json()
            assert "mailed" in answer["error"]["message"]
            assert len(inbox.messages) == 2
            mailed = re.search(r"#token=([\w-]+)", body(inbox.messages[1]))
            assert mailed is not None and mailed.group(1) not in str(answer)
            # The mailed link works, and so does the first one.
            for token in (mailed.group(1), first["token"]):
                client = socketio.AsyncClient(reconnection=False)
                await client.connect(h.url, auth={"token": token}, transports=["websocket"])
                await client.disconnect()
    finally:
        controller.stop()
