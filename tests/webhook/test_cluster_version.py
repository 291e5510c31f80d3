"""The default mode follows the cluster: native sidecars from Kubernetes 1.29, classic before."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vaultinject.lab.kube.harness import LabKube, in_process_kube
from vaultinject.spec import Mode, Settings
from vaultinject.webhook.server import Options, parse_version, settings_for_cluster


def options(**overrides: Any) -> Options:
    base = Options(
        host="127.0.0.1", port=0, cert_file=Path("c"), key_file=Path("k"), ca_file=None,
        settings=Settings(vault_addr="https://vault:8200"), mode_configured=False,
        kubernetes_version=None, kubeconfig=None, deadline=8.0,
    )  # fmt: skip
    return base._replace(**overrides)


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabKube]:
    with in_process_kube(tmp_path_factory.mktemp("kube")) as server:
        yield server


@pytest.mark.parametrize(
    ("text", "version"),
    [("1.29", (1, 29)), ("v1.31.2", (1, 31)), ("1.28.0-eks-1", (1, 28)), ("1.30+", (1, 30))],
)
def test_versions_are_read_as_kubectl_prints_them(text: str, version: tuple[int, int]) -> None:
    assert parse_version(text) == version


def test_a_bad_version_flag_is_named() -> None:
    with pytest.raises(ValueError, match=r"use the form 1\.29"):
        parse_version("twenty-nine")


def test_the_api_servers_version_picks_native(kube: LabKube) -> None:
    settings = asyncio.run(settings_for_cluster(options(kubeconfig=str(kube.kubeconfig))))
    assert settings.mode is Mode.NATIVE  # the lab serves v1.32.0


@pytest.mark.parametrize(("version", "mode"), [("1.28", Mode.CLASSIC), ("1.29", Mode.NATIVE)])
def test_the_flag_decides_without_asking(version: str, mode: Mode) -> None:
    settings = asyncio.run(
        settings_for_cluster(options(kubernetes_version=version, kubeconfig="/nonexistent"))
    )
    assert settings.mode is mode


def test_a_configured_mode_wins() -> None:
    configured = Settings(vault_addr="https://vault:8200", mode=Mode.CLASSIC)
    chosen = asyncio.run(
        settings_for_cluster(options(settings=configured, mode_configured=True, kubernetes_version="1.31"))
    )
    assert chosen.mode is Mode.CLASSIC


def test_no_api_server_still_serves_with_the_default_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "vaultinject.webhook")
    settings = asyncio.run(settings_for_cluster(options(kubeconfig=str(tmp_path / "missing"))))
    assert settings.mode is Mode.NATIVE
    assert "cannot read the cluster version" in caplog.text
    assert "serving with the default mode native" in caplog.text
