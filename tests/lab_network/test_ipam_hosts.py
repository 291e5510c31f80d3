"""The address plan and the per-pod hosts file."""

from __future__ import annotations

import pytest

from vaultinject.lab.network import hosts, ipam


def test_plan() -> None:
    assert ipam.node_pod_cidr(2) == "127.244.2.0/24"
    assert ipam.node_internal_ip(0) == "127.0.1.1"
    assert ipam.next_cluster_ip([]) == "127.96.0.2"
    assert ipam.next_cluster_ip(["127.96.0.2"]) == "127.96.0.3"
    assert not ipam.in_service_range("10.96.0.1")
    assert ipam.in_service_range("127.96.3.4")
    with pytest.raises(ipam.AddressError):
        ipam.next_pod_ip("10.0.0.0/24", [])


def test_pod_ips_start_at_2_and_are_reused() -> None:
    pool = ipam.PodAddresses(ipam.node_pod_cidr(1))
    assert [pool.allocate(u) for u in "abc"] == ["127.244.1.2", "127.244.1.3", "127.244.1.4"]
    assert pool.allocate("a") == "127.244.1.2"
    pool.release("b")
    assert pool.allocate("d") == "127.244.1.3"


def _svc(ns: str, name: str, ip: str) -> dict[str, object]:
    return {"metadata": {"namespace": ns, "name": name}, "spec": {"clusterIP": ip}}


def test_hosts_file() -> None:
    pod = {
        "metadata": {"name": "vault-0", "namespace": "vault"},
        "spec": {
            "subdomain": "vault-internal",
            "hostAliases": [{"ip": "127.0.0.9", "hostnames": ["a", "b"]}],
        },
        "status": {"podIP": "127.244.0.2"},
    }
    text = hosts.hosts_file(
        pod,
        [_svc("vault", "vault", "127.96.0.5"), _svc("default", "kubernetes", "127.96.0.1"),
         _svc("vault", "vault-internal", "None")],
        [pod],
    )  # fmt: skip
    lines = text.splitlines()
    assert lines[0] == "# Kubernetes-managed hosts file."
    assert lines[1] == "127.0.0.1\tlocalhost"
    assert "127.244.0.2\tvault-0.vault-internal.vault.svc.cluster.local\tvault-0" in lines
    assert "# Entries added by HostAliases." in lines
    assert "127.0.0.9\ta\tb" in lines
    assert "127.96.0.1\tkubernetes.default.svc kubernetes.default.svc.cluster.local" in lines
    assert "127.96.0.5\tvault vault.vault vault.vault.svc vault.vault.svc.cluster.local" in lines
    assert "127.244.0.2\tvault-0.vault-internal.vault.svc.cluster.local" in lines
