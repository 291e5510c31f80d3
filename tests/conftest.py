"""Session checks: a whole test run leaves no mount, process or temporary directory behind.

The run gets a temporary directory of its own (`TMPDIR`, inherited by every subprocess), so what other
programs on a shared machine put in /tmp cannot be mistaken for the suite's leftovers.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator

import pytest

from tests.leftovers import Snapshot

# pytest's own base temporary directory is managed (and pruned) by pytest itself.
PYTEST_TEMP = {"pytest-of-root"}
# Caches that libraries keep on purpose (lark's grammar cache, written during the run).
CACHE_PREFIXES = (".lark_cache_",)


def _run_library_exit_cleanups() -> None:
    """The official Kubernetes client deletes its CA/cert temp files at interpreter exit; run that now, so
    only what the suite itself leaves is counted."""
    module = sys.modules.get("kubernetes.config.kube_config")
    cleanup = getattr(module, "_cleanup_temp_files", None)
    if callable(cleanup):
        cleanup()


def _leftovers(before: Snapshot) -> list[str]:
    _run_library_exit_cleanups()
    allowed = PYTEST_TEMP | {n for n in os.listdir(tempfile.gettempdir()) if n.startswith(CACHE_PREFIXES)}
    return before.leftovers(allowed)


@pytest.fixture(scope="session", autouse=True)
def no_leftovers() -> Iterator[None]:
    private = tempfile.mkdtemp(prefix="vaultinject-tests-")
    saved = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"], tempfile.tempdir = private, private
    before = Snapshot.take()
    try:
        yield
        deadline = time.monotonic() + 10
        while (problems := _leftovers(before)) and time.monotonic() < deadline:
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
