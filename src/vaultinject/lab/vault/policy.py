"""ACL policies: parsing HCL or JSON policy documents, and the policy store with its built-ins."""

from __future__ import annotations

import base64
import binascii
import threading
from dataclasses import dataclass, field
from typing import Any

from vaultinject.lab import httpbody
from vaultinject.lab.vault import hcl
from vaultinject.lab.vault.durations import parse_duration
from vaultinject.lab.vault.store import StorageView

CAPABILITIES = frozenset({"create", "read", "update", "delete", "list", "sudo", "deny", "patch", "subscribe"})
_LEGACY_POLICY = {
    "deny": {"deny"},
    "read": {"read", "list"},
    "write": {"create", "read", "update", "delete", "list"},
    "sudo": {"create", "read", "update", "delete", "list", "sudo"},
}
_PATH_KEYS = frozenset(
    {
        "policy",
        "capabilities",
        "allowed_parameters",
        "denied_parameters",
        "required_parameters",
        "min_wrapping_ttl",
        "max_wrapping_ttl",
        "mfa_methods",
        "control_group",
        "subscribe_event_types",
    }
)

DEFAULT_POLICY = """
# Allow tokens to look up their own properties
path "auth/token/lookup-self" {
    capabilities = ["read"]
}

# Allow tokens to renew themselves
path "auth/token/renew-self" {
    capabilities = ["update"]
}

# Allow tokens to revoke themselves
path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own capabilities on a path
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# Allow a token to look up its own entity by id or name
path "identity/entity/id/{{identity.entity.id}}" {
  capabilities = ["read"]
}
path "identity/entity/name/{{identity.entity.name}}" {
  capabilities = ["read"]
}

# Allow a token to look up its resultant ACL from all policies
path "sys/internal/ui/resultant-acl" {
    capabilities = ["read"]
}

# Allow a token to renew a lease via lease_id in the request body
path "sys/renew" {
    capabilities = ["update"]
}
path "sys/leases/renew" {
    capabilities = ["update"]
}

# Allow looking up lease properties
path "sys/leases/lookup" {
    capabilities = ["update"]
}

# Allow a token to manage its own cubbyhole
path "cubbyhole/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}

# Allow a token to wrap arbitrary values in a response-wrapping token
path "sys/wrapping/wrap" {
    capabilities = ["update"]
}

# Allow a token to look up the creation time and TTL of a response-wrapping token
path "sys/wrapping/lookup" {
    capabilities = ["update"]
}

# Allow a token to unwrap a response-wrapping token
path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

# Allow general purpose tools
path "sys/tools/hash" {
    capabilities = ["update"]
}
path "sys/tools/hash/*" {
    capabilities = ["update"]
}

# Allow checking the status of a Control Group request if the user has the accessor
path "sys/control-group/request" {
    capabilities = ["update"]
}

# Allow a token to make requests to the Authorization Endpoint for OIDC providers
path "identity/oidc/provider/+/authorize" {
    capabilities = ["read", "update"]
}
"""

RESPONSE_WRAPPING_POLICY = """
path "cubbyhole/response" {
    capabilities = ["create", "read"]
}
path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}
path "sys/wrapping/lookup" {
    capabilities = ["update"]
}
"""

# Policies that exist without being stored and cannot be written.
INTERNAL_POLICIES = frozenset({"root", "response-wrapping", "control-group"})


class PolicyError(ValueError):
    """A policy document that does not parse; the message is what Vault puts on the wire."""


@dataclass(frozen=True)
class PathRule:
    """One `path` block."""

    pattern: str
    capabilities: frozenset[str]
    allowed_parameters: dict[str, list[Any]] = field(default_factory=dict)
    denied_parameters: dict[str, list[Any]] = field(default_factory=dict)
    required_parameters: tuple[str, ...] = ()
    min_wrapping_ttl: int = 0
    max_wrapping_ttl: int = 0


@dataclass(frozen=True)
class Policy:
    name: str
    raw: str
    rules: tuple[PathRule, ...]


