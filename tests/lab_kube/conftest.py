"""Fixtures: one in-process lab API server per session, official-client APIs, a fresh namespace per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab_kube.k8s import client
from vaultinject.lab.kube.harness import LabKube, in_process_kube


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabKube]:
    """The shared server. Tests that move its clock or need a small watch history start their own."""
    with in_process_kube(tmp_path_factory.mktemp("kube"), bookmark_interval=0.3) as server:
        yield server


@pytest.fixture(scope="session")
def api_client(kube: LabKube) -> Iterator[Any]:
    api = kube.api_client()
    yield api
    api.close()


@pytest.fixture
def core(api_client: Any) -> Any:
    return client.CoreV1Api(api_client)


@pytest.fixture
def apps(api_client: Any) -> Any:
    return client.AppsV1Api(api_client)


@pytest.fixture
def namespace(kube: LabKube) -> str:
    name = f"t-{uuid.uuid4().hex[:10]}"
    kube.ensure_namespace(name)
    return name


@pytest.fixture
def private_kube(tmp_path: Path) -> Iterator[LabKube]:
    """A server of the test's own, for clock travel and other global changes."""
    with in_process_kube(tmp_path / "kube", bookmark_interval=0.3) as server:
        yield server


def pod_body(
    name: str = "", generate_name: str = "", labels: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    """A minimal valid pod manifest."""
    metadata: dict[str, Any] = {"labels": labels or {}}
    if name:
        metadata["name"] = name
    if generate_name:
        metadata["generateName"] = generate_name
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"containers": [{"name": "app", "image": "busybox:1.36"}], **spec},
    }
