"""Load: 100 pod creates per second through a mutating webhook for 10 seconds, with 50 concurrent watchers."""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.lab_kube.webhook import add_label, configuration, running_webhook
from vaultinject.lab.kube.harness import LabKube, running_kube

RATE = 100
DURATION = 10
WATCHERS = 50
WORKERS = 8


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Load:
    kube: LabKube
    namespace: str
    total: int
    start: float
    outcome: Outcome


def create_pods(load: Load, worker: int) -> None:
    """Send creates `worker`, `worker + WORKERS`, ... each at its slot of the 100/s schedule."""
    parts = urlsplit(load.kube.url)
    connection = http.client.HTTPSConnection(
        parts.hostname or "", parts.port, context=load.kube.ssl_context(), timeout=30
    )
    headers = {"Authorization": f"Bearer {load.kube.admin_token}", "Content-Type": "application/json"}
    body = json.dumps(
        {"metadata": {"generateName": "load-"}, "spec": {"containers": [{"name": "app", "image": "busybox"}]}}
    )
    for index in range(worker, load.total, WORKERS):
        delay = load.start + index / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sent = time.monotonic()
        try:
            connection.request("POST", f"/api/v1/namespaces/{load.namespace}/pods", body, headers)
            response = connection.getresponse()
            answer = json.loads(response.read())
            mutated = response.status == 201 and answer["metadata"]["labels"] == {"injected": "true"}
            failure = "" if mutated else str(answer)[:300]
        except (OSError, http.client.HTTPException, ValueError, KeyError) as error:
            failure = repr(error)
            connection.close()
        with load.outcome.lock:
            load.outcome.latencies.append(time.monotonic() - sent)
            if failure:
                load.outcome.errors.append(failure)
    connection.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.slow
def test_creates_with_admission_and_fifty_watchers(tmp_path: Path) -> None:
    total = RATE * DURATION
    with (
        running_kube(tmp_path / "kube") as kube,
        running_webhook(tmp_path, add_label("injected", "true")) as hook,
    ):
        assert kube.process is not None
        kube.ensure_namespace("load")
        kube.call(
            "POST",
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
            configuration("load", {"url": hook.url(), "caBundle": hook.ca_bundle}),
        )
        version = kube.call("GET", "/api/v1/namespaces/load/pods")["metadata"]["resourceVersion"]
        watchers = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("watchers.py")),
                "--url",
                kube.url,
                "--ca-file",
                str(kube.ca_file),
                "--token",
                kube.admin_token,
                "--path",
                f"/api/v1/namespaces/load/pods?watch=true&resourceVersion={version}",
                "--streams",
                str(WATCHERS),
                "--expected",
                str(total),
                "--timeout",
                "90",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert watchers.stdout is not None
        assert json.loads(watchers.stdout.readline()) == {"ready": WATCHERS}
        outcome = Outcome()
        cpu_before = cpu_seconds(kube.process.pid)
        start = time.monotonic()
        load = Load(kube, "load", total, start, outcome)
        workers = [threading.Thread(target=create_pods, args=(load, w)) for w in range(WORKERS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.monotonic() - start
        delivered = json.loads(watchers.stdout.readline())
        drained = time.monotonic() - start
        watchers.wait(timeout=30)
        cpu = cpu_seconds(kube.process.pid) - cpu_before
        stored = len(kube.call("GET", "/api/v1/namespaces/load/pods")["items"])
    latencies = sorted(outcome.latencies)
    quantile = statistics.quantiles(latencies, n=100)
    print(
        f"\nlab kube load: {total} pod creates in {elapsed:.2f}s ({total / elapsed:.1f}/s) through a mutating webhook; "
        f"latency p50 {quantile[49] * 1000:.1f} ms, p95 {quantile[94] * 1000:.1f} ms, p99 {quantile[98] * 1000:.1f} ms, "
        f"max {latencies[-1] * 1000:.1f} ms; {WATCHERS} watchers received {sum(delivered['added'])} events "
        f"(all delivered {drained:.2f}s after the first create); server CPU {cpu:.1f}s; webhook calls {len(hook.reviews)}; "
        f"errors {len(outcome.errors) + len(delivered['errors'])}"
    )
    assert outcome.errors == []
    assert delivered["errors"] == []
    assert delivered["added"] == [total] * WATCHERS
    assert len(hook.reviews) == total
    assert stored == total
