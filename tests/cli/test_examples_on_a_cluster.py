"""The injected examples are objects a Kubernetes API server accepts (the lab's, judged by kubectl)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from vaultinject.cli import main
from vaultinject.lab.kube.harness import LabKube, in_process_kube

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabKube]:
    with in_process_kube(tmp_path_factory.mktemp("kube")) as server:
        for namespace in ("shop", "finance"):
            server.ensure_namespace(namespace)
        server.ensure_service_account("shop", "payments")  # the example pod runs as it
        yield server


def test_kubectl_applies_every_injected_example(
    kube: LabKube, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inject", "-f", str(EXAMPLES), "--vault-addr", "https://vault.vault.svc:8200"]) == 0
    injected = tmp_path / "injected.yaml"
    injected.write_text(capsys.readouterr().out)
    applied = subprocess.run(
        ["kubectl", "apply", "-f", str(injected)],
        env=kube.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert applied.returncode == 0, applied.stderr
    assert "pod/payments created" in applied.stdout
    assert "deployment.apps/orders created" in applied.stdout
    assert "cronjob.batch/nightly-report created" in applied.stdout
    pod = kube.call("GET", "/api/v1/namespaces/shop/pods/payments")
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["vault-agent-init", "migrate"]
    assert pod["metadata"]["annotations"]["vault.hashicorp.com/agent-inject-status"] == "injected"
