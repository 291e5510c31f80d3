"""The agent reads its pod's annotations in the format the kubelet writes (Go's %q), judged by Go."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.budget import examples
from vaultinject.spec import parse_downward_annotations
from vaultinject.spec.downward import go_unquote

FORMATMAP = Path(__file__).parent / "formatmap" / "main.go"


@pytest.fixture(scope="module")
def formatmap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.skip("Go toolchain not found: install golang-go to judge the downward-API format with Go")
    workdir = tmp_path_factory.mktemp("formatmap")
    binary = workdir / "formatmap"
    env = {
        "GOCACHE": str(workdir / "cache"),
        "GOPATH": str(workdir / "gopath"),
        "HOME": str(workdir),
        "PATH": "/usr/bin:/bin",
    }
    subprocess.run(
        [go, "build", "-o", str(binary), str(FORMATMAP)],
        check=True,
        env=env,
        capture_output=True,
        timeout=120,
    )
    return binary


def kubelet_format(binary: Path, annotations: dict[str, str]) -> str:
    return subprocess.run(
        [str(binary)], input=json.dumps(annotations), capture_output=True, text=True, check=True
    ).stdout


TRICKY = {
    "vault.hashicorp.com/agent-inject-template-db": '{{ with secret "db" }}\n  export A="{{ .Data.a }}"\t\\n{{ end }}\n',
    "vault.hashicorp.com/agent-inject": "true",
    "unicode": "héllo ☃ \U0001f512 \u200b zero-width",
    "controls": "\x00\x01\x07\x1b\x7f",
    "quotes": "'single' \"double\" `back`",
    "empty": "",
}


def test_tricky_values_round_trip_through_gos_quoting(formatmap: Path) -> None:
    assert parse_downward_annotations(kubelet_format(formatmap, TRICKY)) == TRICKY


@settings(max_examples=examples(60), deadline=None)
@given(st.dictionaries(st.from_regex(r"[a-z0-9./-]{1,20}", fullmatch=True), st.text(max_size=40), max_size=6))
def test_any_annotations_round_trip(formatmap: Path, annotations: dict[str, str]) -> None:
    assert parse_downward_annotations(kubelet_format(formatmap, annotations)) == annotations


@pytest.mark.parametrize(
    ("quoted", "value"),
    [('"plain"', "plain"), (r'"a\nb\tc"', "a\nb\tc"), (r'"\x41\u00e9\U0001f512"', "Aé\U0001f512"), (r'"\101"', "A"),
     (r'"\\ \""', '\\ "')],
)  # fmt: skip
def test_go_escapes(quoted: str, value: str) -> None:
    assert go_unquote(quoted) == value


@pytest.mark.parametrize(
    ("line", "fragment"),
    [("novalue", "not key="), ('k="unterminated', "double-quoted"), (r'k="\q"', "unknown escape")],
)
def test_malformed_lines_name_the_line(line: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=f"line 2.*{fragment}"):
        parse_downward_annotations('ok="1"\n' + line)
