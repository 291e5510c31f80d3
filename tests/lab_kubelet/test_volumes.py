"""Pod volumes against the lab API server (HTTPS): secrets, configMaps, downward API, tokens, emptyDir, claims."""

from __future__ import annotations

import base64
import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vaultinject.lab.kube.harness import LabKube, in_process_kube
from vaultinject.lab.kubelet.volumes import (
    PodVolumes,
    Token,
    VolumeError,
    host_path,
    mounts_for,
    requires_refresh,
)

JSON = dict[str, Any]
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="tmpfs mounts need root")


class Reader:
    """A test-local ApiReader over the lab server's HTTPS API."""

    def __init__(self, kube: LabKube) -> None:
        self.kube = kube

    def get_json(self, path: str) -> JSON | None:
        status, answer = self.kube.request("GET", path)
        return None if status == 404 else dict(answer)

    def post_json(self, path: str, body: JSON) -> JSON:
        return dict(self.kube.call("POST", path, body))


def mountinfo() -> set[str]:
    with open("/proc/self/mountinfo", encoding="utf-8") as info:
        return {" ".join(line.split()[3:5]) for line in info}


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[LabKube]:
    before = mountinfo()
    try:
        with in_process_kube(tmp_path / "kube") as k:
            k.ensure_namespace("demo")
            yield k
    finally:
        # a failed test still unmounts what it mounted
        PodVolumes({"metadata": {}}, Reader(None), tmp_path / "pod").teardown()  # type: ignore[arg-type]
        assert mountinfo() == before


def make_pod(kube: LabKube, volumes: list[JSON], annotations: dict[str, str] | None = None) -> JSON:
    pod = kube.create_pod("demo", "app-0", labels={"app": "web"})
    pod["spec"]["volumes"] = volumes
    pod["metadata"]["annotations"] = annotations or {}
    return pod


def test_secret_configmap_downward_and_updates(kube: LabKube, tmp_path: Path) -> None:
    before = mountinfo()
    kube.call(
        "POST",
        "/api/v1/namespaces/demo/secrets",
        {"metadata": {"name": "db"}, "data": {"password": base64.b64encode(b"pw").decode()}},
    )
    kube.call(
        "POST",
        "/api/v1/namespaces/demo/configmaps",
        {"metadata": {"name": "cfg"}, "data": {"a": "1", "b": "2"}},
    )
    volumes = [
        {"name": "sec", "secret": {"secretName": "db", "defaultMode": 0o400}},
        {
            "name": "cm",
            "configMap": {"name": "cfg", "items": [{"key": "b", "path": "sub/b.txt", "mode": 0o600}]},
        },
        {
            "name": "info",
            "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]},
        },
        {"name": "opt", "secret": {"secretName": "nope", "optional": True}},
    ]
    pod = make_pod(kube, volumes)
    vols = PodVolumes(
        pod,
        Reader(kube),
        tmp_path / "pod",
    )
    paths = vols.setup()
    assert (paths["sec"] / "password").read_bytes() == b"pw"
    assert (paths["sec"] / "password").stat().st_mode & 0o777 == 0o400
    assert os.readlink(paths["sec"] / "password") == "..data/password"
    assert (paths["cm"] / "sub" / "b.txt").read_text() == "2"
    assert not (paths["cm"] / "a").exists()
    assert (paths["info"] / "labels").read_text() == 'app="web"'
    assert [p for p in paths["opt"].iterdir() if not p.name.startswith("..")] == []
    assert any(f" {paths['sec']} " in f" {m} " for m in mountinfo())  # a secret volume is a tmpfs

    kube.call(
        "PUT", "/api/v1/namespaces/demo/configmaps/cfg", {"metadata": {"name": "cfg"}, "data": {"b": "3"}}
    )
    pod["metadata"]["labels"] = {"app": "web", "tier": "x"}
    link = os.readlink(paths["sec"] / "..data")
    vols.refresh()
    assert (paths["cm"] / "sub" / "b.txt").read_text() == "3"
    assert (paths["info"] / "labels").read_text() == 'app="web"\ntier="x"'
    assert os.readlink(paths["sec"] / "..data") == link  # unchanged: not rewritten

    container = {
        "name": "app",
        "volumeMounts": [
            {"name": "sec", "mountPath": "/s"},
            {"name": "cm", "mountPath": "/c", "subPath": "sub"},
        ],
    }
    mounts = vols.mounts_for(container)
    assert [(m.target, m.read_only, m.source) for m in mounts] == [
        ("/s", True, paths["sec"]),
        ("/c", True, paths["cm"] / "sub"),
    ]
    vols.teardown()
    assert not (tmp_path / "pod" / "volumes").exists()
    assert mountinfo() == before


