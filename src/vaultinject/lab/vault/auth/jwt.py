"""Placeholder."""

from __future__ import annotations

from vaultinject.lab.vault.backend import Backend


class JWTBackend(Backend):
    type_name = "jwt"
