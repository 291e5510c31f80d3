"""The `vaultinject` command's dispatch."""

from __future__ import annotations

import pytest

from vaultinject import __version__
from vaultinject.cli import main


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == __version__


def test_unknown_command_exits_2_and_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_no_command_prints_usage_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: vaultinject" in capsys.readouterr().out


def test_help_of_a_command_exits_0_through_the_dispatcher(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inject", "--help"]) == 0
    assert "--vault-addr" in capsys.readouterr().out


def test_a_bad_flag_exits_2_through_the_dispatcher(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--no-such-flag"]) == 2
    assert "unrecognized arguments: --no-such-flag" in capsys.readouterr().err
