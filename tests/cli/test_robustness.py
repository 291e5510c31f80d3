"""The command never shows a traceback: help for every command, Ctrl-C, a closed pipe, any input."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.budget import examples
from tests.injector.strategies import json_values, pod_like
from vaultinject import cli
from vaultinject.cli import SUBCOMMANDS, main
from vaultinject.cli.lab import SERVERS

ADDR = ["--vault-addr", "https://vault:8200"]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "argv",
    [[name, flag] for name in SUBCOMMANDS for flag in ("--help", "-h")]
    + [["lab", server, "--help"] for server in SERVERS]
    + [["--help"], ["help"]],
)
def test_every_command_prints_its_help_and_exits_0(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "usage:" in out
    assert err == ""


def test_the_agent_help_names_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agent", "--mode", "init", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: vaultinject-agent --mode init|sidecar|native")
    assert "--annotations FILE" in out
    assert "--state-dir DIR" in out


def test_the_agent_console_script_prints_help_too() -> None:
    done = subprocess.run(
        [BIN / "vaultinject-agent", "--help"], check=False, capture_output=True, text=True, timeout=30
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert "usage: vaultinject-agent" in done.stdout


def test_an_unknown_lab_server_is_named_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "nope"]) == 2
    assert "unknown lab server 'nope'" in capsys.readouterr().err


class Interrupting(io.StringIO):
    """A stdin that the user interrupts with Ctrl-C while it is read."""

    def read(self, _size: int | None = -1) -> str:
        raise KeyboardInterrupt


@pytest.mark.parametrize("command", ["inject", "explain"])
def test_ctrl_c_while_reading_stdin_exits_130_with_one_line(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", Interrupting())
    assert main([command, *ADDR]) == 130
    assert capsys.readouterr() == ("", f"vaultinject {command}: interrupted\n")


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_ctrl_c_during_any_command_exits_130(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(argv: list[str]) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "import_module", lambda _name: types.SimpleNamespace(main=interrupted))
    assert main([command]) == 130
    assert capsys.readouterr().err == f"vaultinject {command}: interrupted\n"


def _reading_stdin(pid: int) -> bool:
    """Whether the process is blocked in read(0, ...) (Linux's /proc/PID/syscall)."""
    try:
        return Path(f"/proc/{pid}/syscall").read_text().startswith("0 0x0 ")
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/syscall").exists(), reason="needs Linux /proc/PID/syscall")
def test_a_real_ctrl_c_while_inject_reads_stdin_exits_130_without_a_traceback() -> None:
    process = subprocess.Popen(
        [BIN / "vaultinject", "inject", *ADDR],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not _reading_stdin(process.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert (process.returncode, out, err) == (130, "", "vaultinject inject: interrupted\n")


class ClosedPipe(io.StringIO):
    def write(self, _text: str) -> int:
        raise BrokenPipeError


def test_a_reader_that_goes_away_ends_the_command_quietly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(yaml.safe_dump({"kind": "Pod", "metadata": {"name": "p"}, "spec": {}}))
    monkeypatch.setattr("sys.stdout", ClosedPipe())
    assert main(["inject", "-f", str(manifest), *ADDR]) == 141
    assert capsys.readouterr().err == ""


def run_inject(
    text: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    code = main(["inject", *ADDR])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: Pod\nx: " + "[" * 600 + "]" * 600, "error: <stdin>: YAML nested more than 100 levels deep"),
        ("kind: Pod\nx: " + "[" * 150 + "]" * 150, "error: <stdin>: nested more than 100 levels deep"),
        ('{"kind": "Pod", "x": ' + "[" * 150 + "]" * 150 + "}", "error: <stdin>: JSON nested more than 100"),
        ('{"kind": "Pod", "x": NaN}', "error: <stdin>: invalid JSON at line 1 column 1: NaN is not JSON"),
        ("kind: Pod\nx: " + "1" * 5000, "error: <stdin>: invalid YAML: Exceeds the limit"),
        ("kind: Pod\nx: !!binary aGk=", "error: <stdin>: a YAML bytes value has no JSON form"),
        ("kind: Pod\nx: !!set {a}", "error: <stdin>: a YAML set value has no JSON form"),
        ("kind: Pod\nx: !!bool x", "error: <stdin>: invalid YAML: 'x' is not a valid !!bool"),
        ("kind: Pod\nx: !!timestamp x", "error: <stdin>: invalid YAML: 'x' is not a valid !!timestamp"),
        ("kind: Pod\nx: !!int ''", "error: <stdin>: invalid YAML: '' is not a valid !!int"),
        (
            "kind: Pod\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{b}: &{b} [{', '.join(['*' + a] * 10)}]\n"
                for a, b in zip("abcdefg", "bcdefgh", strict=True)
            ),
            "error: <stdin>: more than 1000000 values (a YAML alias bomb?)",
        ),
    ],
)
def test_hostile_manifests_get_an_error_naming_the_input(
    text: str, message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_inject(text, monkeypatch, capsys)
    assert (code, out) == (1, "")
    assert err.startswith(message)
    assert "Traceback" not in err


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = tmp_path / "blob.yaml"
    binary.write_bytes(b"kind: Pod\n\xff\xfe")
    assert main(["inject", "-f", str(binary), *ADDR]) == 1
    assert capsys.readouterr().err == f"error: {binary}: not UTF-8 text (byte 10)\n"


def test_dates_stay_strings_as_kubectl_sends_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "kind: Pod\nmetadata:\n  name: p\n  labels: {released: 2024-01-31, at: !!timestamp 2024-02-01}\n"
    code, out, _ = run_inject(text, monkeypatch, capsys)
    assert code == 0
    assert yaml.safe_load(out)["metadata"]["labels"] == {"released": "2024-01-31", "at": "2024-02-01"}


def test_an_unquoted_annotation_says_to_quote_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "kind: Pod\nmetadata:\n  name: web\n  annotations:\n    vault.hashicorp.com/agent-inject: true\n"
        "    vault.hashicorp.com/role: web\n    vault.hashicorp.com/agent-run-as-user: 1000\n"
        "spec:\n  containers: [{name: app, image: app}]\n"
    )
    code, _, err = run_inject(text, monkeypatch, capsys)
    assert code == 1
    assert err.splitlines() == [
        'error: Pod/web: vault.hashicorp.com/agent-inject: must be a string; quote it: "true"',
        'error: Pod/web: vault.hashicorp.com/agent-run-as-user: must be a string; quote it: "1000"',
    ]


def test_a_malformed_workload_template_is_reported_with_paths(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "kind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    metadata:\n      annotations:\n"
        "        vault.hashicorp.com/agent-inject: 'true'\n        vault.hashicorp.com/role: web\n"
        "    spec:\n      containers: [{name: app, volumeMounts: [str, {name: x}]}]\n"
    )
    code, _, err = run_inject(text, monkeypatch, capsys)
    assert code == 1
    assert err.splitlines() == [
        "error: Deployment/web: spec.containers[0].volumeMounts[0]: must be a mapping, not a string",
        "error: Deployment/web: spec.containers[0].volumeMounts[1].mountPath: required",
    ]


# Property: any YAML document, in-process: exit 0, or 1 with error lines; an exception fails the test.

KINDS = ["Pod", "Deployment", "CronJob", "Job", "PodTemplate", "List", "ConfigMap"]


def wrapped(kind: str, pod: Any, extra: Any) -> Any:
    """A pod-like structure where `kind` keeps its pod (template), with any other value beside it."""
    if kind == "Pod":
        return {"kind": kind, **pod} if isinstance(pod, dict) else {"kind": kind, "spec": pod}
    if kind == "CronJob":
        return {"kind": kind, "spec": {"jobTemplate": {"spec": {"template": pod}}}, "x": extra}
    if kind == "PodTemplate":
        return {"kind": kind, "template": pod}
    if kind == "List":
        return {"kind": kind, "items": [{"kind": "Pod", "metadata": extra}, extra]}
    return {"kind": kind, "metadata": extra, "spec": {"template": pod}}


documents = st.one_of(
    st.builds(wrapped, st.sampled_from(KINDS), pod_like, json_values).map(
        lambda document: yaml.safe_dump(document, sort_keys=False)
    ),
    st.lists(json_values, max_size=3).map(yaml.safe_dump_all),
    st.text(alphabet=st.sampled_from("kind: Pod\n-[]{}&*!'\"1t.#%@|>"), max_size=60),
    st.sampled_from(
        ["!!binary", "!!set", "!!timestamp", "!!float", "!!python/name:os.system", "&a", "*a"]
    ).map(lambda tag: f"kind: Pod\nmetadata: {{name: {tag} x}}\nspec: {tag} 2024-01-01\n"),
)


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents, st.sampled_from(["yaml", "json"]))
def test_any_yaml_document_exits_0_or_1_with_an_error_line(text: str, output: str) -> None:
    stdin, stdout, stderr = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = io.StringIO(text), io.StringIO(), io.StringIO()
    try:
        code = main(["inject", "-o", output, *ADDR])
        err = sys.stderr.getvalue()
    finally:
        sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
    event(f"exit {code}")
    assert code in (0, 1)
    if code == 1:
        assert err.startswith(("error: ", "warning: "))
        assert any(line.startswith("error: ") for line in err.splitlines())
        assert "Traceback" not in err
