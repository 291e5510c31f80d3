"""What the agent knows about Vault: its token and every secret it fetched, with their leases.

The store is saved on the private state volume after each change, so the classic sidecar resumes from
the init container's login and leases instead of logging in and fetching dynamic credentials again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping

from vaultinject.agent.sink import write_atomic

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

STATE_FILE = ".vaultinject-state.json"
STATE_VERSION = 1


class Dependency:
    """One Vault read, write or list a template made, with the lease that came with it."""

    __slots__ = (
        "body",
        "document",
        "expires_at",
        "fetched_at",
        "lease_duration",
        "lease_id",
        "op",
        "params",
        "path",
        "renewable",
    )

    def __init__(
        self, op: str, path: str, params: Mapping[str, str] | None, body: bytes, fetched_at: float
    ) -> None:
        self.op = op  # read, write, list or pki
        self.path = path
        self.params = dict(params) if params else None
        self.body = body  # Vault's raw JSON answer, so numbers keep their literal text
        self.document = decode_document(body)  # the same answer decoded once, for its lease and secret values
        self.fetched_at = fetched_at
        self.lease_id = str(self.document.get("lease_id") or "")
        self.lease_duration = int(self.document.get("lease_duration") or 0)
        self.renewable = bool(self.document.get("renewable"))
        self.expires_at = fetched_at + self.lease_duration if self.lease_id else _pki_expiry(self.document)

    @property
    def key(self) -> str:
        return dependency_key(self.op, self.path, self.params)

    @property
    def leased(self) -> bool:
        return bool(self.lease_id) and self.lease_duration > 0

    def renewed(self, lease_duration: int, now: float) -> None:
        self.lease_duration = lease_duration
        self.expires_at = now + lease_duration

    def to_json(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "path": self.path,
            "params": self.params,
            "body": self.body.decode(),
            "fetched_at": self.fetched_at,
            "lease_duration": self.lease_duration,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> Dependency:
        dependency = cls(
            record["op"], record["path"], record.get("params"), record["body"].encode(), record["fetched_at"]
        )
        dependency.lease_duration = int(record.get("lease_duration") or 0)
        dependency.expires_at = record.get("expires_at")
        return dependency


def dependency_key(op: str, path: str, params: Mapping[str, str] | None) -> str:
    suffix = "&".join(f"{k}={v}" for k, v in sorted(params.items())) if params else ""
    return f"{op}:{path}?{suffix}"


def decode_document(body: bytes, number: Callable[[str], object] | None = None) -> dict[str, Any]:
    """A Vault answer as a dict ({} when it is not a JSON object); `number` decodes numbers."""
    try:
        document = json.loads(body, parse_int=number, parse_float=number)
    except (ValueError, RecursionError):
        return {}
    return document if isinstance(document, dict) else {}


def _pki_expiry(document: Mapping[str, Any]) -> float | None:
    """A PKI issue answer carries no lease, but its certificate's expiry (`data.expiration`)."""
    data = document.get("data")
    expiration = data.get("expiration") if isinstance(data, dict) else None
    return float(expiration) if isinstance(expiration, int | float) and expiration > 0 else None


class TokenState:
    """The agent's Vault token and when it must be renewed or replaced."""

    __slots__ = ("accessor", "expires_at", "renewable", "renewed_at", "token", "ttl")

    def __init__(self, token: str, accessor: str, ttl: int, renewable: bool, now: float) -> None:
        self.token = token
        self.accessor = accessor
        self.ttl = ttl  # 0: never expires
        self.renewable = renewable
        self.renewed_at = now
        self.expires_at = now + ttl if ttl else None

    def to_json(self) -> dict[str, Any]:
        return {slot: getattr(self, slot) for slot in self.__slots__}

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> TokenState:
        state = cls(
            record["token"], record.get("accessor", ""), int(record["ttl"]), bool(record["renewable"]), 0.0
        )
        state.renewed_at, state.expires_at = float(record["renewed_at"]), record.get("expires_at")
        return state


class Store:
    """The token and the dependencies, by key; saved to and loaded from the state directory."""

    def __init__(self, state_dir: str) -> None:
        self.path = os.path.join(state_dir, STATE_FILE)
        self.token: TokenState | None = None
        self.dependencies: dict[str, Dependency] = {}

    def save(self) -> None:
        """Persist (mode 0600, atomically): it holds the token and secret data."""
        document = {
            "version": STATE_VERSION,
            "token": self.token.to_json() if self.token else None,
            "dependencies": [dependency.to_json() for dependency in self.dependencies.values()],
        }
        write_atomic(self.path, json.dumps(document).encode(), 0o600)

    def load(self) -> bool:
        """Load a saved state; False when there is none or it cannot be used."""
        try:
            with open(self.path, encoding="utf-8") as stream:
                document = json.load(stream)
            if document.get("version") != STATE_VERSION or not document.get("token"):
                return False
            self.token = TokenState.from_json(document["token"])
            loaded = (Dependency.from_json(record) for record in document.get("dependencies") or [])
            self.dependencies = {dependency.key: dependency for dependency in loaded}
        except (OSError, ValueError, KeyError, TypeError):
            return False
        return True
