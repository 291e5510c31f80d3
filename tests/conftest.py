"""Session checks: a whole test run leaves no mount, process or temporary directory behind.

Each run (each pytest-xdist worker) gets a temporary directory of its own (`TMPDIR`, inherited by every subprocess), so what other
programs on a shared machine put in /tmp cannot be mistaken for the suite's leftovers.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.leftovers import Snapshot

# pytest's own base temporary directory is managed (and pruned) by pytest itself.
PYTEST_TEMP = {"pytest-of-root"}
# Caches that libraries keep on purpose (lark's grammar cache, written during the run).
CACHE_PREFIXES = (".lark_cache_",)
# Each run (each pytest-xdist worker) gets a temporary directory of its own with this prefix.
RUN_PREFIX = "vaultinject-tests-"


def _run_library_exit_cleanups() -> None:
    """The official Kubernetes client deletes its CA/cert temp files at interpreter exit; run that now, so
    only what the suite itself leaves is counted."""
    module = sys.modules.get("kubernetes.config.kube_config")
    cleanup = getattr(module, "_cleanup_temp_files", None)
    if callable(cleanup):
        cleanup()


def _leftovers(before: Snapshot, private: str) -> list[str]:
    _run_library_exit_cleanups()
    allowed = PYTEST_TEMP | {n for n in os.listdir(tempfile.gettempdir()) if n.startswith(CACHE_PREFIXES)}
    runs = os.path.join(os.path.dirname(private), RUN_PREFIX)

    def another_workers(mount: str) -> bool:
        return mount.startswith(runs) and not mount.startswith(private + "/")

    return before.leftovers(allowed, another_workers)


@pytest.fixture(scope="session", autouse=True)
def no_leftovers() -> Iterator[None]:
    private = tempfile.mkdtemp(prefix=RUN_PREFIX)
    saved = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"], tempfile.tempdir = private, private
    before = Snapshot.take()
    try:
        yield
        deadline = time.monotonic() + 10
        while (problems := _leftovers(before, private)) and time.monotonic() < deadline:
            time.sleep(0.2)  # processes being reaped, lazy unmounts finishing
        assert not problems, "\n".join(problems)
    finally:
        if saved[0] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved[0]
        tempfile.tempdir = saved[1]
        if not [n for n in os.listdir(private) if n not in PYTEST_TEMP and not n.startswith(CACHE_PREFIXES)]:
            shutil.rmtree(private, ignore_errors=True)


# Tests that run lab nodes bind pod IPs and Service addresses from the lab's fixed plan (127.244.i.0/24,
# 127.96.0.0/16), so two of them at once would collide: under pytest-xdist they all go to one worker.
# (xdist's own `loadgroup` cannot do it on pytest 9.2, which no longer reads the node id it rewrites.)
CLUSTER_DIRECTORIES = {"lab_cluster", "lab_up", "lab_kubelet", "lab_network"}


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Every test on its own, except the cluster tests: one unit, scheduled first as the largest."""
    from xdist.scheduler import LoadScopeScheduling

    class ClusterTestsTogether(LoadScopeScheduling):  # type: ignore[misc]  # xdist is untyped
        def _split_scope(self, nodeid: str) -> str:
            directories = set(nodeid.split("::", 1)[0].split("/"))
            return "cluster" if CLUSTER_DIRECTORIES & directories else nodeid

    return ClusterTestsTogether(config, log)
