"""The kubelet's HTTPS client against an in-process API server: get/404, post, patch status, list, watch."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from vaultinject.lab.kube.harness import in_process_kube
from vaultinject.lab.kubelet.api import ApiClient, ApiError


def test_client_round_trip(tmp_path: Path) -> None:
    with in_process_kube(tmp_path / "kube") as kube:
        token = tmp_path / "token"
        token.write_text(kube.admin_token + "\n")
        api = ApiClient(kube.url, kube.ca_file, token)
        assert api.get_json("/api/v1/namespaces/nope") is None
        kube.ensure_namespace("demo")
        pod = kube.create_pod("demo", "p", node_name="n1")
        listed = api.list("/api/v1/pods", field_selector="spec.nodeName=n1")
        assert [p["metadata"]["name"] for p in listed["items"]] == ["p"]
        assert api.list("/api/v1/pods", field_selector="spec.nodeName=n2")["items"] == []
        seen: list[str] = []

        def watch() -> None:
            for event in api.watch(
                "/api/v1/pods", listed["metadata"]["resourceVersion"], "spec.nodeName=n1", 5
            ):
                if event["type"] == "MODIFIED":
                    seen.append(event["object"]["status"]["phase"])
                    return

        thread = threading.Thread(target=watch)
        thread.start()
        path = f"/api/v1/namespaces/demo/pods/{pod['metadata']['name']}/status"
        api.patch_json(path, {"status": {"phase": "Running"}})
        thread.join(10)
        assert seen == ["Running"]
        token.write_text("wrong")
        with pytest.raises(ApiError) as error:
            api.get_json("/api/v1/namespaces/demo")
        assert error.value.status == 401
