"""The expiration manager for secrets: lease registration, lookup, renewal, revocation and expiry."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vaultinject.lab.vault import ids
from vaultinject.lab.vault.clock import Clock
from vaultinject.lab.vault.durations import rfc3339
from vaultinject.lab.vault.envelope import LeaseRequest, VaultError, bad_request
from vaultinject.lab.vault.store import StorageView
from vaultinject.lab.vault.ttl import TTLLimits, calculate_ttl

if TYPE_CHECKING:
    from vaultinject.lab.vault.backend import Backend


@dataclass
class LeaseEntry:
    """A leased secret. `internal` is the engine's own data for renewing and revoking it."""

    lease_id: str
    path: str
    mount_path: str
    issue_time: float
    expire_time: float
    ttl: int
    max_ttl: int
    renewable: bool
    token_id: str = ""
    last_renewal: float = 0.0
    internal: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> LeaseEntry:
        return cls(**raw)

    def lookup_data(self, now: float) -> dict[str, Any]:
        return {
            "id": self.lease_id,
            "issue_time": rfc3339(self.issue_time),
            "expire_time": rfc3339(self.expire_time),
            "last_renewal": rfc3339(self.last_renewal) if self.last_renewal else None,
            "renewable": self.renewable,
            "ttl": max(0, int(self.expire_time - now)),
        }


BackendResolver = Callable[[str], "Backend | None"]
LimitsResolver = Callable[[str], TTLLimits]


class LeaseManager:
    """Leases under `id/<lease id>`, indexed by owning token under `token/<token id>/<lease id>`."""

    def __init__(self, storage: StorageView, clock: Clock) -> None:
        self.storage = storage
        self.clock = clock
        self.backend_for: BackendResolver = lambda _mount_path: None
        self.limits_for: LimitsResolver = lambda _mount_path: TTLLimits()
        self.schedule: Callable[[float, str], None] = lambda _when, _lease_id: None

    def register(
        self, path: str, mount_path: str, token_id: str, request: LeaseRequest
    ) -> tuple[LeaseEntry, list[str]]:
        """Lease a freshly issued secret; its TTL is capped by the role and mount maximums."""
        now = self.clock.now_int()
        ttl, warnings = calculate_ttl(
            self.limits_for(mount_path), now, backend_ttl=request.ttl, backend_max_ttl=request.max_ttl
        )
        entry = LeaseEntry(
            lease_id=f"{path.rstrip('/')}/{ids.base62(24)}",
            path=path,
            mount_path=mount_path,
            issue_time=float(now),
            expire_time=float(now + ttl),
            ttl=ttl,
            max_ttl=request.max_ttl,
            renewable=request.renewable,
            token_id=token_id,
            internal=request.internal,
        )
        self._save(entry)
        return entry, warnings

    def _save(self, entry: LeaseEntry) -> None:
        with self.storage.transaction():
            self.storage.put(f"id/{entry.lease_id}", entry.to_json())
            if entry.token_id:
                self.storage.put(f"token/{entry.token_id}/{entry.lease_id}", 1)
        self.schedule(entry.expire_time, entry.lease_id)

    def get(self, lease_id: str) -> LeaseEntry | None:
        if not lease_id:
            return None
        raw = self.storage.get(f"id/{lease_id}")
        return None if raw is None else LeaseEntry.from_json(raw)

    def renew(self, lease_id: str, increment: int) -> tuple[LeaseEntry, list[str]]:
        """Extend a lease through its engine; errors carry Vault's texts."""
        with self.storage.transaction():
            return self._renew(lease_id, increment)

    def _renew(self, lease_id: str, increment: int) -> tuple[LeaseEntry, list[str]]:
        entry = self.get(lease_id)
        if entry is None:
            raise bad_request("lease not found or lease is not renewable")
        if entry.expire_time <= self.clock.now():
            raise bad_request("lease expired")
        if not entry.renewable:
            raise bad_request("lease is not renewable")
        backend = self.backend_for(entry.mount_path)
        if backend is None:
            raise bad_request("lease not found or lease is not renewable")
        now = self.clock.now_int()
        ttl, warnings = backend.renew_secret(entry, increment, self.limits_for(entry.mount_path), now)
        entry.ttl = ttl
        entry.expire_time = float(now + ttl)
        entry.last_renewal = float(now)
        self._save(entry)
        return entry, warnings

    def revoke(self, lease_id: str) -> None:
        """Revoke one lease; unknown leases are fine (revocation is idempotent)."""
        entry = self.get(lease_id)
        if entry is None:
            return
        backend = self.backend_for(entry.mount_path)
        with self.storage.transaction():
            if backend is not None:
                with contextlib.suppress(VaultError):
                    backend.revoke_secret(entry)
            self.storage.delete(f"id/{entry.lease_id}")
            if entry.token_id:
                self.storage.delete(f"token/{entry.token_id}/{entry.lease_id}")

    def revoke_prefix(self, prefix: str) -> None:
        for lease_id in self.ids_with_prefix(prefix):
            self.revoke(lease_id)

    def revoke_by_token(self, token_id: str) -> None:
        prefix = f"token/{token_id}/"
        for key in self.storage.keys(prefix):
            self.revoke(key[len(prefix) :])

    def ids_with_prefix(self, prefix: str) -> list[str]:
        return [key[len("id/") :] for key in self.storage.keys(f"id/{prefix}")]

    def children(self, prefix: str) -> list[str]:
        """Vault-style listing of lease IDs under a prefix."""
        return self.storage.children(f"id/{prefix}")

    def all_entries(self) -> list[LeaseEntry]:
        entries = []
        for key in self.storage.keys("id/"):
            raw = self.storage.get(key)
            if raw is not None:
                entries.append(LeaseEntry.from_json(raw))
        return entries

    def expire_if_due(self, lease_id: str) -> None:
        entry = self.get(lease_id)
        if entry is not None and entry.expire_time <= self.clock.now():
            self.revoke(lease_id)
