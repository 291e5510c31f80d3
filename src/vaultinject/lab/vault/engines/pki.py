"""Placeholder."""

from __future__ import annotations

from vaultinject.lab.vault.backend import Backend


class PKIBackend(Backend):
    type_name = "pki"
