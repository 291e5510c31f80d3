"""The interface between the engine and the agent: every Vault read goes through it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from .values import PemEncoded, Secret


class SecretSource(Protocol):
    """What a render asks of the agent: secrets and environment, never I/O of its own."""

    def secret(self, path: str, params: Mapping[str, str] | None) -> Secret | None:
        """Read ``path`` (``params`` is None), or write ``params`` to it; None: no secret there."""

    def secrets(self, path: str) -> list[str]:
        """LIST the keys under ``path``."""

    def pki_cert(self, path: str, params: Mapping[str, str]) -> Secret | PemEncoded | None:
        """Issue (or reuse) a certificate at ``path`` with ``params``."""

    def env(self, name: str) -> str | None:
        """An environment variable of the agent: None when unset, "" when set but empty."""
