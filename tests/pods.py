"""Pods for tests: the smallest pod that opts in, with any `vault.hashicorp.com/*` annotations."""

from __future__ import annotations

from typing import Any

VAULT = "vault.hashicorp.com/"
OPTED_IN = {"agent_inject": "true", "role": "web", "agent_inject_secret_db": "kv/db"}


def pod(name: str | None = "web", namespace: str | None = None, **annotations: str) -> dict[str, Any]:
    """A pod; `name=None` gives it a `generateName` instead, as a controller's pods have at admission.

    Annotation keywords are suffixes of `vault.hashicorp.com/`, `_` for `-`: `agent_inject="true"`.
    """
    metadata: dict[str, Any] = {
        "annotations": {VAULT + k.replace("_", "-"): v for k, v in annotations.items()}
    }
    if name is None:
        metadata["generateName"] = "web-"
    else:
        metadata["name"] = name
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"containers": [{"name": "app", "image": "app"}]},
    }
