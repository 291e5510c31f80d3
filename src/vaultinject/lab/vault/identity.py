"""Identity entities: each auth alias (mount accessor + alias name) maps to one stable entity ID."""

from __future__ import annotations

from vaultinject.lab.vault.ids import new_uuid
from vaultinject.lab.vault.store import StorageView


class IdentityStore:
    """Just enough of Vault's identity store to give logins a stable `entity_id`."""

    def __init__(self, storage: StorageView) -> None:
        self.storage = storage

    def entity_for_alias(self, mount_accessor: str, alias_name: str) -> str:
        key = f"alias/{mount_accessor}/{alias_name}"
        with self.storage.transaction():
            existing = self.storage.get(key)
            if existing is not None:
                return str(existing["entity_id"])
            entity_id = new_uuid()
            self.storage.put(
                key, {"entity_id": entity_id, "mount_accessor": mount_accessor, "name": alias_name}
            )
            return entity_id
