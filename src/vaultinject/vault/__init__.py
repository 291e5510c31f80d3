"""A thin Vault client: login, read, write, list, renew, revoke, with typed errors. Standard library only."""

from vaultinject.vault.client import Auth, TLSConfig, VaultClient, ssl_context
from vaultinject.vault.errors import (
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    VaultError,
    VaultNotInitialized,
    VaultSealed,
    VaultTLSError,
    VaultUnreachable,
)

__all__ = [
    "Auth",
    "InvalidRequest",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "ServerError",
    "TLSConfig",
    "VaultClient",
    "VaultError",
    "VaultNotInitialized",
    "VaultSealed",
    "VaultTLSError",
    "VaultUnreachable",
    "ssl_context",
]
