"""Fixtures: one lab API server per module (a small watch history, so 410 Gone is reachable), a namespace each."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from vaultinject.kube import Kube, load_config
from vaultinject.lab.kube.harness import LabKube, in_process_kube

T = TypeVar("T")


@pytest.fixture(scope="module")
def kube_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabKube]:
    with in_process_kube(tmp_path_factory.mktemp("kube"), bookmark_interval=0.3, watch_history=50) as server:
        yield server


@pytest.fixture
def namespace(kube_server: LabKube) -> str:
    name = f"k-{uuid.uuid4().hex[:10]}"
    kube_server.ensure_namespace(name)
    return name


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def admin(server: LabKube) -> Kube:
    """A `Kube` for the lab's admin kubeconfig (create it inside the event loop that uses it)."""
    return Kube(load_config(server.kubeconfig))
