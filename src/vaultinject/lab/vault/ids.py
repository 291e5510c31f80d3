"""Identifiers in Vault's formats: service tokens, accessors, UUIDs, random suffixes."""

from __future__ import annotations

import secrets
import string
import uuid

_BASE62 = string.ascii_letters + string.digits


def base62(length: int) -> str:
    """A random base62 string."""
    return "".join(secrets.choice(_BASE62) for _ in range(length))


def service_token() -> str:
    """A service token in the Vault 1.10+ format: `hvs.` and 24 base62 characters."""
    return "hvs." + base62(24)


def accessor() -> str:
    """A token accessor: 24 base62 characters."""
    return base62(24)


def new_uuid() -> str:
    """A random UUID string."""
    return str(uuid.uuid4())


def short_hex(length: int = 8) -> str:
    """Random lowercase hex, used in mount accessors such as `kv_1a2b3c4d`."""
    return secrets.token_hex((length + 1) // 2)[:length]
