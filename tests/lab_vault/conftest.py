"""Fixtures: an in-process lab Vault (fast, plain HTTP) and hvac clients for it."""

from __future__ import annotations

from collections.abc import Iterator

import hvac
import pytest

from vaultinject.lab.vault.harness import ThreadVault, vault_thread


@pytest.fixture
def vault() -> Iterator[ThreadVault]:
    """A fresh, unsealed server with root token `root` and `secret/` (KV v2) mounted."""
    with vault_thread() as server:
        yield server


@pytest.fixture
def client(vault: ThreadVault) -> hvac.Client:
    """hvac, unchanged, with the root token."""
    return hvac.Client(url=vault.url, token=vault.root_token)
