"""The demo's app in the shapes the end-to-end tests and bench/e2e.py deploy, and what they read back."""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml

from demo.run import HERE, NAMESPACE, Demo


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


def ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


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
