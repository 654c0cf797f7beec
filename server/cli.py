"""The `halqa` command: serve, migrate, invite, revoke, import-schedule."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis.exceptions
import sqlalchemy.exc
import structlog
from aiohttp import web

from server import logs
from server.config import ConfigError, Settings, load_settings
from server.db import Database
from server.errors import Failure
from server.grants import Grants
from server.roles import Role

log = structlog.get_logger("halqa")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="halqa", description=__doc__)
    parser.add_argument("--config", type=Path, help="settings file (default config/halqa.toml)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--config", type=Path, dest="serve_config", help=argparse.SUPPRESS)
    serve.add_argument(
        "--workers", type=int, nargs="?", const=os.cpu_count() or 1, metavar="N",
        help="run N processes on the port (alone: one per core); needs Redis, "
        "started privately when redis_url is unset",
    )
    # A worker of `--workers`: shares the port with its siblings.
    serve.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)

    sub.add_parser("migrate", help="apply database migrations")

    invite = sub.add_parser(
        "invite", help="invite a speaker, moderator or interpreter; prints link and token")
    invite.add_argument("role", choices=["speaker", "moderator", "interpreter"])
    invite.add_argument("session", nargs="?", help="session id (omit: event-wide moderator)")
    invite.add_argument("--label", default="", help="who this invite is for")
    invite.add_argument("--language", help="interpreters: the language they interpret into")

    revoke = sub.add_parser("revoke", help="revoke a token")
    revoke.add_argument("token")

    imp = sub.add_parser("import-schedule", help="load a program (TOML, or pretalx/frab JSON)")
    imp.add_argument("file", type=Path)

    args = parser.parse_args(argv)
    config = getattr(args, "serve_config", None) or args.config
    try:
        overrides: dict[str, Any] = {}
        if args.command == "serve":
            overrides = {"host": args.host, "port": args.port, "workers": args.workers}
        settings = load_settings(config, **overrides)
        logs.configure(settings.log_level, settings.log_format)
        if args.command == "serve" and settings.workers > 1:
            from server.supervisor import run_workers

            return run_workers(settings, settings.workers, config)
        if args.command == "serve":
            return serve_forever(settings, reuse_port=args.reuse_port)
        return asyncio.run(_admin(settings, args))
    except ConfigError as exc:
        print(f"halqa: {exc}", file=sys.stderr)
        return 2
    except STARTUP_FAILURES as exc:
        print(f"halqa: {_reason(exc)}", file=sys.stderr)
        return 1


def serve_forever(settings: Settings, reuse_port: bool = False) -> int:
    from server import gcpolicy
    from server.app import create_app

    try:
        internal = _internal_socket(settings)
    except OSError as exc:
        print(f"halqa: cannot listen on the internal address: {exc}", file=sys.stderr)
        return 1
    host, port = internal.getsockname()[:2]
    internal_url = settings.internal_url or f"http://{host}:{port}"
    app = create_app(settings, internal_url=internal_url)

    async def announce(app: web.Application) -> None:
        print(f"halqa is running: open {settings.base_url}/", flush=True)

    app.on_startup.append(announce)
    # Few full collections, none over start-up's objects (server/gcpolicy.py).
    app.on_startup.append(gcpolicy.freeze_after_start)
    if settings.public_url is None and settings.host in ("0.0.0.0", "::"):  # noqa: S104
        log.warning(
            "public_url_unset",
            hint=f"links handed out will say {settings.base_url}; set public_url "
            "(HALQA_PUBLIC_URL) to the address people use",
        )
    try:
        web.run_app(app, host=settings.host, port=settings.port, sock=[internal],
                    reuse_port=reuse_port or None, print=None, access_log=None,
                    # After the drain, open websockets (Socket.IO) are cut: their
                    # pages reconnect to another process by themselves.
                    shutdown_timeout=SHUTDOWN_S)
    except STARTUP_FAILURES as exc:
        print(f"halqa: cannot start: {_reason(exc)}", file=sys.stderr)
        return 1
    return 0


def _internal_socket(settings: Settings) -> socket.socket:
    """Where other nodes reach this one: `internal_url`'s address, else 127.0.0.1:<any>.

    Apart from the public port because workers share that one (SO_REUSEPORT):
    a request meant for one worker must reach that worker.
    """
    host, port = "127.0.0.1", 0
    if settings.internal_url:
        parsed = urlsplit(settings.internal_url)
        host, port = parsed.hostname or host, parsed.port or 0
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


SHUTDOWN_S = 3.0


# What a wrong setting or a missing service looks like at start-up: reported in
# one line, not a traceback.
STARTUP_FAILURES = (OSError, sqlalchemy.exc.DBAPIError, redis.exceptions.RedisError)


def _said(failure: Failure) -> str:
    """A refusal for a terminal: what is wrong with which argument."""
    return "; ".join(f"{k}: {v}" for k, v in failure.fields.items()) or failure.message


def _reason(exc: BaseException) -> str:
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        return f"the database refused: {str(exc.orig).strip().splitlines()[0]}"
    if isinstance(exc, redis.exceptions.RedisError):
        return f"Redis: {exc}"
    return str(exc)


async def _admin(settings: Settings, args: argparse.Namespace) -> int:
    from server.app import load_demo_if_empty
    from server.program import ProgramError, parse_program, store_program
    from server.secrets_store import organizer_token

    db = Database(settings.database)
    try:
        await db.migrate()
        if args.command == "migrate":
            print("database is up to date")
            return 0
        if args.command == "import-schedule":
            try:
                prog = parse_program(args.file)
            except ProgramError as exc:
                print(f"halqa: {exc}", file=sys.stderr)
                return 1
            async with db.transaction() as s:
                await store_program(s, prog)
            print(f"imported {len(prog.sessions)} sessions, {len(prog.speakers)} speakers")
            return 0
        await load_demo_if_empty(db, settings.event_file)
        grants = Grants(db, organizer_token(settings))
        if args.command == "invite":
            from server.api.invites import invite_url

            role = Role(args.role)
            try:
                issued = await grants.invite(role, args.session, args.label, args.language)
            except Failure as exc:
                print(f"halqa: {_said(exc)}", file=sys.stderr)
                return 1
            where = f"session {args.session}" if args.session else "the whole event"
            if args.language:
                where += f", into {args.language}"
            print(f"{role.value} invite for {where}:")
            print(invite_url(settings.base_url, role, args.session, issued.token))
            print(issued.token)
            return 0
        if args.command == "revoke":
            revoked = await grants.revoke(args.token)
            if revoked is not None:
                await _announce_cut(settings.redis_url, revoked.key, revoked.grant_id)
                print("revoked")
                return 0
            print("halqa: no live token matches", file=sys.stderr)
            return 1
        raise AssertionError(args.command)
    finally:
        await db.close()


async def _announce_cut(redis_url: str | None, key: str, grant_id: int) -> None:
    """Running servers cut the revoked token's media and connections at once
    (through Redis). A single server without Redis is not reached from here:
    revoke through its HTTP API or dashboard to cut live media at once."""
    if not redis_url:
        return
    from server.realtime.bus import Bus
    from server.revocation import Cut, announce

    try:
        async with Bus(redis_url).running() as bus:
            await announce(bus, Cut(key, grant=grant_id))
    except Exception as exc:  # Redis down: the token is revoked all the same
        print(f"halqa: revoked, but live servers were not told ({exc!r})", file=sys.stderr)

if __name__ == "__main__":
    sys.exit(main())
