"""Shared fixtures: real Redis, real databases, the real app."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path

import pytest

from tests.support import Halqa, app_server, pg_reachable, redis_server, throwaway_pg


def _print_tasks(signum: int, frame: object) -> None:
    """`kill -USR1 <pytest pid>`: where every task of the running loop waits.

    A hung asyncio test sits idle in select(); thread dumps (faulthandler,
    py-spy) show only that. This shows the awaits."""
    loop = asyncio._get_running_loop()
    tasks = asyncio.all_tasks(loop) if loop is not None else set()
    print(f"\n--- {len(tasks)} asyncio tasks ---", file=sys.stderr)
    for task in tasks:
        task.print_stack(limit=12, file=sys.stderr)
    sys.stderr.flush()


signal.signal(signal.SIGUSR1, _print_tasks)

# In CI (.ci/run sets HALQA_STRICT_SKIPS) a test skipped for a missing tool
# fails instead: the README's test command installs every tool, so such a skip
# there means an install step is broken (it hid the RTMP ingest tests once).
STRICT_SKIPS = bool(os.environ.get("HALQA_STRICT_SKIPS"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if STRICT_SKIPS and report.skipped and "SKIPPED LOUDLY" in str(report.longrepr):
        report.outcome = "failed"
    return report


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    if not await pg_reachable():
        pytest.skip(
            "SKIPPED LOUDLY: no PostgreSQL at 127.0.0.1:5432 (set HALQA_TEST_PG); "
            "the PostgreSQL variant of this test did not run"
        )
    async with throwaway_pg() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Run the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'halqa.db'}"
        return
    if not await pg_reachable():
        pytest.skip("SKIPPED LOUDLY: no PostgreSQL at 127.0.0.1:5432; only SQLite was tested")
    async with throwaway_pg() as url:
        yield url


@pytest.fixture
async def live_app(tmp_path: Path) -> AsyncIterator[Halqa]:
    """The real app on SQLite and in-memory presence, on a free port."""
    async with app_server(tmp_path) as halqa:
        yield halqa