@pytest.mark.parametrize(
    ("volume", "message"),
    [
        ({"secret": {"secretName": "x"}}, 'secret "x" not found'),
        ({"configMap": {"name": "x"}}, 'configmap "x" not found'),
    ],
)
def test_missing_required(kube: LabKube, tmp_path: Path, volume: JSON, message: str) -> None:
    vols = PodVolumes(make_pod(kube, [{"name": "v", **volume}]), Reader(kube), tmp_path / "pod")
    with pytest.raises(VolumeError) as err:
        vols.setup()
    assert err.value.message == message
    vols.teardown()


def test_projected_token_rotation(kube: LabKube, tmp_path: Path) -> None:
    assert kube.server is not None
    clock = kube.server.clock
    volumes = [
        {
            "name": "tok",
            "projected": {
                "sources": [
                    {
                        "serviceAccountToken": {
                            "path": "token",
                            "audience": "vault",
                            "expirationSeconds": 3600,
                        }
                    },
                    {
                        "downwardAPI": {
                            "items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]
                        }
                    },
                ]
            },
        }
    ]
    vols = PodVolumes(make_pod(kube, volumes), Reader(kube), tmp_path / "pod", clock=clock.now)
    paths = vols.setup()
    first = (paths["tok"] / "token").read_text()
    review = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": first, "audiences": ["vault"]},
    }
    assert kube.call("POST", "/apis/authentication.k8s.io/v1/tokenreviews", review)["status"]["authenticated"]
    assert (paths["tok"] / "namespace").read_text() == "demo"
    clock.advance(2800)  # before 80% - 10 s jitter: kept
    vols.refresh()
    assert (paths["tok"] / "token").read_text() == first
    clock.advance(100)  # past 80% of the TTL
    vols.refresh()
    second = (paths["tok"] / "token").read_text()
    assert second != first
    vols.teardown()


def test_requires_refresh_rules() -> None:
    tok = Token("t", expiration=10_000.0, expiration_seconds=3600)
    issued = 10_000 - 3600
    assert not requires_refresh(tok, issued + 2870, jitter=0)
    assert requires_refresh(tok, issued + 2881, jitter=0)
    assert requires_refresh(tok, issued + 2875, jitter=10)
    assert requires_refresh(tok, issued - 1, jitter=0)  # clock went backwards
    long = Token("t", expiration=issued + 7 * 86400.0, expiration_seconds=7 * 86400)
    assert requires_refresh(long, issued + 86400 + 1, jitter=0)


def test_empty_dir_memory_size_limit(kube: LabKube, tmp_path: Path) -> None:
    vols = PodVolumes(
        make_pod(
            kube,
            [
                {"name": "m", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
                {"name": "d", "emptyDir": {}},
            ],
        ),
        Reader(kube),
        tmp_path / "pod",
    )
    paths = vols.setup()
    with open(paths["m"] / "big", "wb") as out:
        try:
            out.write(b"x" * (2 << 20))
            out.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC  # noqa: PT017
        else:
            pytest.fail("a 2 MiB write fitted in a 1 MiB emptyDir")
    (paths["d"] / "f").write_text("disk")
    vols.teardown()


def test_claims_survive_and_host_path(kube: LabKube, tmp_path: Path) -> None:
    claims = tmp_path / "claims"
    pod = make_pod(
        kube, [{"name": "data", "emptyDir": {}}], {"lab.vaultinject.io/claim-data": "data-vault-0"}
    )
    vols = PodVolumes(pod, Reader(kube), tmp_path / "pod", claims_root=claims)
    paths = vols.setup()
    assert paths["data"] == claims / "demo" / "data-vault-0"
    (paths["data"] / "raft.db").write_text("state")
    vols.teardown()
    assert (claims / "demo" / "data-vault-0" / "raft.db").read_text() == "state"

    made = host_path({"path": str(tmp_path / "h" / "d"), "type": "DirectoryOrCreate"})
    assert made.is_dir()
    with pytest.raises(VolumeError, match="is not a file"):
        host_path({"path": str(made), "type": "File"})
    with pytest.raises(VolumeError, match="is not a directory"):
        host_path({"path": str(tmp_path / "absent"), "type": "Directory"})
    assert mounts_for(
        {"volumeMounts": [{"name": "h", "mountPath": "/h", "readOnly": True}]}, {"h": made}
    ) == [mounts_for({"volumeMounts": [{"name": "h", "mountPath": "/h"}]}, {"h": made}, {"h"})[0]]
