"""Placeholder."""

from __future__ import annotations

from vaultinject.lab.vault.backend import Backend


class AppRoleBackend(Backend):
    type_name = "approle"
