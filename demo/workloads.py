"""The demo's app in the shapes the end-to-end tests and bench/e2e.py deploy, and what they read back."""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml

from demo.run import HERE, NAMESPACE, Demo, wait
from vaultinject.lab.controllers.replicaset import is_ready


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


def logins(demo: Demo) -> int:
    """Kubernetes logins so far: the tokens they gave, in Vault's token store (one per login)."""
    accessors = demo.root.list("auth/token/accessors") or {}
    paths = (
        demo.root.auth.token.lookup_accessor(a)["data"].get("path", "") for a in accessors["data"]["keys"]
    )
    return sum(path.startswith("auth/kubernetes/login") for path in paths)


def prepare(demo: Demo) -> None:
    """The demo's cluster up to the app: lab and Vault, secrets, vault-setup, the webhook, and namespace
    `shop` labelled for injection with the app's service account."""
    demo.start_lab()
    demo.prepare_vault()
    demo.setup_vault()
    demo.install()
    demo.kubectl("create", "namespace", NAMESPACE)
    demo.kubectl("label", "namespace", NAMESPACE, "vaultinject.io/inject=enabled")
    account = next(d for d in app_documents() if d["kind"] == "ServiceAccount")
    demo.kubectl("apply", "-f", "-", stdin=json.dumps(account))
