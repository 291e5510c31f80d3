"""Placeholder."""

from __future__ import annotations

from vaultinject.lab.vault.backend import Backend


class KubernetesBackend(Backend):
    type_name = "kubernetes"
