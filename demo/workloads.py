"""The demo's app in the shapes the end-to-end tests and bench/e2e.py deploy, and what they read back."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import yaml

from demo.run import AUDIT_LOG, HERE, NAMESPACE, Demo, wait
from vaultinject.lab.controllers.replicaset import is_ready
from vaultinject.lab.kube.harness import LabKube
from vaultinject.lab.vault_workload import NAMESPACE as VAULT_NAMESPACE

AUDIT_LOG_NAME = AUDIT_LOG.rsplit("/", 1)[1]
LOGIN_PATH = "auth/kubernetes/login"


def app_documents() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((HERE / "app.yaml").read_text()) if d]


def deployment(name: str, mode: str) -> dict[str, Any]:
    document = copy.deepcopy(next(d for d in app_documents() if d["kind"] == "Deployment"))
    document["metadata"]["name"] = name
    document["spec"]["selector"]["matchLabels"] = {"app": name}
    template = document["spec"]["template"]
    template["metadata"]["labels"] = {"app": name}
    template["metadata"]["annotations"]["vaultinject.io/mode"] = mode
    return document


def pods(demo: Demo, selector: str) -> list[dict[str, Any]]:
    listing = demo.kubectl("-n", NAMESPACE, "get", "pods", "-l", selector, "-o", "json")
    return list(json.loads(listing)["items"])


def ready_pods(demo: Demo, selector: str) -> list[dict[str, Any]]:
    return [pod for pod in pods(demo, selector) if is_ready(pod)]


def wait_ready(demo: Demo, selector: str, count: int = 1, timeout: float = 60) -> list[dict[str, Any]]:
    """The Ready pods of `selector`, once there are `count` of them."""
    wait(f"{count} pod(s) {selector} Ready", lambda: len(ready_pods(demo, selector)) >= count, timeout)
    return ready_pods(demo, selector)


def audit_entries(demo: Demo) -> Iterator[dict[str, Any]]:
    """Every entry of every Vault replica's audit log (each on its own volume, data-vault-N)."""
    for log in sorted((demo.data_dir / "claims" / VAULT_NAMESPACE).glob(f"data-vault-*/{AUDIT_LOG_NAME}")):
        for line in log.read_text().splitlines():
            if line.strip():
                yield json.loads(line)


def responses(demo: Demo, path: str) -> list[dict[str, Any]]:
    """The audit log's answers to requests on `path` that succeeded."""
    return [
        entry
        for entry in audit_entries(demo)
        if entry["type"] == "response" and entry["request"]["path"] == path and not entry.get("error")
    ]


def logins(demo: Demo) -> int:
    """Successful Kubernetes auth logins so far, from Vault's audit log."""
    return sum(bool((entry.get("response") or {}).get("auth")) for entry in responses(demo, LOGIN_PATH))


def scale_vault(demo: Demo, replicas: int) -> None:
    """Scale Vault's StatefulSet and wait: for its pods to be gone, or for `replicas` Ready ones."""
    demo.kubectl("-n", VAULT_NAMESPACE, "scale", "statefulset", "vault", f"--replicas={replicas}")

    def settled() -> bool:
        listing = json.loads(demo.kubectl("-n", VAULT_NAMESPACE, "get", "pods", "-o", "json"))["items"]
        if replicas == 0:
            return not listing
        return sum(is_ready(pod) for pod in listing) >= replicas

    wait(f"Vault at {replicas} replica(s)", settled, timeout=60)


def prepare(demo: Demo, webhook_env: dict[str, str] | None = None, lab_flags: tuple[str, ...] = ()) -> None:
    """The demo's cluster up to the app: lab (`lab up` given `lab_flags`) and Vault, secrets, vault-setup,
    the webhook (its container given `webhook_env`), and namespace `shop` labelled for injection with the
    app's service account."""
    demo.start_lab(*lab_flags)
    demo.prepare_vault()
    demo.setup_vault()
    demo.install(webhook_env)
    demo.kubectl("create", "namespace", NAMESPACE)
    demo.kubectl("label", "namespace", NAMESPACE, "vaultinject.io/inject=enabled")
    account = next(d for d in app_documents() if d["kind"] == "ServiceAccount")
    demo.kubectl("apply", "-f", "-", stdin=json.dumps(account))


def api(demo: Demo) -> LabKube:
    """The lab API server as its admin, for requests too many for one kubectl process each."""
    config = yaml.safe_load((demo.data_dir / "kubeconfig").read_text())
    kube_dir = demo.data_dir / "kube"
    return LabKube(
        url=config["clusters"][0]["cluster"]["server"],
        kubeconfig=demo.data_dir / "kubeconfig",
        admin_token=config["users"][0]["user"]["token"],
        ca_file=kube_dir / "pki" / "ca.crt",
        data_dir=kube_dir,
    )
