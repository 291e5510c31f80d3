"""Kubernetes service registration: each server labels its own pod through the lab API server, and kubectl
sees which pod is active (cluster-fidelity 6.4, 6.6)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import hvac
import pytest

from vaultinject.lab.kube.harness import LabKube, in_process_kube
from vaultinject.lab.vault.config import VERSION, RegistrationConfig, ServerConfig
from vaultinject.lab.vault.harness import VaultCluster, vault_cluster
from vaultinject.lab.vault.registration import NAMESPACE_MISSING, NOT_IN_CLUSTER
from vaultinject.lab.vault.server import VaultServer

ROOT = "lab-root"
NAMESPACE = "vault"
RBAC = "/apis/rbac.authorization.k8s.io/v1"
KUBECTL = shutil.which("kubectl")


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[LabKube]:
    with in_process_kube(tmp_path / "kube") as server:
        yield server


def vault_namespace(kube: LabKube, directory: Path) -> Path:
    """Namespace `vault`, the Role vault-helm grants its service account, and that account's token."""
    kube.ensure_namespace(NAMESPACE)
    kube.ensure_service_account(NAMESPACE, "vault")
    rule = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "watch", "list", "update", "patch"]}
    role = {"metadata": {"name": "vault-discovery-role"}, "rules": [rule]}
    kube.call("POST", f"{RBAC}/namespaces/{NAMESPACE}/roles", role)
    binding = {
        "metadata": {"name": "vault-discovery-rolebinding"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "vault-discovery-role"},
        "subjects": [{"kind": "ServiceAccount", "name": "vault", "namespace": NAMESPACE}],
    }
    kube.call("POST", f"{RBAC}/namespaces/{NAMESPACE}/rolebindings", binding)
    token_file = directory / "sa-token"
    token_file.write_text(kube.mint_token(NAMESPACE, "vault"))
    return token_file


def create_pod(kube: LabKube, name: str, labels: dict[str, str] | None) -> None:
    metadata: dict[str, Any] = {"name": name}
    if labels is not None:
        metadata["labels"] = labels
    spec = {"serviceAccountName": "vault", "containers": [{"name": "vault", "image": "hashicorp/vault"}]}
    kube.call("POST", f"/api/v1/namespaces/{NAMESPACE}/pods", {"metadata": metadata, "spec": spec})


def labels(kube: LabKube, pod: str) -> dict[str, str]:
    return dict(
        kube.call("GET", f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}")["metadata"].get("labels") or {}
    )


def vault_labels(kube: LabKube, pod: str) -> dict[str, str]:
    return {key: value for key, value in labels(kube, pod).items() if key.startswith("vault-")}


def state(*, active: bool, sealed: bool = False, initialized: bool = True) -> dict[str, str]:
    return {
        "vault-active": str(active).lower(),
        "vault-initialized": str(initialized).lower(),
        "vault-sealed": str(sealed).lower(),
        "vault-perf-standby": "false",
        "vault-version": VERSION,
    }


