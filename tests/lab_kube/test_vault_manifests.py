"""The lab Vault's manifests (`vaultinject lab vault-manifests`): what vault-helm defines in HA mode, and
accepted by the lab API server as kubectl applies them."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import yaml

from vaultinject.lab import vault_workload as workload
from vaultinject.lab.kube.harness import LabKube


def printed(*flags: str) -> list[dict[str, Any]]:
    command = [sys.executable, "-m", "vaultinject.cli", "lab", "vault-manifests", *flags]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.startswith("# The lab's Vault")
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def by_kind(documents: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == kind}


def test_the_printed_manifests_are_the_applied_ones_with_vault_helms_services() -> None:
    documents = printed()
    assert documents == workload.manifests()
    services = by_kind(documents, "Service")
    assert sorted(services) == ["vault", "vault-active", "vault-internal", "vault-standby"]
    assert all(s["spec"]["publishNotReadyAddresses"] for s in services.values())
    assert services["vault-active"]["spec"]["selector"]["vault-active"] == "true"
    assert services["vault-standby"]["spec"]["selector"]["vault-active"] == "false"
    assert "vault-active" not in services["vault"]["spec"]["selector"]
    assert services["vault-internal"]["spec"]["clusterIP"] == "None"
    binding = by_kind(documents, "ClusterRoleBinding")["vault-server-binding"]
    assert binding["roleRef"]["name"] == "system:auth-delegator"
    role = by_kind(documents, "Role")["vault-discovery-role"]
    assert "patch" in role["rules"][0]["verbs"]


def test_the_stateful_set_runs_the_lab_vault_in_ha_with_auto_unseal_as_chosen() -> None:
    sts = by_kind(printed("--replicas", "3"), "StatefulSet")["vault"]
    assert (sts["spec"]["replicas"], sts["spec"]["podManagementPolicy"]) == (3, "Parallel")
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "vaultinject"
    assert container["command"][:3] == ["vaultinject", "lab", "vault"]
    assert "--ha" in container["command"]
    assert "--auto-unseal" in container["command"]
    env = {e["name"]: e for e in container["env"]}
    assert env["VAULT_K8S_POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["VAULT_API_ADDR"]["value"] == "https://$(POD_IP):8200"
    sealed = by_kind(printed("--no-auto-unseal"), "StatefulSet")["vault"]
    assert "--auto-unseal" not in sealed["spec"]["template"]["spec"]["containers"][0]["command"]


def test_kubectl_accepts_every_object_on_a_server_dry_run(kube: LabKube) -> None:
    kube.ensure_namespace(workload.NAMESPACE)  # a dry run creates nothing, so not the namespace either
    text = yaml.safe_dump_all(workload.manifests(), sort_keys=False)
    secret = workload.tls_secret(b"cert", b"key", b"ca")
    text += "---\n" + yaml.safe_dump(secret)
    result = subprocess.run(
        ["kubectl", "apply", "--dry-run=server", "-f", "-"],
        input=text, env=kube.env(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "statefulset.apps/vault created (server dry run)" in result.stdout
    assert "service/vault-active created (server dry run)" in result.stdout


def test_the_serving_certificate_covers_every_service_and_its_address() -> None:
    names = workload.server_names(["127.96.0.10"])
    for service in workload.SERVICES:
        assert f"{service}.vault.svc" in names
    assert "127.96.0.10" in names
    assert "127.0.0.1" in names
