"""The contract between the core and a mounted secrets engine or auth method."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from vaultinject.lab.vault import responses
from vaultinject.lab.vault.envelope import Response, bad_request
from vaultinject.lab.vault.request import Request
from vaultinject.lab.vault.router import Router
from vaultinject.lab.vault.store import StorageView
from vaultinject.lab.vault.ttl import TTLLimits

if TYPE_CHECKING:
    from vaultinject.lab.vault.clock import Clock
    from vaultinject.lab.vault.config import ServerConfig
    from vaultinject.lab.vault.leases import LeaseEntry
    from vaultinject.lab.vault.mounts import MountEntry
    from vaultinject.lab.vault.tokens import TokenEntry


class Services(Protocol):
    """What the core offers to mounted backends."""

    clock: Clock
    config: ServerConfig

    def log(self, event: dict[str, Any]) -> None:
        """Write one structured log event (never tokens or secret values)."""
        ...

    def limits(self, route_prefix: str) -> TTLLimits:
        """The effective default and max TTL of the mount at `route_prefix` (e.g. `auth/kubernetes/`)."""
        ...


@dataclass
class MountContext:
    storage: StorageView
    mount: MountEntry
    services: Services

    @property
    def limits(self) -> TTLLimits:
        return self.services.limits(self.mount.route_prefix)


@dataclass(frozen=True)
class LoginRenewal:
    """What an auth method says when one of its tokens renews (`pathLoginRenew`)."""

    ttl: int
    max_ttl: int
    period: int


class Backend:
    """A mount. Subclasses fill `self.router` and override the lease and login hooks they support."""

    type_name: ClassVar[str] = ""
    unauthenticated_paths: ClassVar[tuple[str, ...]] = ()
    sudo_paths: ClassVar[tuple[str, ...]] = ()

    def __init__(self, context: MountContext) -> None:
        self.context = context
        self.storage = context.storage
        self.router = Router()

    # Role storage, shared by the backends that have roles (`role/<name>`).

    def stored_role(self, name: str) -> dict[str, Any] | None:
        """A role by name; auth methods store role names lower-cased, as Vault's plugins do."""
        stored = self.storage.get(f"role/{name.lower()}")
        return None if stored is None else dict(stored)

    def list_roles(self, _request: Request, _match: re.Match[str]) -> Response:
        return responses.keys(self.storage.children("role/"))

    def handle(self, request: Request) -> Response:
        return self.router.dispatch(request)

    def exists(self, request: Request) -> bool | None:
        return self.router.exists(request)

    def is_unauthenticated(self, rel: str) -> bool:
        return _matches_any(self.unauthenticated_paths, rel)

    def requires_sudo(self, rel: str) -> bool:
        return _matches_any(self.sudo_paths, rel)

    def revoke_secret(self, lease: LeaseEntry) -> None:
        """Invalidate a leased secret (database credentials, for example)."""

    def renew_secret(
        self, _lease: LeaseEntry, _increment: int, _limits: TTLLimits, _now: int
    ) -> tuple[int, list[str]]:
        raise bad_request("lease is not renewable")

    def renew_login(self, token: TokenEntry) -> LoginRenewal:
        """Called when a token this auth method issued renews; raise to refuse."""
        return LoginRenewal(ttl=0, max_ttl=token.max_ttl, period=token.period)

    def close(self) -> None:
        """Release connections and caches; the mount's storage stays."""

    def unmount(self) -> None:
        """The mount is being disabled: drop its storage."""
        self.close()
        self.storage.delete_prefix()


def _matches_any(patterns: tuple[str, ...], rel: str) -> bool:
    """Vault's special-path matching: exact, or prefix when the pattern ends in `*`."""
    for pattern in patterns:
        if pattern.endswith("*") and rel.startswith(pattern[:-1]):
            return True
        if rel == pattern or rel.rstrip("/") == pattern:
            return True
    return False
