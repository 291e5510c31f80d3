"""The token store: token entries, accessors, parent/child links, use counts, expiry and revocation."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vaultinject.lab.vault.clock import Clock
from vaultinject.lab.vault.durations import rfc3339
from vaultinject.lab.vault.store import StorageView


@dataclass
class TokenEntry:
    """A stored token (`logical.TokenEntry` plus its lease). `expire_time` 0 means it never expires."""

    id: str
    accessor: str
    policies: list[str]
    path: str
    mount_path: str = "auth/token/"
    display_name: str = "token"
    meta: dict[str, str] | None = None
    num_uses: int = 0
    creation_time: float = 0.0
    creation_ttl: int = 0
    ttl: int = 0
    expire_time: float = 0.0
    explicit_max_ttl: int = 0
    period: int = 0
    renewable: bool = False
    orphan: bool = False
    parent: str = ""
    type: str = "service"
    entity_id: str = ""
    bound_cidrs: list[str] = field(default_factory=list)
    last_renewal: float = 0.0
    internal: dict[str, Any] = field(default_factory=dict)
    role: str = ""
    max_ttl: int = 0
    wrapping: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> TokenEntry:
        known = {item.name for item in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in raw.items() if key in known})

    @property
    def is_root(self) -> bool:
        return "root" in self.policies

    def remaining_ttl(self, now: float) -> int:
        return 0 if not self.expire_time else max(0, int(self.expire_time - now))

    def lookup_data(self, now: float) -> dict[str, Any]:
        """The `data` of `auth/token/lookup*`."""
        data: dict[str, Any] = {
            "accessor": self.accessor,
            "creation_time": int(self.creation_time),
            "creation_ttl": self.creation_ttl,
            "display_name": self.display_name,
            "entity_id": self.entity_id,
            "expire_time": rfc3339(self.expire_time) if self.expire_time else None,
            "explicit_max_ttl": self.explicit_max_ttl,
            "id": self.id,
            "issue_time": rfc3339(self.creation_time),
            "meta": self.meta or None,
            "num_uses": max(self.num_uses, 0),
            "orphan": self.orphan,
            "path": self.path,
            "policies": list(self.policies),
            "renewable": self.renewable,
            "ttl": self.remaining_ttl(now),
            "type": self.type,
        }
        if self.period:
            data["period"] = self.period
        if self.last_renewal:
            data["last_renewal"] = rfc3339(self.last_renewal)
            data["last_renewal_time"] = int(self.last_renewal)
        if self.bound_cidrs:
            data["bound_cidrs"] = list(self.bound_cidrs)
        if self.role:
            data["role"] = self.role
        return data


RevokeHook = Callable[[TokenEntry], None]


class TokenStore:
    """Tokens in storage under `id/`, `accessor/` and `parent/<parent>/<child>`."""

    def __init__(self, storage: StorageView, clock: Clock) -> None:
        self.storage = storage
        self.clock = clock
        self.revoke_hooks: list[RevokeHook] = []
        self.schedule: Callable[[float, str], None] = lambda _when, _token_id: None

    def put(self, entry: TokenEntry) -> None:
        """Store a new or updated token and its indexes."""
        with self.storage.transaction():
            self.storage.put(f"id/{entry.id}", entry.to_json())
            self.storage.put(f"accessor/{entry.accessor}", entry.id)
            if entry.parent:
                self.storage.put(f"parent/{entry.parent}/{entry.id}", 1)
        self.schedule(entry.expire_time, entry.id)

    def get(self, token_id: str) -> TokenEntry | None:
        """The stored entry whatever its state."""
        if not token_id or "/" in token_id:
            return None
        raw = self.storage.get(f"id/{token_id}")
        return None if raw is None else TokenEntry.from_json(raw)

    def lookup(self, token_id: str) -> TokenEntry | None:
        """A token that may be used now: stored, not expired, uses not exhausted."""
        entry = self.get(token_id)
        if entry is None or entry.num_uses < 0:
            return None
        if entry.expire_time and entry.expire_time <= self.clock.now():
            return None
        return entry

    def by_accessor(self, accessor: str) -> TokenEntry | None:
        if not accessor or "/" in accessor:
            return None
        token_id = self.storage.get(f"accessor/{accessor}")
        return None if token_id is None else self.lookup(str(token_id))

    def use(self, entry: TokenEntry) -> bool:
        """Count one use of a limited-use token; True when that was its last use."""
        if entry.num_uses <= 0:
            return False
        with self.storage.transaction():
            current = self.get(entry.id)
            if current is None or current.num_uses <= 0:
                return current is not None and current.num_uses < 0
            current.num_uses -= 1
            exhausted = current.num_uses == 0
            if exhausted:
                current.num_uses = -1
            self.storage.put(f"id/{current.id}", current.to_json())
        entry.num_uses = current.num_uses
        return exhausted

    def children(self, token_id: str) -> list[str]:
        prefix = f"parent/{token_id}/"
        return [key[len(prefix) :] for key in self.storage.keys(prefix)]

    def revoke(self, token_id: str) -> None:
        """Revoke a token, its whole subtree of child tokens, and every lease they own."""
        with self.storage.transaction():
            for child in self.children(token_id):
                self.revoke(child)
            self._remove(token_id)

    def revoke_orphan(self, token_id: str) -> None:
        """Revoke a token but keep its children, which become orphans."""
        with self.storage.transaction():
            for child_id in self.children(token_id):
                child = self.get(child_id)
                if child is not None:
                    child.parent, child.orphan = "", True
                    self.storage.put(f"id/{child.id}", child.to_json())
                self.storage.delete(f"parent/{token_id}/{child_id}")
            self._remove(token_id)

    def _remove(self, token_id: str) -> None:
        entry = self.get(token_id)
        if entry is None:
            return
        for hook in self.revoke_hooks:
            hook(entry)
        self.storage.delete(f"id/{entry.id}")
        self.storage.delete(f"accessor/{entry.accessor}")
        if entry.parent:
            self.storage.delete(f"parent/{entry.parent}/{entry.id}")

    def all_entries(self) -> list[TokenEntry]:
        entries = []
        for key in self.storage.keys("id/"):
            raw = self.storage.get(key)
            if raw is not None:
                entries.append(TokenEntry.from_json(raw))
        return entries

    def accessors(self) -> list[str]:
        return [key[len("accessor/") :] for key in self.storage.keys("accessor/")]

    def expire_if_due(self, token_id: str) -> None:
        """Revoke the token if its stored expiry has passed (it may have been renewed since)."""
        entry = self.get(token_id)
        if entry is not None and entry.expire_time and entry.expire_time <= self.clock.now():
            self.revoke(token_id)
