"""Rotation on a lab cluster, with no restart: a KV value changed in Vault reaches the app's file within
the re-render interval and its per-secret command runs; a dynamic credential is renewed, then re-issued
before its max TTL; and the webhook's own certificates rotate, with 2 replicas behind their Service,
while pods are created without pause, and not one admission fails."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from demo.run import NAMESPACE, Demo, wait
from demo.workloads import api, deployment, pods, prepare, responses, wait_ready

from vaultinject.lab.kube.harness import LabKube

# Scaled down from 24h and 8760h as in tests/webhook/test_autotls_replicas.py: a serving certificate is
# renewed every 8 s and the CA replaced every 20 s, each replica re-reading the Secret every 0.5 s.
WEBHOOK_TLS = {
    "VAULTINJECT_TLS_CERT_LIFETIME": "12s",
    "VAULTINJECT_TLS_CA_LIFETIME": "30s",
    "VAULTINJECT_TLS_SYNC": "0.5s",
}
ROTATING_ROLE, MAX_TTL = "rotating", 9.0  # leases of 3 s, renewable up to 9 s after issue


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    lab = Demo(tmp_path_factory.mktemp("rotation") / "lab")
    try:
        prepare(lab, WEBHOOK_TLS)
        lab.root.secrets.database.create_role(
            name=ROTATING_ROLE, db_name="shopdb", creation_statements=["CREATE ROLE ..."],
            default_ttl="3s", max_ttl=f"{MAX_TTL:g}s",
        )  # fmt: skip
        lab.root.write("database/config/shopdb", allowed_roles=["app", ROTATING_ROLE])  # the rest is kept
        policy = lab.root.sys.read_policy("app-read")["data"]["rules"]
        policy += f'path "database/creds/{ROTATING_ROLE}" {{ capabilities = ["read"] }}\n'
        lab.root.sys.create_or_update_policy("app-read", policy)
        yield lab
    finally:
        lab.stop()


def watching_app(name: str, file: str, show: str) -> dict[str, Any]:
    """The app, printing `<time> <what show prints>` whenever /vault/secrets/`file` changes."""
    document = deployment(name, "native")
    script = (
        f'last=""; while true; do now=$(cat /vault/secrets/{file}); '
        f'if [ "$now" != "$last" ]; then echo "$(date +%s.%N) {show}"; last=$now; fi; sleep 0.1; done'
    )
    document["spec"]["template"]["spec"]["containers"][0]["command"] = ["/bin/sh", "-c", script]
    return document


def app_lines(demo: Demo, app: str) -> list[tuple[float, str]]:
    log = demo.kubectl("-n", NAMESPACE, "logs", f"deployment/{app}", "-c", "app")
    return [
        (float(at), what) for at, what in (line.split(" ", 1) for line in log.splitlines() if " " in line)
    ]


def restarts(demo: Demo, app: str) -> set[int]:
    (pod,) = pods(demo, f"app={app}")
    statuses = pod["status"]["containerStatuses"] + (pod["status"].get("initContainerStatuses") or [])
    return {s["restartCount"] for s in statuses}


def test_a_kv_value_changed_in_vault_reaches_the_file_within_the_render_interval_and_its_command_runs(
    demo: Demo,
) -> None:
    name = "kv-rotation"
    show = "$now rendered-at=$(cat /vault/secrets/.config-rendered)"
    demo.kubectl("apply", "-f", "-", stdin=json.dumps(watching_app(name, "config.txt", show)))
    wait_ready(demo, f"app={name}")
    changed = time.time()
    demo.root.secrets.kv.v2.create_or_update_secret(
        path=f"{NAMESPACE}/config", secret={"greeting": "rotated by the test"}, mount_point="secret"
    )
    wait("the app to see the new value", lambda: "rotated by the test" in str(app_lines(demo, name)), 15)
    at, what = next((at, what) for at, what in app_lines(demo, name) if "rotated by the test" in what)
    assert at - changed < 2 + 1.5  # the annotated render interval, and the app's own 0.1 s poll
    rendered = float(re.search(r"rendered-at=(\S+)", what).group(1))  # type: ignore[union-attr]
    assert changed < rendered <= at  # the per-secret command ran for this render
    assert restarts(demo, name) == {0}
    demo.kubectl("-n", NAMESPACE, "delete", "deployment", name, "--wait=false")


def test_a_dynamic_credential_is_renewed_then_reissued_before_its_max_ttl_with_no_restart(demo: Demo) -> None:
    name = "db-rotation"
    document = watching_app(name, "db.env", "$(grep DB_USER /vault/secrets/db.env)")
    annotations = document["spec"]["template"]["metadata"]["annotations"]
    annotations["vault.hashicorp.com/agent-inject-secret-db.env"] = f"database/creds/{ROTATING_ROLE}"
    annotations["vault.hashicorp.com/agent-inject-template-db.env"] = annotations[
        "vault.hashicorp.com/agent-inject-template-db.env"
    ].replace("creds/app", f"creds/{ROTATING_ROLE}")
    demo.kubectl("apply", "-f", "-", stdin=json.dumps(document))
    wait_ready(demo, f"app={name}")
    wait("a second credential in the file", lambda: len(app_lines(demo, name)) >= 2, MAX_TTL + 10)
    users = [what for _, what in app_lines(demo, name)]
    assert len(set(users)) == len(users) >= 2
    issued = [stamp(e) for e in responses(demo, f"database/creds/{ROTATING_ROLE}")]
    renewed = [stamp(e) for e in responses(demo, "sys/leases/renew")]
    assert len(issued) >= 2
    assert any(issued[0] < at < issued[1] for at in renewed), "the first lease was never renewed"
    assert issued[1] < issued[0] + MAX_TTL, "re-issued only after the first credential's max TTL"
    assert restarts(demo, name) == {0}
    demo.kubectl("-n", NAMESPACE, "delete", "deployment", name, "--wait=false")


def stamp(entry: dict[str, Any]) -> float:
    return dt.datetime.fromisoformat(entry["time"]).timestamp()


class Admissions:
    """Pods created without pause (server dry runs, so they go through admission and no further)."""

    def __init__(self, kube: LabKube, pod: dict[str, Any]) -> None:
        self.kube, self.pod = kube, pod
        self.created = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._create, daemon=True) for _ in range(2)]

    def __enter__(self) -> Admissions:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _create(self) -> None:
        path = f"/api/v1/namespaces/{NAMESPACE}/pods?dryRun=All"
        while not self._stop.is_set():
            status, answer = self.kube.request("POST", path, self.pod, timeout=15)
            containers = [c["name"] for c in (answer.get("spec") or {}).get("initContainers") or []]
            if status != 201 or containers != ["vault-agent"]:
                self.failures.append(f"{status}: {answer.get('message') if status != 201 else containers}")
            self.created += 1


def webhook_tls(kube: LabKube) -> tuple[str, str]:
    """The CA that signs and the serving certificate, as the webhook's Secret holds them now."""
    data = kube.call("GET", "/api/v1/namespaces/vaultinject/secrets/vaultinject-webhook-tls")["data"]
    return data["ca-signer.crt"], data["tls.crt"]


def test_the_webhook_certificates_rotate_under_continuous_pod_creation_without_one_failed_admission(
    demo: Demo,
) -> None:
    kube = api(demo)
    pod = deployment("admitted", "native")["spec"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "admitted-", **pod["metadata"]},
           "spec": pod["spec"]}  # fmt: skip
    seen = [webhook_tls(kube)]
    with Admissions(kube, pod) as admissions:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and (
            len({ca for ca, _ in seen}) < 2 or len({cert for _, cert in seen}) < 3
        ):
            time.sleep(0.2)
            seen.append(webhook_tls(kube))
        time.sleep(1)  # the replicas reload the last certificate under load too
    assert len({ca for ca, _ in seen}) >= 2, "the CA did not rotate"
    assert len({cert for _, cert in seen}) >= 3, "the serving certificate was not renewed twice"
    assert admissions.failures == []
    assert admissions.created > 100
    replicas = json.loads(demo.kubectl("-n", "vaultinject", "get", "pods", "-o", "json"))["items"]
    assert [p["status"]["containerStatuses"][0]["restartCount"] for p in replicas] == [0, 0]
