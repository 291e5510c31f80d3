"""The agent against the lab: log in with the pod's token, render KV v1 and v2, write the state."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.agent.lab import AGENT_COMMAND, AgentRun, Lab


def test_init_logs_in_with_kubernetes_auth_and_renders_kv_v2(agent: Callable[..., AgentRun]) -> None:
    run = agent(agent_inject_secret_db="secret/data/app/db")
    assert run.run("init") == 0, run.log()
    rendered = run.file("db")
    assert "data: map[password:correct-horse-battery port:5432 username:alice]" in rendered
    assert rendered.startswith("data: map[")
    assert stat.S_IMODE((run.secrets_dir / "db").stat().st_mode) == 0o644
    assert "authenticated" in run.log()


def test_custom_templates_perms_and_kv_v1(lab: Lab, agent: Callable[..., AgentRun]) -> None:
    lab.client.write("kv1/app/api", key="kv1-api-key-value", region="eu")
    lab.secrets.add("kv1-api-key-value")
    run = agent(
        agent_inject_secret_env="secret/data/app/db",
        agent_inject_template_env='{{ with secret "secret/data/app/db" }}export DB_USER="{{ .Data.data.username }}"\n'
        "export DB_PORT={{ .Data.data.port }}\n{{ end }}",
        agent_inject_perms_env="0400",
        agent_inject_secret_api="kv1/app/api",
        agent_inject_template_api='{{ with secret "kv1/app/api" }}{{ .Data | toJSON }}{{ end }}',
        agent_inject_file_api="config/api.json",
    )
    assert run.run("init") == 0, run.log()
    assert run.file("env") == 'export DB_USER="alice"\nexport DB_PORT=5432\n'
    assert stat.S_IMODE((run.secrets_dir / "env").stat().st_mode) == 0o400
    assert json.loads(run.file("config/api.json")) == {"key": "kv1-api-key-value", "region": "eu"}


def test_init_writes_state_for_the_sidecar_and_the_probe_markers(agent: Callable[..., AgentRun]) -> None:
    run = agent(agent_inject_secret_db="secret/data/app/db")
    assert run.run("init") == 0, run.log()
    state_file = run.state_dir / ".vaultinject-state.json"
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    state = json.loads(state_file.read_text())
    assert state["token"]["token"].startswith("hvs.")
    assert [d["path"] for d in state["dependencies"]] == ["secret/data/app/db"]
    assert (run.state_dir / ".vaultinject-started").exists()
    assert (run.state_dir / ".vaultinject-ready").exists()


def test_a_missing_secret_is_retried_until_it_appears(lab: Lab, agent: Callable[..., AgentRun]) -> None:
    run = agent(agent_inject_secret_late="secret/data/app/late")
    run.start("init")
    run.wait_for(lambda: "no secret at secret/data/app/late" in run.log(), what="the missing-secret error")
    lab.put("late", value="arrived-later")
    assert run.process is not None
    assert run.process.wait(timeout=20) == 0, run.log()
    assert "value:arrived-later" in run.file("late")


def test_exit_on_err_makes_a_refused_login_fatal(agent: Callable[..., AgentRun]) -> None:
    run = agent(
        role="no-such-role", agent_auto_auth_exit_on_err="true", agent_inject_secret_db="secret/data/app/db"
    )
    assert run.run("init") == 1
    assert "invalid role name" in run.log()
    assert "no-such-role" in run.log()


def test_a_bad_template_exits_2_naming_annotation_line_and_column(agent: Callable[..., AgentRun]) -> None:
    run = agent(agent_inject_template_bad="line one\n{{ if }}")
    assert run.run("init") == 2
    assert "vault.hashicorp.com/agent-inject-template-bad:2:6: missing value for if" in run.log()


def test_init_is_fast(agent: Callable[..., AgentRun]) -> None:
    run = agent(agent_inject_secret_db="secret/data/app/db")
    started = time.monotonic()
    assert run.run("init") == 0
    assert time.monotonic() - started < 5.0  # generous: the figure is measured by bench/agent.py
    assert os.listdir(run.secrets_dir) == ["db"]


@pytest.mark.parametrize(
    "entry",
    [
        [sys.executable, "-m", "vaultinject.agent"],
        [str(Path(sys.executable).with_name("vaultinject")), "agent"],
    ],
    ids=["python -m vaultinject.agent", "vaultinject agent"],
)
def test_every_entry_point_runs_the_same_agent(agent: Callable[..., AgentRun], entry: list[str]) -> None:
    run = agent(agent_inject_secret_db="secret/data/app/db")
    command = [
        *entry,
        "--mode",
        "init",
        "--annotations",
        str(run.root / "annotations"),
        "--state-dir",
        str(run.state_dir),
    ]
    finished = subprocess.run(command, env=run.env(), capture_output=True, text=True, timeout=30, check=False)
    assert finished.returncode == 0, finished.stderr
    assert "alice" in run.file("db")


def test_bad_options_exit_2_with_usage(agent: Callable[..., AgentRun]) -> None:
    finished = subprocess.run(
        [*AGENT_COMMAND, "--mode", "daemon"], capture_output=True, text=True, timeout=30, check=False
    )
    assert finished.returncode == 2
    assert "--mode must be one of init, sidecar, native" in finished.stderr


def test_the_injectors_ca_bundle_reaches_the_agent_through_its_environment(
    lab: Lab, agent: Callable[..., AgentRun]
) -> None:
    run = agent(agent_inject_secret_db="secret/data/app/db")
    annotations = (run.root / "annotations").read_text().splitlines()
    (run.root / "annotations").write_text("\n".join(line for line in annotations if "/ca-cert=" not in line))
    assert lab.vault.ca_file is not None
    assert run.run("init", VAULTINJECT_VAULT_CACERT_BYTES=lab.vault.ca_file.read_text()) == 0, run.log()
    assert "alice" in run.file("db")
