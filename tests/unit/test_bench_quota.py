"""bench.cluster's CPU quota: the group caps what it is told and always goes away.

The capacity benchmark leaves cgroups behind only if removal fails with a
process still inside, so that is what this checks (a real cgroup v1 group
and a real process; skipped where /sys/fs/cgroup/cpu is not writable).
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from bench.cluster import Quota, _remove_quotas, _steps

pytestmark = pytest.mark.skipif(not os.access(Quota.ROOT, os.W_OK),
                                reason="needs a writable cgroup v1 cpu hierarchy (root)")


def test_a_group_with_a_process_still_inside_is_removed_and_the_process_lives_on() -> None:
    quota = Quota(f"halqa-test-{os.getpid()}", 0.2, 10_000)
    procs = quota.path / "cgroup.procs"
    # As the benchmark starts its servers: into the group before exec.
    proc = subprocess.Popen(["sh", "-c", 'echo $$ > "$0" && exec sleep 60', str(procs)])
    try:
        deadline = time.monotonic() + 10
        while str(proc.pid) not in procs.read_text().split() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert str(proc.pid) in procs.read_text().split()
        assert (quota.path / "cpu.cfs_quota_us").read_text().strip() == "2000"
        assert (quota.path / "cpu.cfs_period_us").read_text().strip() == "10000"
        _remove_quotas()
        assert not quota.path.exists()
        assert proc.poll() is None  # moved back to the root group, not killed
        assert str(proc.pid) in (Quota.ROOT / "cgroup.procs").read_text().split()
    finally:
        proc.kill()
        proc.wait()
        _remove_quotas()


def test_steps_as_a_list_or_a_range() -> None:
    assert _steps("50,100,150") == [50, 100, 150]
    assert _steps("60:80:10") == [60, 70, 80]
