"""Node tokens from `KubeServer.node_token`: a kubelet's identity and the `system:node` RBAC it gets."""

from __future__ import annotations

import stat
from pathlib import Path

from vaultinject.lab.kube.harness import in_process_kube
from vaultinject.lab.kube.server import KubeServer, ServerConfig
from vaultinject.lab.kubelet import node
from vaultinject.lab.kubelet.api import ApiClient


def test_node_token_registers_renews_and_is_limited(tmp_path: Path) -> None:
    with in_process_kube(tmp_path / "kube") as kube:
        assert kube.server is not None
        path = kube.server.node_token("n1")
        assert path == kube.data_dir / "pki" / "nodes" / "n1.token"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert kube.server.node_token("n1").read_text() == path.read_text()
        api = ApiClient(kube.url, kube.ca_file, path)
        registered = node.register(api, "n1", 1, 1000.0)
        lease = node.renew_lease(api, "n1", registered["metadata"]["uid"], 1000.0)
        assert lease["spec"]["holderIdentity"] == "n1"
        token = path.read_text().strip()
        user = kube.server.authenticator.authenticate(f"Bearer {token}")
        assert (user.username, user.groups) == ("system:node:n1", ("system:nodes", "system:authenticated"))
        status, _ = kube.request("DELETE", "/api/v1/namespaces/default", token=token)
        assert status == 403
        status, _ = kube.request("GET", "/api/v1/nodes", token="not-a-node-token")
        assert status == 401


def test_node_tokens_on_disk_are_registered_at_start(tmp_path: Path) -> None:
    with in_process_kube(tmp_path / "kube") as kube:
        assert kube.server is not None
        token = kube.server.node_token("n2").read_text().strip()
    server = KubeServer(ServerConfig(data_dir=tmp_path / "kube"))
    try:
        assert server.authenticator.authenticate(f"Bearer {token}").username == "system:node:n2"
    finally:
        server.store.close()
        server.admission.close()
