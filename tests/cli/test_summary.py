"""`vaultinject inject --summary`: the closing summary `make demo` ends with."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.cli.test_inject import ADDR, EXAMPLES, run


def test_summary_names_every_pod_its_mode_and_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["inject", "-f", str(EXAMPLES), *ADDR, "--summary"], capsys)
    assert code == 0
    documents = [d for f in sorted(EXAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text())]
    assert len(list(yaml.safe_load_all(out))) == len(documents)
    summary = err[err.index("summary:") :].splitlines()
    assert summary[0] == "summary: 4 pod(s) or pod template(s): 3 injected, 1 passed through unchanged"
    lines = {line.split("(namespace")[0].split()[-1]: line for line in summary[1:]}
    assert "mode native, 2 secret(s): db.env, payment-api" in lines["Deployment/orders"]
    assert "mode classic, 1 secret(s): config.json" in lines["Pod/payments"]
    assert "mode init-only, 1 secret(s): warehouse" in lines["CronJob/nightly-report"]
    assert lines["Deployment/storefront"].lstrip().startswith("unchanged")


def test_no_summary_unless_asked(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["inject", "-f", str(EXAMPLES), *ADDR], capsys)
    assert code == 0
    assert "summary:" not in err


def test_summary_is_not_printed_for_rejected_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n"
        '    vault.hashicorp.com/agent-inject: "true"\n'
        '    vault.hashicorp.com/agent-inject-secret-x: "kv/x"\n'
        '    vault.hashicorp.com/agent-run-as-user: "nobody"\n'
        "spec:\n  containers: [{name: app, image: app}]\n"
    )
    code, out, err = run(["inject", "-f", str(bad), *ADDR, "--summary"], capsys)
    assert code == 1
    assert out == ""
    assert "summary:" not in err
    assert "agent-run-as-user" in err
