"""Two replicas with automatic TLS under continuous admission, through CA rotations and a leader's death.

Each replica has a webhook of its own in the configuration, so every pod created passes through both:
a single handshake the API server refuses would fail a pod (failurePolicy Fail). Meanwhile a prober
handshakes with each replica, trusting exactly the bundle the configuration publishes at that moment.
"""

from __future__ import annotations

import base64
import http.client
import signal
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.webhook.harness import RunningWebhook, running_auto_webhook
from vaultinject.lab.kube.harness import LabKube, in_process_kube

MWC_PATH = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
# Scaled down from 24h, 8760h, 5s and 15s. As with the defaults, a certificate renewed at two thirds of its
# life outlives a dead leader's Lease by far (here 4 s left against 1.5 s), so the survivor renews it; the
# CA is replaced while it still outlives two certificates (every 6 s here).
SHORT = [
    "--tls-cert-lifetime",
    "12s",
    "--tls-ca-lifetime",
    "30s",
    "--tls-sync",
    "0.2s",
    "--lease-duration",
    "1.5s",
]


def hook(name: str, webhook: RunningWebhook) -> dict[str, Any]:
    return {
        "name": name,
        "clientConfig": {"url": f"{webhook.url}/mutate"},
        "rules": [
            {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}
        ],
        "namespaceSelector": {"matchLabels": {"vaultinject.io/inject": "enabled"}},
        "failurePolicy": "Fail",
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "timeoutSeconds": 5,
    }


class Load:
    """Creates pods and probes handshakes in the background; counts what fails, and why."""

    def __init__(self, kube: LabKube, replicas: dict[str, RunningWebhook]) -> None:
        self.kube, self.replicas = kube, dict(replicas)
        self.failures: list[str] = []
        self.pods = self.handshakes = 0
        self.bundles: set[bytes] = set()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._create, daemon=True),
            threading.Thread(target=self._probe, daemon=True),
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def _create(self) -> None:
        while not self._stop.is_set():
            body = {
                "metadata": {"generateName": "app-"},
                "spec": {"containers": [{"name": "app", "image": "app"}]},
            }
            status, answer = self.kube.request("POST", "/api/v1/namespaces/apps/pods", body)
            if status == 201:
                self.pods += 1
            else:
                self.failures.append(f"pod create: {status} {answer}")
            time.sleep(0.02)

    def _probe(self) -> None:
        while not self._stop.is_set():
            config = self.kube.call("GET", f"{MWC_PATH}/vaultinject")
            for entry in config["webhooks"]:
                bundle = base64.b64decode(entry["clientConfig"].get("caBundle") or "")
                name = entry["name"].split(".")[0]
                if name not in self.replicas:
                    continue
                self.bundles.add(bundle)
                self._handshake(name, bundle)
            time.sleep(0.02)

    def _handshake(self, name: str, bundle: bytes) -> None:
        context = ssl.create_default_context(cadata=bundle.decode())
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.replicas[name].port, context=context, timeout=5
        )
        try:
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            self.handshakes += 1
        except (OSError, ssl.SSLError) as error:
            if name in self.replicas:  # a replica the test killed is expected to refuse
                self.failures.append(f"handshake with {name}: {error}")
        finally:
            connection.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[LabKube, dict[str, RunningWebhook]]]:
    with in_process_kube(tmp_path / "kube") as kube, ExitStack() as stack:
        kube.ensure_namespace("vaultinject")
        kube.ensure_namespace("apps", {"vaultinject.io/inject": "enabled"})
        kube.ensure_service_account("apps", "default")
        common = [*SHORT, "--namespace", "vaultinject", "--tls-hosts", "127.0.0.1"]
        replicas = {
            name: stack.enter_context(running_auto_webhook(kube.kubeconfig, *common, "--identity", name))
            for name in ("a", "b")
        }
        config = {
            "metadata": {"name": "vaultinject"},
            "webhooks": [hook(f"{n}.vaultinject.io", w) for n, w in replicas.items()],
        }
        kube.call(
            "POST",
            MWC_PATH,
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "MutatingWebhookConfiguration",
                **config,
            },
        )
        _wait_serving(kube)
        yield kube, replicas


def _wait_serving(kube: LabKube, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    body = {"metadata": {"generateName": "first-"}, "spec": {"containers": [{"name": "app", "image": "app"}]}}
    while kube.request("POST", "/api/v1/namespaces/apps/pods", body)[0] != 201:
        assert time.monotonic() < deadline, "the replicas never served a trusted certificate"
        time.sleep(0.2)


def leader(kube: LabKube) -> str:
    lease = kube.call(
        "GET", "/apis/coordination.k8s.io/v1/namespaces/vaultinject/leases/vaultinject-webhook-tls-leader"
    )
    return str(lease["spec"]["holderIdentity"])


def signer(kube: LabKube) -> str:
    secret = kube.call("GET", "/api/v1/namespaces/vaultinject/secrets/vaultinject-webhook-tls")
    return str(secret["data"]["ca-signer.crt"])


def test_rotations_and_a_leader_death_fail_no_handshake_and_no_review(
    cluster: tuple[LabKube, dict[str, RunningWebhook]],
) -> None:
    kube, replicas = cluster
    signers = {signer(kube)}
    with Load(kube, replicas) as load:
        deadline = time.monotonic() + 9
        while time.monotonic() < deadline:
            signers.add(signer(kube))
            time.sleep(0.2)
        assert len(signers) >= 2, "the CA did not rotate"
        dead = leader(kube)
        survivor = "b" if dead == "a" else "a"
        del load.replicas[dead]  # as its Service endpoint would go away, it leaves the configuration first
        config = kube.call("GET", f"{MWC_PATH}/vaultinject")
        config["webhooks"] = [w for w in config["webhooks"] if not w["name"].startswith(dead)]
        kube.call("PUT", f"{MWC_PATH}/vaultinject", config)
        time.sleep(0.5)
        replicas[dead].process.send_signal(signal.SIGKILL)
        replicas[dead].process.wait(5)
        took_over = signer_after = None
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline and signer_after is None:
            if took_over is None and leader(kube) == survivor:
                took_over = signer(kube)
            elif took_over is not None and signer(kube) != took_over:
                signer_after = signer(kube)
            time.sleep(0.2)
        assert took_over is not None, "the survivor never took the Lease"
        assert signer_after is not None, "the survivor did not rotate the CA"
        time.sleep(1)
    assert load.failures == []
    assert load.pods > 50
    assert load.handshakes > 50
    assert len(load.bundles) >= 3
