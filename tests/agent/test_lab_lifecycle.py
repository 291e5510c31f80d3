"""The agent keeping secrets fresh: lease renewal and re-issue, token renewal, static re-render,
commands, the sidecar resuming the init container's state, and SIGTERM."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import hvac
import pytest

from tests.agent.lab import SHORT_CREDS_TEMPLATE, AgentRun, Lab, short_lived_credentials, valid_credentials

CREDS_TEMPLATE = '{{ with secret "database/creds/app" }}{{ .Data.username }} {{ .Data.password }}{{ end }}'


def username(run: AgentRun) -> str:
    return run.file("creds").split()[0]


def started(run: AgentRun) -> Callable[[], bool]:
    return (run.state_dir / ".vaultinject-started").exists


@pytest.mark.slow
def test_native_renews_a_dynamic_lease_then_reissues_it_before_its_max_ttl(
    lab: Lab, agent: Callable[..., AgentRun]
) -> None:
    short_lived_credentials(lab, ttl="3s", max_ttl="7s")
    run = agent(role="short", log_level="debug", agent_inject_secret_creds="database/creds/short",
                agent_inject_template_creds=SHORT_CREDS_TEMPLATE)  # fmt: skip
    run.start("native")
    run.wait_for(started(run), what="the first render")
    first = username(run)
    assert first in valid_credentials(lab)
    run.wait_for(lambda: "lease renewed" in run.log(), timeout=10, what="a lease renewal")
    run.wait_for(lambda: username(run) != first, timeout=15, what="a re-issued credential")
    second = username(run)
    assert second in valid_credentials(lab)
    run.wait_for(
        lambda: first not in valid_credentials(lab), timeout=10, what="the first credential to expire"
    )
    assert (run.state_dir / ".vaultinject-ready").exists()


def test_the_token_is_renewed_instead_of_logging_in_again(lab: Lab, agent: Callable[..., AgentRun]) -> None:
    lab.client.write(
        "auth/kubernetes/role/shortlived",
        bound_service_account_names="app",
        bound_service_account_namespaces="demo",
        token_policies="app",
        token_ttl="3s",
        token_max_ttl="1h",
    )
    run = agent(role="shortlived", log_level="debug", agent_inject_secret_db="secret/data/app/db")
    run.start("native")
    run.wait_for(lambda: run.log().count("token renewed") >= 2, timeout=15, what="two token renewals")
    assert run.log().count("authenticated") == 1


def test_static_secrets_are_reread_and_a_change_rerenders_and_runs_the_command(
    lab: Lab, agent: Callable[..., AgentRun]
) -> None:
    marker = lab.workdir / "command-ran"
    run = agent(template_static_secret_render_interval="500ms", agent_inject_secret_db="secret/data/app/db",
                agent_inject_template_db='{{ with secret "secret/data/app/db" }}{{ .Data.data.username }}{{ end }}',
                agent_inject_command_db=f"echo ran >> {marker}")  # fmt: skip
    run.start("native")
    run.wait_for(started(run), what="the first render")
    assert run.file("db") == "alice"
    assert marker.read_text() == "ran\n"
    time.sleep(1.2)
    assert marker.read_text() == "ran\n", "an unchanged secret must not re-run the command"
    lab.put("db", username="bob", password="correct-horse-battery", port=5432)
    try:
        run.wait_for(lambda: run.file("db") == "bob", timeout=10, what="the re-render")
        run.wait_for(lambda: marker.read_text() == "ran\nran\n", timeout=5, what="the command")
    finally:
        lab.put("db", username="alice", password="correct-horse-battery", port=5432)


def test_the_classic_sidecar_resumes_without_a_second_login_or_credential(
    lab: Lab, agent: Callable[..., AgentRun]
) -> None:
    run = agent(agent_inject_secret_creds="database/creds/app", agent_inject_template_creds=CREDS_TEMPLATE)
    assert run.run("init") == 0, run.log()
    issued, before = username(run), valid_credentials(lab)
    rendered_at = (run.secrets_dir / "creds").stat().st_mtime_ns
    run.start("sidecar")
    run.wait_for(lambda: "resumed from saved state" in run.log(), what="the resume")
    run.wait_for(lambda: run.log().count("secrets rendered") == 2, what="the sidecar's first pass")
    assert run.log().count("authenticated") == 1
    assert username(run) == issued
    assert (run.secrets_dir / "creds").stat().st_mtime_ns == rendered_at
    assert valid_credentials(lab) == before


def test_sigterm_revokes_the_token_and_leases_and_exits_within_a_second(
    lab: Lab, agent: Callable[..., AgentRun]
) -> None:
    run = agent(agent_revoke_on_shutdown="true", agent_inject_secret_creds="database/creds/app",
                agent_inject_template_creds=CREDS_TEMPLATE)  # fmt: skip
    run.start("native")
    run.wait_for(started(run), what="the first render")
    issued = username(run)
    token = json.loads((run.state_dir / ".vaultinject-state.json").read_text())["token"]["token"]
    assert issued in valid_credentials(lab)
    stopped_at = time.monotonic()
    assert run.stop() == 0
    assert time.monotonic() - stopped_at < 1.0
    assert issued not in valid_credentials(lab)
    with pytest.raises(hvac.exceptions.Forbidden):
        hvac.Client(url=lab.vault.url, token=token, verify=str(lab.vault.ca_file)).auth.token.lookup_self()
    assert "revoked the token" in run.log()


def test_sigterm_without_revoke_leaves_the_credentials_alive(
    lab: Lab, agent: Callable[..., AgentRun]
) -> None:
    run = agent(agent_inject_secret_creds="database/creds/app", agent_inject_template_creds=CREDS_TEMPLATE)
    run.start("native")
    run.wait_for(started(run), what="the first render")
    assert run.stop() == 0
    assert username(run) in valid_credentials(lab)
