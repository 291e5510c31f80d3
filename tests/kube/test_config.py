"""`load_config`: the kubeconfig kubectl would use, or the in-cluster service account."""

from __future__ import annotations

from pathlib import Path

import pytest
from lightkube.resources.core_v1 import ConfigMap, Namespace

from tests.kube.conftest import run
from vaultinject.kube import Forbidden, Kube, KubeConfigError, Unauthorized, load_config
from vaultinject.lab.kube.harness import LabKube


def test_explicit_path_then_kubeconfig_env(kube_server: LabKube, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", f"{kube_server.kubeconfig}:/nonexistent")
    from_env = load_config()
    assert from_env.cluster.server == kube_server.url
    assert load_config(kube_server.kubeconfig).cluster.server == kube_server.url

    async def namespaces() -> list[str]:
        async with Kube(from_env) as kube:
            items, version = await kube.list(Namespace)
            assert version
            return [item.metadata.name or "" for item in items if item.metadata]

    assert "default" in run(namespaces())


def test_missing_file_and_unknown_context_are_named(kube_server: LabKube, tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError, match="does not exist"):
        load_config(tmp_path / "nope")
    with pytest.raises(KubeConfigError, match=r"no context 'prod' \(it has: "):
        load_config(kube_server.kubeconfig, context="prod")
    broken = tmp_path / "broken"
    broken.write_text("clusters: 5\n")
    with pytest.raises(KubeConfigError, match="cannot load"):
        load_config(broken)


def test_nothing_configured_says_what_to_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(KubeConfigError, match="set KUBECONFIG or pass --kubeconfig"):
        load_config(service_account=tmp_path / "sa")


def test_in_cluster_service_account_rereads_its_token(
    kube_server: LabKube, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kube_server.ensure_service_account(namespace, "healer")
    account = tmp_path / "sa"
    account.mkdir()
    (account / "ca.crt").write_bytes(kube_server.ca_file.read_bytes())
    (account / "namespace").write_text(namespace)
    (account / "token").write_text(kube_server.mint_token(namespace, "healer"))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(kube_server.url.rsplit(":", 1)[1]))
    config = load_config(service_account=account)
    assert config.namespace == namespace

    async def read_as_the_pod() -> None:
        async with Kube(config) as kube:
            with pytest.raises(Forbidden, match="cannot list resource"):
                await kube.list(ConfigMap)  # the pod's own namespace, and it has no RBAC grant
            kube_server.grant("view", namespace, "healer")
            names = [item.metadata.name for item in (await kube.list(ConfigMap))[0] if item.metadata]
            assert "kube-root-ca.crt" in names
            # The old token dies with its service account; the kubelet has written a new one: a 401 makes
            # the client read the file again, as client-go does.
            recreate_service_account()
            (account / "token").write_text(kube_server.mint_token(namespace, "healer"))
            assert (await kube.list(ConfigMap))[0]
            recreate_service_account()
            (account / "token").write_text("not-a-token")
            with pytest.raises(Unauthorized):
                await kube.list(ConfigMap)

    def recreate_service_account() -> None:
        kube_server.call("DELETE", f"/api/v1/namespaces/{namespace}/serviceaccounts/healer")
        kube_server.ensure_service_account(namespace, "healer")

    run(read_as_the_pod())
