"""The webhook under open-loop load over TLS, against a bare uvicorn app measured in the same run.

Run: .venv/bin/python bench/webhook.py [--seconds 30] [--rate 1000]
Needs Go (Debian's golang-go) to build `bench/loadgen`, an open-loop generator that sends requests
evenly spaced and counts each one's latency from its scheduled time. (hey's rate limit ticks all its
workers at once: at 1,000/s over 20 workers it sends bursts of 20 every 20 ms and measures its own
queue.) For each server: p50/p99/p99.9 at --rate reviews/s, then the maximum rate with 50 connections
flat out, and resident memory. The review is a Deployment's pod with 3 secrets and a template, as the
API server sends it, in two workloads: "replicas", the same pod again and again as a ReplicaSet's
scale-up sends it (answered from the verdict cache after the first), and "distinct", 1,000 pods that
differ in a label (every one decided afresh: the cache holds 512). Then a profile of the decision.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

import trustme

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.inject import SETTINGS, realistic_pod

from vaultinject.webhook.review import review

CONNECTIONS = 32  # for the paced run; the flat-out run uses 50
LOADGEN = Path(__file__).with_name("loadgen")


class Run(NamedTuple):
    loadgen: Path
    ca: Path
    seconds: float
    rate: int


def admission_review() -> bytes:
    pod = realistic_pod()
    request = {
        "uid": "0f9e2a3c-bench",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "namespace": "shop",
        "operation": "CREATE",
        "object": pod,
        "dryRun": False,
    }
    return json.dumps(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    ).encode()


def start(command: list[str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start a server logging to `log` (the webhook logs a line per decision, as in production)."""
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        if match := re.search(r"listening on (https://127\.0\.0\.1:\d+)", log.read_text()):
            time.sleep(1.0)  # the webhook logs before uvicorn has started serving
            return process, match[1]
        time.sleep(0.1)
    raise SystemExit(f"server did not start: {command}\n{log.read_text()}")


def build_loadgen(directory: Path) -> Path:
    go = shutil.which("go")
    if go is None:
        raise SystemExit("install Go to build bench/loadgen: apt-get install golang-go")
    binary = directory / "loadgen"
    env = {**os.environ, "GOCACHE": str(directory / "gocache"), "GOPATH": str(directory / "gopath")}
    env.update(GOPROXY="off", GOFLAGS="-mod=mod", CGO_ENABLED="0")
    subprocess.run([go, "build", "-o", str(binary), "."], cwd=LOADGEN, env=env, check=True)
    return binary


def load(
    run: Run, url: str, bodies: list[Path], *, seconds: float, rate: int, connections: int
) -> dict[str, Any]:
    """One loadgen run (rate 0: flat out); its summary, after checking every request succeeded."""
    command = [
        str(run.loadgen), "-url", url, "-body", ",".join(map(str, bodies)), "-cacert", str(run.ca),
        "-rate", str(rate), "-duration", f"{seconds}s", "-conns", str(connections),
    ]  # fmt: skip
    summary: dict[str, Any] = json.loads(subprocess.run(command, capture_output=True, check=True).stdout)
    if summary["errors"]:
        raise SystemExit(f"requests failed: {summary['errors']}")
    return summary


def rss_mib(process: subprocess.Popen[bytes]) -> float:
    status = Path(f"/proc/{process.pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status)[1]) / 1024  # type: ignore[index]


def measure(
    name: str, url: str, bodies: list[Path], process: subprocess.Popen[bytes], run: Run
) -> dict[str, float]:
    load(run, url, bodies, seconds=2, rate=run.rate, connections=CONNECTIONS)  # warm up
    paced = load(run, url, bodies, seconds=run.seconds, rate=run.rate, connections=CONNECTIONS)
    flat_out = load(run, url, bodies, seconds=max(5.0, run.seconds / 3), rate=0, connections=50)
    figures = {
        "p50": paced["p50"],
        "p99": paced["p99"],
        "p999": paced["p999"],
        "achieved": paced["achieved"],
        "max": flat_out["achieved"],
        "rss": rss_mib(process),
    }
    print(
        f"{name:<18} at {run.rate}/s: p50 {figures['p50']:.2f} ms  p99 {figures['p99']:.2f} ms  "
        f"p99.9 {figures['p999']:.2f} ms  (achieved {figures['achieved']:.0f}/s)   "
        f"max {figures['max']:.0f}/s   RSS {figures['rss']:.1f} MiB",
        flush=True,
    )
    return figures


def profile(body: bytes) -> None:
    for _ in range(200):
        review(body, SETTINGS)
    runs = 2000
    started = time.perf_counter()
    for _ in range(runs):
        review(body, SETTINGS)
    per_review = (time.perf_counter() - started) / runs * 1e6
    print(f"\nthe decision alone (review(), in-process): {per_review:.0f} us per review")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        review(body, SETTINGS)
    profiler.disable()
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(12)
    print("\n".join(line for line in stream.getvalue().splitlines() if line.strip())[:3000])


def distinct_reviews(directory: Path, count: int) -> list[Path]:
    """`count` reviews of pods that differ only in a label, as pods of different templates do."""
    document = json.loads(admission_review())
    paths = []
    for index in range(count):
        document["request"]["object"]["metadata"]["labels"]["pod-template-hash"] = f"t{index:05d}"
        path = directory / f"distinct-{index}.json"
        path.write_text(json.dumps(document))
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        ca = trustme.CA()
        leaf = ca.issue_cert("127.0.0.1")
        cert, key, ca_file = directory / "tls.crt", directory / "tls.key", directory / "ca.crt"
        leaf.cert_chain_pems[0].write_to_path(str(cert))
        leaf.private_key_pem.write_to_path(str(key))
        ca.cert_pem.write_to_path(str(ca_file))
        replica = directory / "review.json"
        replica.write_bytes(admission_review())
        run = Run(build_loadgen(directory), ca_file, args.seconds, args.rate)
        bare_command = [sys.executable, str(Path(__file__).with_name("bare_asgi.py")), str(cert), str(key)]
        webhook_command = [
            sys.executable, "-m", "vaultinject.cli", "webhook", "--listen", "127.0.0.1:0",
            "--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-ca-file", str(ca_file),
            "--kubernetes-version", "1.31", "--vault-addr", "https://vault.vault.svc:8200",
        ]  # fmt: skip
        workloads = {
            "bare": (bare_command, "/", [replica]),
            "webhook replicas": (webhook_command, "/mutate", [replica]),
            "webhook distinct": (webhook_command, "/mutate", distinct_reviews(directory, 1000)),
        }
        results: dict[str, dict[str, float]] = {}
        for workload, (command, path, bodies) in workloads.items():
            process, url = start(command, directory / "server.log")
            try:
                results[workload] = measure(workload, url + path, bodies, process, run)
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(10)
        bare = results["bare"]
        print("\nratios to the bare app in this run (targets: p99 <= 2x, max rate >= 40%):")
        for workload in ("webhook replicas", "webhook distinct"):
            ours = results[workload]
            print(
                f"  {workload:<17} p99 {ours['p99'] / bare['p99']:.2f}x, "
                f"max rate {ours['max'] / bare['max']:.0%} of the bare app's"
            )
        profile(replica.read_bytes())


if __name__ == "__main__":
    main()
