"""Response wrapping: a single-use token that holds a response until it is unwrapped."""

from __future__ import annotations

from typing import Any

from vaultinject.lab.vault import ids
from vaultinject.lab.vault.clock import Clock
from vaultinject.lab.vault.durations import rfc3339
from vaultinject.lab.vault.envelope import bad_request
from vaultinject.lab.vault.store import StorageView
from vaultinject.lab.vault.tokens import TokenEntry, TokenStore

INVALID_WRAPPING_TOKEN = "wrapping token is not valid or does not exist"


class ResponseWrapper:
    """Wrapped responses live under `<token id>` until unwrapped or until the token expires."""

    def __init__(self, storage: StorageView, tokens: TokenStore, clock: Clock) -> None:
        self.storage = storage
        self.tokens = tokens
        self.clock = clock
        tokens.revoke_hooks.append(self._forget)

    def wrap(
        self, envelope: dict[str, Any], creation_path: str, ttl: int, wrapped_accessor: str
    ) -> dict[str, Any]:
        """Store `envelope` behind a new wrapping token and return the `wrap_info` block."""
        now = self.clock.now()
        entry = TokenEntry(
            id=ids.service_token(),
            accessor=ids.accessor(),
            policies=["response-wrapping"],
            path=creation_path,
            display_name="",
            num_uses=1,
            creation_time=now,
            creation_ttl=ttl,
            ttl=ttl,
            expire_time=now + ttl,
            orphan=True,
            wrapping={"creation_path": creation_path},
        )
        with self.storage.transaction():
            self.tokens.put(entry)
            self.storage.put(entry.id, {"response": envelope, "creation_path": creation_path})
        info: dict[str, Any] = {
            "token": entry.id,
            "accessor": entry.accessor,
            "ttl": ttl,
            "creation_time": rfc3339(now),
            "creation_path": creation_path,
        }
        if wrapped_accessor:
            info["wrapped_accessor"] = wrapped_accessor
        return info

    def _valid(self, token_id: str) -> TokenEntry:
        entry = self.tokens.lookup(token_id)
        if entry is None or entry.wrapping is None:
            raise bad_request(INVALID_WRAPPING_TOKEN)
        return entry

    def is_wrapping_token(self, token_id: str) -> bool:
        entry = self.tokens.get(token_id)
        return entry is not None and entry.wrapping is not None

    def unwrap(self, token_id: str) -> dict[str, Any]:
        """The wrapped envelope; the token is spent."""
        with self.storage.transaction():
            entry = self._valid(token_id)
            stored = self.storage.get(entry.id)
            self.tokens.revoke(entry.id)
        if stored is None:
            raise bad_request(INVALID_WRAPPING_TOKEN)
        return dict(stored["response"])

    def lookup(self, token_id: str) -> dict[str, Any]:
        entry = self._valid(token_id)
        return {
            "creation_path": entry.path,
            "creation_time": rfc3339(entry.creation_time),
            "creation_ttl": entry.creation_ttl,
        }

    def _forget(self, entry: TokenEntry) -> None:
        if entry.wrapping is not None:
            self.storage.delete(entry.id)
