"""The Service proxy forwards to a ready endpoint, and to another when the first dies; only 127/8."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vaultinject.lab.kube.harness import LabKube, LabKubeError, in_process_kube


class Echo:
    """A TCP server on `ip` answering every connection with its name."""

    def __init__(self, ip: str, name: bytes) -> None:
        self.sock = socket.create_server((ip, 0))
        self.port = self.sock.getsockname()[1]
        self.name = name
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.sendall(self.name)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # shutdown wakes the blocked accept(): nothing accepted after
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(timeout=5)


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[LabKube]:
    with in_process_kube(tmp_path / "kube", service_proxy=True) as lab:
        yield lab


def _read(ip: str, port: int, deadline: float = 5.0) -> bytes:
    end = time.monotonic() + deadline
    while True:
        try:
            with socket.create_connection((ip, port), timeout=2) as s:
                data = s.recv(100)
                if data:
                    return data
        except OSError:
            pass
        if time.monotonic() > end:
            return b""
        time.sleep(0.05)


def test_forwards_then_fails_over(kube: LabKube) -> None:
    a, b = Echo("127.244.0.2", b"a"), Echo("127.244.1.2", b"b")
    try:
        svc = kube.call("POST", "/api/v1/namespaces/default/services",
                        {"metadata": {"name": "echo"}, "spec": {"ports": [{"port": 8200, "name": "x"}]}})  # fmt: skip
        ip = svc["spec"]["clusterIP"]
        assert ip.startswith("127.96.")
        subsets = [
            {"addresses": [{"ip": "127.244.0.2"}], "ports": [{"name": "x", "port": a.port}]},
            {"addresses": [{"ip": "127.244.1.2"}], "ports": [{"name": "x", "port": b.port}]},
        ]
        kube.call(
            "POST", "/api/v1/namespaces/default/endpoints", {"metadata": {"name": "echo"}, "subsets": subsets}
        )
        seen = {_read(ip, 8200) for _ in range(4)}
        assert seen == {b"a", b"b"}
        a.close()
        assert {_read(ip, 8200) for _ in range(4)} == {b"b"}
        kube.call("DELETE", "/api/v1/namespaces/default/services/echo")
        time.sleep(0.3)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((ip, 8200), timeout=1).close()
    finally:
        a.close()
        b.close()


def test_kubernetes_service_reaches_the_api_server(kube: LabKube) -> None:
    assert kube.server is not None
    with socket.create_connection(("127.96.0.1", 443), timeout=5) as s:
        s.sendall(b"\x16\x03\x01\x00\x05hello")  # anything: the API server's TLS stack answers or closes
        s.settimeout(5)
        s.recv(10)
    assert ("default", "kubernetes", 443) in kube.server.proxy.listening()  # type: ignore[union-attr]


def test_cluster_ip_outside_the_range_is_refused(kube: LabKube) -> None:
    with pytest.raises(LabKubeError) as error:
        kube.call("POST", "/api/v1/namespaces/default/services",
                  {"metadata": {"name": "x"}, "spec": {"clusterIP": "10.96.0.9", "ports": [{"port": 80}]}})  # fmt: skip
    assert error.value.status == 422
    assert "The range of valid IPs is 127.96.0.0/16" in error.value.body["message"]


def test_never_binds_or_targets_outside_loopback() -> None:
    from vaultinject.lab.network.proxy import ProxyError, ServiceProxy, _targets

    endpoints = {
        "subsets": [{"addresses": [{"ip": "10.0.0.5"}, {"ip": "127.244.0.9"}], "ports": [{"port": 80}]}]
    }
    assert _targets({"port": 80}, endpoints) == [("127.244.0.9", 80)]
    proxy = ServiceProxy.__new__(ServiceProxy)

    with pytest.raises(ProxyError, match=r"outside 127\.0\.0\.0/8"):
        asyncio.run(proxy._listen(("default", "x", 80), "192.0.2.1"))
