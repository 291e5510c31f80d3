"""lightkube (what vaultinject's own `kube` module uses) against the lab, sync and async."""

from __future__ import annotations

import asyncio
from typing import Any

import lightkube
import pytest
from lightkube import AsyncClient, Client, KubeConfig
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.core_v1 import Container, PodSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import ConfigMap, Pod
from lightkube.types import PatchType

from vaultinject.lab.kube.harness import LabKube


def test_sync_client_crud_apply_patch_watch(kube: LabKube, namespace: str) -> None:
    client: Any = Client(config=KubeConfig.from_file(str(kube.kubeconfig)))
    manager = "healer"
    client.apply(
        ConfigMap(metadata=ObjectMeta(name="applied", namespace=namespace), data={"a": "1"}),
        field_manager=manager,
    )
    applied = client.apply(
        ConfigMap(metadata=ObjectMeta(name="applied", namespace=namespace), data={"a": "2"}),
        field_manager=manager,
    )
    assert applied.data == {"a": "2"}
    spec = PodSpec(containers=[Container(name="app", image="busybox")])
    client.create(Pod(metadata=ObjectMeta(name="p", namespace=namespace), spec=spec))
    client.patch(Pod, "p", {"metadata": {"labels": {"a": "b"}}}, namespace=namespace)
    add_label = [{"op": "add", "path": "/metadata/labels/c", "value": "d"}]
    client.patch(Pod, "p", add_label, namespace=namespace, patch_type=PatchType.JSON)
    assert client.get(Pod, "p", namespace=namespace).metadata.labels == {"a": "b", "c": "d"}
    # lightkube's watch resumes by itself after each server timeout, so take the first event and stop.
    kind, first = next(iter(client.watch(Pod, namespace=namespace, server_timeout=1)))
    assert (kind, first.metadata.name) == ("ADDED", "p")
    with pytest.raises(lightkube.ApiError) as caught:
        client.get(Pod, "nope", namespace=namespace)
    assert (caught.value.status.code, caught.value.status.reason) == (404, "NotFound")
    client.close()


def test_async_client_lease_election_round(kube: LabKube, namespace: str) -> None:
    async def elect() -> tuple[Any, Any]:
        client: Any = AsyncClient(config=KubeConfig.from_file(str(kube.kubeconfig)))
        spec = LeaseSpec(holderIdentity="healer-0", leaseDurationSeconds=15)
        lease = await client.create(Lease(metadata=ObjectMeta(name="healer", namespace=namespace), spec=spec))
        lease.spec.holderIdentity = "healer-1"
        taken = await client.replace(lease)
        lease.spec.holderIdentity = "healer-2"
        with pytest.raises(lightkube.ApiError) as lost:
            await client.replace(lease)
        await client.close()
        return taken.spec.holderIdentity, lost.value.status.code

    assert asyncio.run(elect()) == ("healer-1", 409)
