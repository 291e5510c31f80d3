"""Node registration, heartbeat and Lease against an in-process API server; kubectl's view of the node."""

from __future__ import annotations

from pathlib import Path

from vaultinject.lab.kube.harness import in_process_kube
from vaultinject.lab.kubelet import node
from vaultinject.lab.kubelet.api import ApiClient


def test_register_heartbeat_and_lease(tmp_path: Path) -> None:
    with in_process_kube(tmp_path / "kube") as kube:
        token = tmp_path / "token"
        token.write_text(kube.admin_token)
        api = ApiClient(kube.url, kube.ca_file, token)
        kube.ensure_namespace("kube-node-lease")
        registered = node.register(api, "n1", 1, 1000.0)
        assert registered["spec"]["podCIDR"] == "127.244.1.0/24"
        assert {"type": "InternalIP", "address": "127.0.2.1"} in registered["status"]["addresses"]
        ready = {c["type"]: c for c in registered["status"]["conditions"]}["Ready"]
        assert (ready["status"], ready["reason"], ready["message"]) == (
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
        )
        again = node.register(api, "n1", 1, 1010.0)
        ready2 = {c["type"]: c for c in again["status"]["conditions"]}["Ready"]
        assert ready2["lastTransitionTime"] == ready["lastTransitionTime"]
        assert ready2["lastHeartbeatTime"] != ready["lastHeartbeatTime"]
        lease = node.renew_lease(api, "n1", again["metadata"]["uid"], 1000.0)
        renewed = node.renew_lease(api, "n1", again["metadata"]["uid"], 1010.0)
        assert lease["spec"]["leaseDurationSeconds"] == 40
        assert renewed["spec"]["renewTime"] > lease["spec"]["renewTime"]