def wait_for_labels(kube: LabKube, pod: str, expected: dict[str, str], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while (current := vault_labels(kube, pod)) != expected:
        assert time.monotonic() < deadline, f"{pod} labels {current}, expected {expected}"
        time.sleep(0.05)


def kubectl_active_pods(kube: LabKube) -> list[str]:
    assert KUBECTL is not None
    result = subprocess.run(
        [KUBECTL, "get", "pods", "-n", NAMESPACE, "-l", "vault-active=true", "-o", "name"],
        check=True,
        env=kube.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return sorted(result.stdout.split())


@contextmanager
def registered_cluster(kube: LabKube, directory: Path) -> Iterator[VaultCluster]:
    token_file = vault_namespace(kube, directory)
    create_pod(kube, "vault-0", {"app.kubernetes.io/name": "vault"})  # labelled: one replace per label
    create_pod(kube, "vault-1", None)  # no labels at all: one add of /metadata/labels
    api = urlsplit(kube.url)
    environment = {
        "KUBERNETES_SERVICE_HOST": api.hostname or "",
        "KUBERNETES_SERVICE_PORT": str(api.port),
        "VAULT_K8S_NAMESPACE": NAMESPACE,
    }
    args = ["--local-sa-token-file", str(token_file), "--local-ca-cert-file", str(kube.ca_file)]
    with vault_cluster(
        2,
        root_token=ROOT,
        extra_args=args,
        node_env=lambda index: {**environment, "VAULT_K8S_POD_NAME": f"vault-{index}"},
        workdir=directory / "vault",
    ) as cluster:
        yield cluster


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_pods_are_labelled_and_the_label_follows_the_active_node(kube: LabKube, tmp_path: Path) -> None:
    with registered_cluster(kube, tmp_path) as cluster:
        first, second = cluster.nodes
        assert cluster.active() is first
        wait_for_labels(kube, "vault-0", state(active=True))
        wait_for_labels(kube, "vault-1", state(active=False))
        assert labels(kube, "vault-0")["app.kubernetes.io/name"] == "vault"
        assert kubectl_active_pods(kube) == ["pod/vault-0"]

        # A killed active node cannot clear its label: vault-active selects two pods, one of them dead.
        first.kill()
        wait_for_labels(kube, "vault-1", state(active=True))
        assert kubectl_active_pods(kube) == ["pod/vault-0", "pod/vault-1"]

        # Restarted, it labels itself from scratch and comes back an unsealed standby.
        first.start()
        wait_for_labels(kube, "vault-0", state(active=False))
        assert kubectl_active_pods(kube) == ["pod/vault-1"]

        # A graceful hand-over: the old active node clears its own label.
        hvac.Client(url=second.url, token=ROOT, verify=str(cluster.ca_file)).sys.step_down()
        wait_for_labels(kube, "vault-0", state(active=True))
        wait_for_labels(kube, "vault-1", state(active=False))
        assert kubectl_active_pods(kube) == ["pod/vault-0"]

        # Sealing leaves active duty and marks the pod sealed.
        hvac.Client(url=first.url, token=ROOT, verify=str(cluster.ca_file)).sys.seal()
        wait_for_labels(kube, "vault-0", state(active=False, sealed=True))


def test_failed_label_updates_are_retried_until_the_pod_exists(kube: LabKube, tmp_path: Path) -> None:
    token_file = vault_namespace(kube, tmp_path)
    events: list[dict[str, Any]] = []
    config = ServerConfig(
        root_token=ROOT,
        auto_unseal=True,
        local_sa_token_file=token_file,
        local_ca_cert_file=kube.ca_file,
        registration=RegistrationConfig(
            pod_name="vault-0", namespace=NAMESPACE, api_url=kube.url, retry_interval=0.2
        ),
    )
    server = VaultServer(config, log=events.append)
    server.start()
    try:
        deadline = time.monotonic() + 5
        while not any("unable to set initial state" in str(event.get("msg")) for event in events):
            assert time.monotonic() < deadline, events
            time.sleep(0.05)
        assert not any(token_file.read_text() in str(event) for event in events)
        create_pod(kube, "vault-0", {"app": "vault"})
        # The initial state first, then the kept changes (unsealed, initialized); not active: no HA.
        wait_for_labels(kube, "vault-0", state(active=False))
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"VAULT_K8S_POD_NAME": "vault-0"}, NAMESPACE_MISSING),
        ({"VAULT_K8S_POD_NAME": "vault-0", "VAULT_K8S_NAMESPACE": "vault"}, NOT_IN_CLUSTER),
    ],
)
def test_service_registration_without_its_settings_is_a_clear_error(
    environment: dict[str, str], message: str
) -> None:
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("VAULT_", "KUBERNETES_"))}
    result = subprocess.run(
        [sys.executable, "-m", "vaultinject.cli", "lab", "vault", "--service-registration", "kubernetes"],
        env={**clean, **environment},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_ha_without_a_data_dir_is_a_clear_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vaultinject.cli", "lab", "vault", "--ha"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "--ha needs --data-dir" in result.stderr