def decode_policy_text(text: str) -> str:
    """Policy text may be sent base64-encoded; decode it when it cleanly is."""
    stripped = text.strip()
    if not stripped or any(char.isspace() for char in stripped):
        return text
    try:
        decoded = base64.b64decode(stripped, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return text
    return decoded


def parse_policy(name: str, text: str) -> Policy:
    """Parse an HCL or JSON policy; raise PolicyError with Vault's message."""
    try:
        blocks = _path_blocks(text)
        rules = tuple(_path_rule(pattern, body) for pattern, body in blocks)
    except (hcl.HCLError, PolicyError, ValueError) as error:
        raise PolicyError(f"failed to parse policy: {error}") from None
    return Policy(name=name, raw=text, rules=rules)


def _path_blocks(text: str) -> list[tuple[str, dict[str, Any]]]:
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            document = httpbody.decode_json(stripped)
        except ValueError as error:
            raise PolicyError(f"invalid JSON: {error}") from None
        return _json_blocks(document)
    blocks: list[tuple[str, dict[str, Any]]] = []
    for item in hcl.parse(text):
        if item.key == "name":
            continue
        if item.key != "path":
            raise PolicyError(f'invalid key "{item.key}" on line {item.line}')
        if len(item.labels) == 1:
            blocks.append((item.labels[0], _as_dict(hcl.to_plain(item.value))))
        elif not item.labels and isinstance(item.value, list):
            for inner in item.value:
                blocks.append((inner.key, _as_dict(hcl.to_plain(inner.value))))
        else:
            raise PolicyError(f"path block on line {item.line} needs exactly one label")
    return blocks


def _json_blocks(document: object) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(document, dict):
        raise PolicyError("policy must be a JSON object")
    paths = document.get("path", {})
    if isinstance(paths, list):
        merged: dict[str, Any] = {}
        for entry in paths:
            merged.update(entry)
        paths = merged
    if not isinstance(paths, dict):
        raise PolicyError('"path" must be an object')
    return [(pattern, _as_dict(body)) for pattern, body in paths.items()]


def _as_dict(value: object) -> dict[str, Any]:
    if value == [] or value is None:
        return {}
    if not isinstance(value, dict):
        raise PolicyError("path rules must be an object")
    return value


def _path_rule(pattern: str, body: dict[str, Any]) -> PathRule:
    for key in body:
        if key not in _PATH_KEYS:
            raise PolicyError(f'path "{pattern}": invalid key "{key}"')
    capabilities = set(_capabilities(pattern, body))
    if "deny" in capabilities:
        capabilities = {"deny"}
    return PathRule(
        pattern=pattern.lstrip("/"),
        capabilities=frozenset(capabilities),
        allowed_parameters=_parameters(pattern, body.get("allowed_parameters")),
        denied_parameters=_parameters(pattern, body.get("denied_parameters")),
        required_parameters=tuple(str(name).lower() for name in _list(body.get("required_parameters"))),
        min_wrapping_ttl=parse_duration(body.get("min_wrapping_ttl", 0) or 0),
        max_wrapping_ttl=parse_duration(body.get("max_wrapping_ttl", 0) or 0),
    )


def _capabilities(pattern: str, body: dict[str, Any]) -> list[str]:
    capabilities: list[str] = []
    legacy = body.get("policy")
    if legacy is not None:
        if legacy not in _LEGACY_POLICY:
            raise PolicyError(f'path "{pattern}": invalid policy "{legacy}"')
        capabilities.extend(_LEGACY_POLICY[str(legacy)])
    for capability in _list(body.get("capabilities")):
        if capability not in CAPABILITIES:
            raise PolicyError(f'path "{pattern}": invalid capability "{capability}"')
        capabilities.append(str(capability))
    return capabilities


def _parameters(pattern: str, value: object) -> dict[str, list[Any]]:
    if value is None or value == []:
        return {}
    if isinstance(value, list):
        merged: dict[str, Any] = {}
        for entry in value:
            if not isinstance(entry, dict):
                raise PolicyError(f'path "{pattern}": parameters must be a map')
            merged.update(entry)
        value = merged
    if not isinstance(value, dict):
        raise PolicyError(f'path "{pattern}": parameters must be a map')
    return {str(name).lower(): _list(values) for name, values in value.items()}


def _list(value: object) -> list[Any]:
    if value is None or value == {}:
        return []
    if isinstance(value, list):
        return value
    return [value]


class PolicyStore:
    """Named ACL policies in storage, with `default` created on first use and `root` built in."""

    def __init__(self, storage: StorageView) -> None:
        self.storage = storage
        self._cache: dict[str, Policy | None] = {}
        self._lock = threading.Lock()
        self.generation = 0

    def ensure_default(self) -> None:
        if self.storage.get("default") is None:
            self.storage.put("default", {"name": "default", "policy": DEFAULT_POLICY.strip() + "\n"})

    def names(self) -> list[str]:
        return sorted({*self.storage.keys(""), "root"})

    def get(self, name: str) -> Policy | None:
        """A parsed policy, or None. Parsed policies are cached until the policy is written."""
        name = name.lower()
        with self._lock:
            if name in self._cache:
                return self._cache[name]
        policy = self._load(name)
        with self._lock:
            self._cache[name] = policy
        return policy

    def _load(self, name: str) -> Policy | None:
        if name == "response-wrapping":
            return parse_policy(name, RESPONSE_WRAPPING_POLICY)
        stored = self.storage.get(name)
        if stored is None:
            return None
        return parse_policy(name, str(stored["policy"]))

    def raw(self, name: str) -> str | None:
        stored = self.storage.get(name.lower())
        return None if stored is None else str(stored["policy"])

    def put(self, name: str, text: str) -> None:
        """Store a policy after checking that it parses (PolicyError otherwise)."""
        name = name.lower()
        parse_policy(name, text)
        self.storage.put(name, {"name": name, "policy": text})
        self.invalidate()

    def delete(self, name: str) -> None:
        self.storage.delete(name.lower())
        self.invalidate()

    def invalidate(self) -> None:
        """Forget every parsed policy (on a write, and whenever another node may have written)."""
        with self._lock:
            self._cache.clear()
            self.generation += 1
