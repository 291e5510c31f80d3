"""The node failure drill on real processes: the node running StatefulSet pod `vault-0` dies; it turns
NotReady, `vault-0` is evicted after the (short) toleration and stays Terminating, as on a real cluster,
until the operator marks the node out of service; it then comes back on the other node with a new UID.
A token bound to the old pod then fails TokenReview while the new pod's projected token passes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.lab_cluster.cluster import Cluster, lab_cluster
from vaultinject.lab.kube.harness import wait_for

COPY_TOKEN = "cp /var/run/secrets/kubernetes.io/serviceaccount/token /out/$POD_UID.token; sleep 1000"


def _manifests(out: Path) -> str:
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "vault"}}
    container = {
        "name": "vault",
        "image": "hashicorp/vault:1.17",
        "command": ["sh", "-c", COPY_TOKEN],
        "env": [{"name": "POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}}],
        "volumeMounts": [{"name": "out", "mountPath": "/out"}],
    }
    statefulset = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "vault"},
        "spec": {
            "serviceName": "vault",
            "replicas": 1,
            "selector": {"matchLabels": {"app": "vault"}},
            "template": {
                "metadata": {"labels": {"app": "vault"}},
                "spec": {
                    "serviceAccountName": "vault",
                    "terminationGracePeriodSeconds": 2,
                    "containers": [container],
                    "volumes": [{"name": "out", "hostPath": {"path": str(out), "type": "DirectoryOrCreate"}}],
                },
            },
        },
    }
    return "\n".join(json.dumps(m) for m in (account, statefulset))


def _review(cluster: Cluster, token: str) -> dict[str, Any]:
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
    status: dict[str, Any] = cluster.kube.call("POST", "/apis/authentication.k8s.io/v1/tokenreviews", body)[
        "status"
    ]
    return status


def _token(path: Path) -> str:
    """The token file a pod copied out, once it is there."""
    wait_for(path.exists, timeout=20)
    return path.read_text()


def _replacement(cluster: Cluster, old_uid: str) -> dict[str, Any] | None:
    pod = _vault_0(cluster)
    return pod if pod is not None and pod["metadata"]["uid"] != old_uid else None


def _vault_0(cluster: Cluster) -> dict[str, Any] | None:
    status, pod = cluster.kube.request("GET", "/api/v1/namespaces/default/pods/vault-0")
    return pod if status == 200 else None


def _node_status(cluster: Cluster, name: str) -> str:
    return cluster.ok("get", "node", name, "--no-headers").split()[1]


def test_vault_0_moves_to_another_node_with_a_new_uid_and_its_old_token_dies(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with lab_cluster(
        tmp_path, nodes=2, default_unreachable_toleration_seconds=2, default_not_ready_toleration_seconds=2
    ) as cluster:
        cluster.apply(_manifests(out))
        cluster.ok("rollout", "status", "statefulset/vault", "--timeout=60s")
        first = _vault_0(cluster)
        assert first is not None
        old_uid, old_node = first["metadata"]["uid"], first["spec"]["nodeName"]
        old_token = _token(out / f"{old_uid}.token")
        assert _review(cluster, old_token)["authenticated"] is True

        cluster.stop_node(old_node)
        wait_for(lambda: _node_status(cluster, old_node) == "NotReady", timeout=30, interval=0.2)
        # Evicted after the 2 s toleration: Terminating, and no kubelet will ever confirm it.
        wait_for(lambda: cluster.status_column("vault-0") == "Terminating", timeout=30, interval=0.2)
        events = cluster.ok("get", "events", "--field-selector", "involvedObject.name=vault-0")
        assert "Marking for deletion Pod default/vault-0" in events
        assert _replacement(cluster, old_uid) is None  # the old object still holds the name

        # The operator's move for a node that is gone for good (Kubernetes' non-graceful node shutdown).
        cluster.ok("taint", "node", old_node, "node.kubernetes.io/out-of-service=nodeshutdown:NoExecute")
        moved = wait_for(
            lambda: _replacement(cluster, old_uid),
            timeout=30,
            interval=0.2,
        )
        assert moved is not None
        new_uid = moved["metadata"]["uid"]
        cluster.ok("wait", "--for=condition=Ready", "pod/vault-0", "--timeout=60s")
        assert cluster.pod("default", "vault-0")["spec"]["nodeName"] != old_node
        new_token = _token(out / f"{new_uid}.token")

        old = _review(cluster, old_token)
        assert old.get("authenticated") is not True
        # The name now belongs to the new pod, so the API server names both UIDs (auth-failure.md).
        claim = f"pod UID ({new_uid}) does not match service account pod ref claim ({old_uid})"
        assert old["error"] == f"[invalid bearer token, {claim}]"
        new = _review(cluster, new_token)
        assert new["authenticated"] is True
        assert new["user"]["username"] == "system:serviceaccount:default:vault"
        assert new["user"]["extra"]["authentication.kubernetes.io/pod-uid"] == [new_uid]
