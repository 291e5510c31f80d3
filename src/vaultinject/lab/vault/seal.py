"""Initialization and the seal: unseal keys, progress, and the seal status every client polls.

Key shares are checked against stored digests rather than combined with Shamir's scheme; from the outside
it behaves the same: `t` distinct valid shares unseal, a wrong share is only noticed once `t` have arrived.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from vaultinject.lab.vault import ids
from vaultinject.lab.vault.envelope import VaultError, bad_request
from vaultinject.lab.vault.store import StorageView

KEY_BYTES = 33


@dataclass(frozen=True)
class InitResult:
    keys: list[bytes]
    auto: bool


class SealManager:
    """The seal configuration lives in storage; whether the server is sealed lives in memory."""

    def __init__(self, storage: StorageView, auto_unseal: bool) -> None:
        self.storage = storage
        self.auto_unseal = auto_unseal
        self.sealed = True
        self._progress: list[bytes] = []
        self._nonce = ""
        self._lock = threading.Lock()

    @property
    def config(self) -> dict[str, Any] | None:
        stored = self.storage.get("config")
        return None if stored is None else dict(stored)

    @property
    def initialized(self) -> bool:
        return self.config is not None

    def initialize(self, shares: int, threshold: int) -> InitResult:
        """Create key shares; raises 400s for bad counts or a second initialization."""
        if self.initialized:
            raise bad_request("Vault is already initialized")
        if shares < 1:
            raise bad_request("invalid seal configuration: shares must be at least one")
        if threshold < 1:
            raise bad_request("invalid seal configuration: threshold must be at least one")
        if threshold > shares:
            raise bad_request("invalid seal configuration: threshold must be less than or equal to shares")
        if shares > 1 and threshold == 1:
            raise bad_request(
                "invalid seal configuration: threshold must be greater than one for multiple shares"
            )
        keys = [secrets.token_bytes(KEY_BYTES) for _ in range(shares)]
        self.storage.put(
            "config",
            {
                "type": "awskms" if self.auto_unseal else "shamir",
                "recovery": self.auto_unseal,
                "shares": shares,
                "threshold": threshold,
                "digests": [_digest(key) for key in keys],
                "cluster_name": f"vault-cluster-{ids.short_hex(8)}",
                "cluster_id": ids.new_uuid(),
            },
        )
        return InitResult(keys=keys, auto=self.auto_unseal)

    def submit(self, key_text: str) -> None:
        """Add one unseal key share; unseals once the threshold of valid shares is reached."""
        config = self.config
        if config is None:
            raise bad_request("Vault is not initialized")
        key = decode_key(key_text)
        with self._lock:
            if not self.sealed:
                return
            if key in self._progress:
                return
            if not self._progress:
                self._nonce = ids.new_uuid()
            self._progress.append(key)
            if len(self._progress) < int(config["threshold"]):
                return
            submitted, self._progress, self._nonce = self._progress, [], ""
            if any(_digest(part) not in config["digests"] for part in submitted):
                raise VaultError(400, "cipher: message authentication failed")
            self.sealed = False

    def reset(self) -> None:
        with self._lock:
            self._progress, self._nonce = [], ""

    def unseal_automatically(self) -> None:
        with self._lock:
            self.sealed = False

    def seal(self) -> None:
        with self._lock:
            self.sealed = True
            self._progress, self._nonce = [], ""

    def status(self, version: str, build_date: str, storage_type: str) -> dict[str, Any]:
        """The body of `sys/seal-status` and `sys/unseal`."""
        config = self.config or {}
        with self._lock:
            progress, nonce, sealed = len(self._progress), self._nonce, self.sealed
        status: dict[str, Any] = {
            "type": config.get("type", "awskms" if self.auto_unseal else "shamir"),
            "initialized": bool(config),
            "sealed": sealed,
            "t": int(config.get("threshold", 0)),
            "n": int(config.get("shares", 0)),
            "progress": progress,
            "nonce": nonce,
            "version": version,
            "build_date": build_date,
            "migration": False,
            "recovery_seal": bool(config.get("recovery", False)),
            "storage_type": storage_type,
        }
        if config and not sealed:
            status["cluster_name"] = config["cluster_name"]
            status["cluster_id"] = config["cluster_id"]
        return status


def decode_key(text: str) -> bytes:
    """An unseal key in hex or base64, as `sys/unseal` accepts it."""
    text = text.strip()
    try:
        return bytes.fromhex(text)
    except ValueError:
        pass
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request("'key' must be a valid hex or base64 string") from None


def _digest(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()
