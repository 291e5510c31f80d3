"""The native agent's postStart hook: it returns the moment the first render is complete, never fails."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.agent.lab import AgentRun

HOOK = shutil.which("vaultinject-agent") or str(Path(sys.executable).with_name("vaultinject-agent"))


def hook(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([HOOK, "--wait-for-start", *args], stderr=subprocess.PIPE, text=True)


def test_the_hook_returns_as_soon_as_the_started_marker_exists(tmp_path: Path) -> None:
    waiting = hook("20", "--state-dir", str(tmp_path))
    time.sleep(0.5)
    assert waiting.poll() is None  # no marker yet: still holding the app
    created = time.monotonic()
    (tmp_path / ".vaultinject-started").touch()
    assert waiting.wait(timeout=10) == 0
    assert time.monotonic() - created < 0.5


def test_past_its_deadline_the_hook_returns_0_and_leaves_gating_to_the_startup_probe(tmp_path: Path) -> None:
    began = time.monotonic()
    assert hook("0.3", "--state-dir", str(tmp_path)).wait(timeout=10) == 0
    assert time.monotonic() - began >= 0.3


@pytest.mark.parametrize("args", [(), ("soon",), ("-1",), ("nan",), ("5000",), ("5", "--mode", "native")])
def test_bad_hook_arguments_exit_2_naming_the_flag(args: tuple[str, ...]) -> None:
    waiting = hook(*args)
    _, err = waiting.communicate(timeout=10)
    assert waiting.returncode == 2
    assert "--wait-for-start" in err
    assert "Traceback" not in err


def test_the_hook_waits_for_the_real_agents_first_render(agent: Callable[..., AgentRun]) -> None:
    run = agent(agent_inject_secret_db="secret/data/app/db")
    returned: list[float] = []
    waiting = hook("20", "--state-dir", str(run.state_dir))
    threading.Thread(target=lambda: returned.append(waiting.wait(timeout=30)), daemon=True).start()
    run.start("native")
    try:
        run.wait_for(lambda: bool(returned), timeout=30)
        assert returned == [0]
        assert "data: map[password:correct-horse-battery" in run.file("db")  # the app's file exists
    finally:
        run.stop()
