"""The mount tables: secrets engines (`sys/mounts`) and auth methods (`sys/auth`), and routing to them."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vaultinject.lab.vault import ids
from vaultinject.lab.vault.backend import Backend, MountContext, Services
from vaultinject.lab.vault.config import VERSION
from vaultinject.lab.vault.envelope import bad_request
from vaultinject.lab.vault.store import StorageView, Store
from vaultinject.lab.vault.ttl import SYSTEM_DEFAULT_TTL, SYSTEM_MAX_TTL, TTLLimits

SECRETS = "mounts"
AUTH = "auth"
BackendFactory = Callable[[MountContext], Backend]

# Mounts every Vault has. They are created once and can be neither moved nor disabled.
_BUILTIN_SECRETS = (
    ("cubbyhole/", "cubbyhole", "per-token private secret storage", True),
    ("identity/", "identity", "identity store", False),
    ("sys/", "system", "system endpoints used for control, policy and debugging", False),
)
_BUILTIN_AUTH = (("token/", "token", "token based credentials", False),)


@dataclass
class MountEntry:
    table: str
    path: str
    type: str
    description: str = ""
    accessor: str = ""
    uuid: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    options: dict[str, str] | None = None
    local: bool = False
    seal_wrap: bool = False
    external_entropy_access: bool = False

    @property
    def route_prefix(self) -> str:
        return f"auth/{self.path}" if self.table == AUTH else self.path

    @property
    def builtin(self) -> bool:
        builtins = _BUILTIN_AUTH if self.table == AUTH else _BUILTIN_SECRETS
        return any(path == self.path for path, *_ in builtins)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> MountEntry:
        return cls(**raw)

    def api_view(self) -> dict[str, Any]:
        """One entry of `sys/mounts` or `sys/auth`."""
        config: dict[str, Any] = {
            "default_lease_ttl": int(self.config.get("default_lease_ttl", 0)),
            "force_no_cache": bool(self.config.get("force_no_cache", False)),
            "max_lease_ttl": int(self.config.get("max_lease_ttl", 0)),
        }
        if self.table == AUTH:
            config["token_type"] = self.config.get("token_type", "default-service")
        for key in ("listing_visibility", "passthrough_request_headers", "audit_non_hmac_request_keys"):
            if self.config.get(key):
                config[key] = self.config[key]
        view: dict[str, Any] = {
            "accessor": self.accessor,
            "config": config,
            "description": self.description,
            "external_entropy_access": self.external_entropy_access,
            "local": self.local,
            "options": self.options,
            "plugin_version": "",
            "running_plugin_version": f"v{VERSION}+builtin.vault",
            "running_sha256": "",
            "seal_wrap": self.seal_wrap,
            "type": self.type,
            "uuid": self.uuid,
        }
        if not self.builtin:
            view["deprecation_status"] = "supported"
        return view

    def limits(self) -> TTLLimits:
        max_ttl = int(self.config.get("max_lease_ttl", 0)) or SYSTEM_MAX_TTL
        default_ttl = int(self.config.get("default_lease_ttl", 0)) or SYSTEM_DEFAULT_TTL
        return TTLLimits(default_ttl=min(default_ttl, max_ttl), max_ttl=max_ttl)

    def tune_view(self) -> dict[str, Any]:
        limits = self.limits()
        view: dict[str, Any] = {
            "default_lease_ttl": limits.default_ttl,
            "max_lease_ttl": limits.max_ttl,
            "force_no_cache": bool(self.config.get("force_no_cache", False)),
            "description": self.description,
        }
        if self.options is not None:
            view["options"] = self.options
        if self.table == AUTH:
            view["token_type"] = self.config.get("token_type", "default-service")
        for key in ("listing_visibility", "passthrough_request_headers", "audit_non_hmac_request_keys"):
            if self.config.get(key):
                view[key] = self.config[key]
        return view


class MountTable:
    """Both tables, their backends, and longest-prefix routing over them."""

    def __init__(
        self, store: Store, services: Services, factories: dict[str, dict[str, BackendFactory]]
    ) -> None:
        self.store = store
        self.services = services
        self.factories = factories
        self.storage = StorageView(store, "core/mounts/")
        self._lock = threading.RLock()
        self._entries: dict[str, MountEntry] = {}
        self._backends: dict[str, Backend] = {}

    def load(self) -> None:
        """Instantiate every stored mount (after unseal), creating the built-in ones on first start."""
        with self._lock, self.store.transaction():
            self._entries.clear()
            self._backends.clear()
            for table, builtins in ((SECRETS, _BUILTIN_SECRETS), (AUTH, _BUILTIN_AUTH)):
                stored = self.storage.get(table)
                entries = [MountEntry.from_json(raw) for raw in stored] if stored is not None else []
                known = {entry.path for entry in entries}
                for path, kind, description, local in builtins:
                    if path not in known:
                        entries.append(self._new_entry(table, path, kind, description, local=local))
                for entry in entries:
                    self._activate(entry)
                self._save(table)

    def clear(self) -> None:
        with self._lock:
            for backend in self._backends.values():
                backend.close()
            self._entries.clear()
            self._backends.clear()

    def _new_entry(self, table: str, path: str, kind: str, description: str, **extra: Any) -> MountEntry:
        prefix = f"auth_{kind}" if table == AUTH else kind
        return MountEntry(
            table=table,
            path=path,
            type=kind,
            description=description,
            accessor=f"{prefix}_{ids.short_hex(8)}",
            uuid=ids.new_uuid(),
            **extra,
        )

    def _activate(self, entry: MountEntry) -> None:
        factory = self.factories[entry.table].get(entry.type)
        if factory is None:
            raise bad_request(f"plugin not found in the catalog: {entry.type}")
        storage_prefix = f"auth/{entry.uuid}/" if entry.table == AUTH else f"logical/{entry.uuid}/"
        context = MountContext(StorageView(self.store, storage_prefix), entry, self.services)
        self._backends[entry.route_prefix] = factory(context)
        self._entries[entry.route_prefix] = entry

    def _save(self, table: str) -> None:
        entries = [entry.to_json() for entry in self._entries.values() if entry.table == table]
        self.storage.put(table, entries)

    def route(self, path: str) -> tuple[MountEntry, Backend, str] | None:
        """The mount whose prefix is the longest prefix of `path`, its backend and the relative path."""
        with self._lock:
            best = ""
            for prefix in self._entries:
                if path.startswith(prefix) and len(prefix) > len(best):
                    best = prefix
            if not best:
                return None
            return self._entries[best], self._backends[best], path[len(best) :]

    def entries(self, table: str) -> list[MountEntry]:
        with self._lock:
            return sorted((e for e in self._entries.values() if e.table == table), key=lambda e: e.path)

    def get(self, table: str, path: str) -> MountEntry | None:
        prefix = f"auth/{path}" if table == AUTH else path
        with self._lock:
            return self._entries.get(prefix)

    def backend(self, route_prefix: str) -> Backend | None:
        with self._lock:
            return self._backends.get(route_prefix)

    def backend_of_type(self, kind: str) -> list[Backend]:
        with self._lock:
            return [self._backends[prefix] for prefix, entry in self._entries.items() if entry.type == kind]

    def mount(self, table: str, path: str, kind: str, **settings: Any) -> MountEntry:
        """Enable a secrets engine or auth method at `path` (with trailing slash)."""
        if table == SECRETS and kind == "kv-v2":
            kind = "kv"
            settings["options"] = {**(settings.get("options") or {}), "version": "2"}
        if kind not in self.factories[table] or kind in ("system", "identity", "cubbyhole", "token"):
            raise bad_request(f"plugin not found in the catalog: {kind}")
        with self._lock, self.store.transaction():
            for existing in self._entries:
                route = f"auth/{path}" if table == AUTH else path
                if route.startswith(existing) or existing.startswith(route):
                    raise bad_request(f"path is already in use at {existing}")
            entry = self._new_entry(table, path, kind, settings.pop("description", ""), **settings)
            self._activate(entry)
            self._save(table)
            return entry

    def unmount(self, table: str, path: str) -> MountEntry | None:
        with self._lock, self.store.transaction():
            entry = self.get(table, path)
            if entry is None:
                return None
            if entry.builtin:
                raise bad_request(f"cannot unmount {entry.route_prefix!r}")
            backend = self._backends.pop(entry.route_prefix)
            del self._entries[entry.route_prefix]
            backend.unmount()
            self._save(table)
            return entry

    def update(self, entry: MountEntry) -> None:
        """Persist a changed entry and rebuild its backend (its behaviour may depend on the options)."""
        with self._lock:
            self._save(entry.table)
            previous = self._backends.get(entry.route_prefix)
            if previous is not None:
                previous.close()
            self._activate(entry)

    def limits(self, route_prefix: str) -> TTLLimits:
        with self._lock:
            entry = self._entries.get(route_prefix)
        return entry.limits() if entry is not None else TTLLimits()
