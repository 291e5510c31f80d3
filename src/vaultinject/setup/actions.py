"""What a `vault-setup` plan does: its steps, each a Vault write or a Kubernetes create, and its refusals."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FromSecret:
    """A value read at apply time from `data[key]` of a Secret (base64-decoded); never printed."""

    namespace: str
    name: str
    key: str

    def __str__(self) -> str:
        return f"<{self.key} of Secret {self.namespace}/{self.name}>"


@dataclass(frozen=True)
class VaultWrite:
    """One Vault API write: `method /v1/<path>` with a JSON body."""

    path: str
    body: Mapping[str, Any]
    method: str = "POST"
    capabilities: tuple[str, ...] = ("update",)  # any one of these suffices ...
    sudo: bool = False  # ... plus `sudo` when set

    def describe(self) -> str:
        return f"{self.method} {self.path} {render_body(self.body)}"


@dataclass(frozen=True)
class KubeCreate:
    """Create one Kubernetes object (`body` is its manifest)."""

    kind: str
    name: str
    body: Mapping[str, Any]
    namespace: str | None = None
    wait_for_token: bool = False  # a token Secret: wait until the token controller fills it

    def describe(self) -> str:
        where = f" in namespace {self.namespace}" if self.namespace else ""
        return f"create {self.kind} {self.name}{where}"


Action = VaultWrite | KubeCreate
MANAGED = {"app.kubernetes.io/managed-by": "vaultinject"}


def create_namespace(name: str) -> KubeCreate:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": MANAGED}}
    return KubeCreate("Namespace", name, body)


def create_service_account(namespace: str, name: str) -> KubeCreate:
    metadata = {"name": name, "namespace": namespace, "labels": MANAGED}
    return KubeCreate(
        "ServiceAccount",
        name,
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata},
        namespace,
    )


def differences(current: Mapping[str, Any] | None, wanted: Mapping[str, Any]) -> list[str]:
    """How `current` (as Vault returns it; None: absent) differs from the `wanted` body: lists compared
    as sets of their trimmed texts (PEM blocks too), and an unset field equal to an empty wanted one."""
    if current is None:
        return ["it does not exist"]
    found = []
    for name, value in wanted.items():
        have = current.get(name)
        if isinstance(value, list):
            same = sorted(map(_normal, have or [])) == sorted(map(_normal, value))
        else:
            same = have == value or (value in ("", 0, False) and not have)
        if not same:
            found.append(f"{name} is {have!r}, wanted {value!r}")
    return found


def _normal(value: Any) -> str:
    return "\n".join(line.strip() for line in str(value).strip().splitlines())


@dataclass(frozen=True)
class Step:
    description: str
    why: str
    action: Action


@dataclass(frozen=True)
class Refusal:
    cause: str
    fix: str


def render_value(value: Any) -> Any:
    """A body value as the plan shows it: placeholders by name, PEM by size, never a token."""
    if isinstance(value, FromSecret):
        return str(value)
    if isinstance(value, str) and "-----BEGIN" in value:
        count = value.count("-----BEGIN")
        return f"<PEM, {count} block{'s' if count != 1 else ''}>"
    if isinstance(value, list):
        return [render_value(item) for item in value]
    if isinstance(value, Mapping):
        return {key: render_value(item) for key, item in value.items()}
    return value


def render_body(body: Mapping[str, Any]) -> str:
    return json.dumps(render_value(body), sort_keys=False)


def action_json(action: Action) -> dict[str, Any]:
    if isinstance(action, VaultWrite):
        return {
            "api": "vault",
            "method": action.method,
            "path": action.path,
            "body": render_value(action.body),
        }
    return {
        "api": "kubernetes",
        "verb": "create",
        "kind": action.kind,
        "name": action.name,
        "namespace": action.namespace,
        "body": render_value(action.body),
    }
