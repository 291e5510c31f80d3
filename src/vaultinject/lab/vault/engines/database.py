"""Placeholder."""

from __future__ import annotations

from typing import Any

from vaultinject.lab.vault.backend import Backend


class DatabaseBackend(Backend):
    type_name = "database"

    def valid_credentials(self) -> list[dict[str, Any]]:
        return []
