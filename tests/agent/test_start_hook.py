"""The native agent's postStart hook: it returns the moment the first render is complete, never fails."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.agent.lab import AgentRun

ENTRIES = {
    "vaultinject-agent": [str(Path(sys.executable).with_name("vaultinject-agent"))],
    "python -m vaultinject.agent": [sys.executable, "-m", "vaultinject.agent"],
}
STARTED = ".vaultinject-started"


def hook(*args: str, entry: str = "vaultinject-agent") -> subprocess.Popen[str]:
    return subprocess.Popen([*ENTRIES[entry], "--wait-for-start", *args], stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("entry", ENTRIES)
def test_the_hook_returns_as_soon_as_the_started_marker_exists(tmp_path: Path, entry: str) -> None:
    waiting = hook("20", str(tmp_path / STARTED), entry=entry)
    try:
        time.sleep(0.5)
        assert waiting.poll() is None  # no marker yet: still holding the app
        created = time.monotonic()
        (tmp_path / STARTED).touch()
        assert waiting.wait(timeout=10) == 0
        assert time.monotonic() - created < 0.5
    finally:
        waiting.kill()
        waiting.communicate()


def test_past_its_deadline_the_hook_returns_0_and_leaves_gating_to_the_startup_probe(tmp_path: Path) -> None:
    began = time.monotonic()
    assert hook("0.3", str(tmp_path / STARTED)).wait(timeout=10) == 0
    assert time.monotonic() - began >= 0.3


@pytest.mark.parametrize(
    "args", [(), ("5",), ("soon", "/m"), ("-1", "/m"), ("nan", "/m"), ("5000", "/m"), ("5", "/m", "x")]
)
def test_bad_hook_arguments_exit_2_naming_the_flag(args: tuple[str, ...]) -> None:
    waiting = hook(*args)
    _, err = waiting.communicate(timeout=10)
    assert waiting.returncode == 2
    assert "--wait-for-start" in err
    assert "Traceback" not in err


def test_the_hook_waits_for_the_real_agents_first_render(agent: Callable[..., AgentRun]) -> None:
    run = agent(agent_inject_secret_db="secret/data/app/db")
    returned: list[int] = []
    waiting = hook("20", str(run.state_dir / STARTED))
    threading.Thread(target=lambda: returned.append(waiting.wait(timeout=30)), daemon=True).start()
    run.start("native")
    try:
        run.wait_for(lambda: bool(returned), timeout=30)
        assert returned == [0]
        assert "data: map[password:correct-horse-battery" in run.file("db")  # the app's file exists
    finally:
        waiting.kill()
        waiting.communicate()
        run.stop()
