"""A node's workers share one listing of the cluster's Services and pods, refreshed after its TTL."""

from __future__ import annotations

import time
from typing import Any, cast

from vaultinject.lab.kubelet.api import ApiClient
from vaultinject.lab.kubelet.worker import ClusterView


class CountingApi:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def list(self, path: str, field_selector: str = "") -> dict[str, Any]:
        del field_selector
        self.calls.append(path)
        return {"items": [{"metadata": {"name": f"{path.rsplit('/', 1)[-1]}-{len(self.calls)}"}}]}


def test_workers_share_one_listing_until_it_is_older_than_the_ttl() -> None:
    api = CountingApi()
    view = ClusterView(cast(ApiClient, api), ttl=0.2)
    for _ in range(50):
        view.services()
        view.pods()
    assert api.calls == ["/api/v1/services", "/api/v1/pods"]
    assert view.services()[0]["metadata"]["name"] == "services-1"
    time.sleep(0.25)
    assert view.pods()[0]["metadata"]["name"] == "pods-4"
    assert len(api.calls) == 4
