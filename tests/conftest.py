"""Session checks: a whole test run leaves no mount, process or temporary directory behind."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.leftovers import Snapshot

# pytest's own base temporary directory is managed (and pruned) by pytest itself.
PYTEST_TEMP = {"pytest-of-root"}


@pytest.fixture(scope="session", autouse=True)
def no_leftovers() -> Iterator[None]:
    before = Snapshot.take()
    yield
    deadline = time.monotonic() + 10
    while (problems := before.leftovers(PYTEST_TEMP)) and time.monotonic() < deadline:
        time.sleep(0.2)  # processes being reaped, lazy unmounts finishing
    assert not problems, "\n".join(problems)
