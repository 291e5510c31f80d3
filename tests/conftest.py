"""Session checks: a whole test run leaves no mount, process or temporary directory behind.

The run gets a temporary directory of its own (`TMPDIR`, inherited by every subprocess), so what other
programs on a shared machine put in /tmp cannot be mistaken for the suite's leftovers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator

import pytest

from tests.leftovers import Snapshot

# pytest's own base temporary directory is managed (and pruned) by pytest itself.
PYTEST_TEMP = {"pytest-of-root"}


@pytest.fixture(scope="session", autouse=True)
def no_leftovers() -> Iterator[None]:
    private = tempfile.mkdtemp(prefix="vaultinject-tests-")
    saved = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"], tempfile.tempdir = private, private
    before = Snapshot.take()
    try:
        yield
        deadline = time.monotonic() + 10
        while (problems := before.leftovers(PYTEST_TEMP)) and time.monotonic() < deadline:
            time.sleep(0.2)  # processes being reaped, lazy unmounts finishing
        assert not problems, "\n".join(problems)
    finally:
        if saved[0] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved[0]
        tempfile.tempdir = saved[1]
        if set(os.listdir(private)) <= PYTEST_TEMP:
            shutil.rmtree(private, ignore_errors=True)
