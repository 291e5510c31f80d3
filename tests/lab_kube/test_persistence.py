"""`vaultinject lab kube` as a process: ready line, kubeconfig, SIGTERM, and a cluster that survives a restart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.lab_kube.k8s import client
from vaultinject.lab.kube.harness import running_kube


def test_restart_keeps_the_cluster(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running_kube(data) as kube:
        assert kube.url.startswith("https://127.0.0.1:")
        config = yaml.safe_load(kube.kubeconfig.read_text())
        assert config["clusters"][0]["cluster"]["server"] == kube.url
        assert config["users"][0]["user"]["token"] == kube.admin_token
        kube.ensure_namespace("keep")
        pod = kube.create_pod("keep", "vault-0", service_account="vault", node_name="node-1")
        token = kube.mint_token("keep", "vault", pod=pod, audiences=["vault"])
        secret = kube.call(
            "POST", "/api/v1/namespaces/keep/secrets", {"metadata": {"name": "s"}, "stringData": {"k": "v"}}
        )
        before = int(kube.call("GET", "/api/v1/namespaces/keep/pods")["metadata"]["resourceVersion"])
    assert kube.process is not None
    assert kube.process.returncode == 0  # SIGTERM is a clean stop
    with running_kube(data) as kube:
        api = kube.api_client()
        core = client.CoreV1Api(api)
        restored = core.read_namespaced_pod("vault-0", "keep")
        assert restored.metadata.uid == pod["metadata"]["uid"]
        assert core.read_namespaced_secret("s", "keep").metadata.uid == secret["metadata"]["uid"]
        assert kube.review_token(token, ["vault"])["status"]["authenticated"] is True
        created = core.create_namespaced_config_map("keep", {"metadata": {"name": "after"}})
        assert int(created.metadata.resource_version) > before
        assert [n.metadata.name for n in core.list_namespace().items].count("default") == 1
        api.close()


def test_stale_watch_after_restart_is_expired(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running_kube(data) as kube:
        kube.ensure_namespace("w")
        old = kube.call("GET", "/api/v1/namespaces/w/pods")["metadata"]["resourceVersion"]
        kube.call("POST", "/api/v1/namespaces/w/configmaps", {"metadata": {"name": "c"}})
    with running_kube(data) as kube:
        events = list(kube.watch(f"/api/v1/namespaces/w/pods?watch=true&resourceVersion={old}"))
        assert [e["type"] for e in events] == ["ERROR"]
        assert events[0]["object"]["reason"] == "Expired"
        current = kube.call("GET", "/api/v1/namespaces/w/pods")["metadata"]["resourceVersion"]
        assert (
            list(
                kube.watch(f"/api/v1/namespaces/w/pods?watch=true&resourceVersion={current}&timeoutSeconds=1")
            )
            == []
        )


def test_command_line_errors_exit_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vaultinject.cli",
            "lab",
            "kube",
            "--listen",
            "nonsense",
            "--data-dir",
            str(tmp_path),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "expected HOST:PORT" in result.stderr
