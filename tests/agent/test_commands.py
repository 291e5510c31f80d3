"""`agent-inject-command-*`: output logged, failure and timeout logged, never fatal."""

from __future__ import annotations

import io

from vaultinject.agent.commands import run_command
from vaultinject.agent.logs import Logger


def run(command: str, timeout: float = 5.0) -> tuple[bool, str]:
    stream = io.StringIO()
    ok = run_command(command, Logger(stream=stream), file="/vault/secrets/db", timeout=timeout)
    return ok, stream.getvalue()


def test_a_command_that_succeeds_has_its_output_logged() -> None:
    ok, log = run("echo reloaded")
    assert ok
    assert 'command ran file=/vault/secrets/db command="echo reloaded" output=reloaded' in log


def test_a_failing_command_is_logged_with_its_exit_code_and_output() -> None:
    ok, log = run("echo nope >&2; exit 3")
    assert not ok
    assert "[ERROR]" in log
    assert "exit_code=3 output=nope" in log


def test_a_command_that_hangs_is_stopped_by_its_timeout() -> None:
    ok, log = run("sleep 10", timeout=0.3)
    assert not ok
    assert "command timed out" in log
    assert "timeout=0.3s" in log
