"""The webhook under open-loop load over TLS, against a bare uvicorn app measured in the same run.

Run: .venv/bin/python bench/webhook.py [--seconds 30] [--rate 1000]
Needs Debian's `hey`. For each server: p50/p99/p99.9 at --rate reviews/s (hey with a rate limit per
worker; every request's time from its CSV), then the maximum rate with 50 connections, and resident
memory. The review is a Deployment's pod with 3 secrets and a template, as the API server sends it.
Then a profile of the decision itself (in-process), to say where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import io
import json
import pstats
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trustme

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.inject import SETTINGS, realistic_pod

from vaultinject.webhook.review import review

WORKERS = 20


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


def hey(url: str, body: Path, seconds: float, rate: int | None, connections: int) -> list[float]:
    command = [
        "hey",
        "-z",
        f"{seconds}s",
        "-c",
        str(connections),
        "-m",
        "POST",
        "-T",
        "application/json",
        "-D",
        str(body),
        "-o",
        "csv",
    ]
    if rate is not None:
        command += ["-q", str(max(1, rate // connections))]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rows = list(csv.DictReader(io.StringIO(output)))
    failed = [row for row in rows if row["status-code"] != "200"]
    if failed:
        raise SystemExit(f"{len(failed)} requests failed, e.g. {failed[0]}")
    return sorted(float(row["response-time"]) for row in rows)


def percentile(times: list[float], fraction: float) -> float:
    return times[min(len(times) - 1, int(fraction * len(times)))] * 1000


def rss_mib(process: subprocess.Popen[bytes]) -> float:
    status = Path(f"/proc/{process.pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status)[1]) / 1024  # type: ignore[index]


def measure(
    name: str, url: str, body: Path, process: subprocess.Popen[bytes], args: argparse.Namespace
) -> dict[str, float]:
    paced = hey(url, body, args.seconds, args.rate, WORKERS)
    flat_out = hey(url, body, max(5.0, args.seconds / 3), None, 50)
    figures = {
        "p50": percentile(paced, 0.50),
        "p99": percentile(paced, 0.99),
        "p999": percentile(paced, 0.999),
        "achieved": len(paced) / args.seconds,
        "max": len(flat_out) / max(5.0, args.seconds / 3),
        "rss": rss_mib(process),
    }
    print(
        f"{name:<8} at {args.rate}/s: p50 {figures['p50']:.2f} ms  p99 {figures['p99']:.2f} ms  "
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=int, default=1000)
    args = parser.parse_args()
    if shutil.which("hey") is None:
        raise SystemExit("install Debian's hey: apt-get install hey")
    with tempfile.TemporaryDirectory() as directory:
        ca = trustme.CA()
        leaf = ca.issue_cert("127.0.0.1")
        cert, key, ca_file = Path(directory, "tls.crt"), Path(directory, "tls.key"), Path(directory, "ca.crt")
        leaf.cert_chain_pems[0].write_to_path(str(cert))
        leaf.private_key_pem.write_to_path(str(key))
        ca.cert_pem.write_to_path(str(ca_file))
        body = Path(directory, "review.json")
        body.write_bytes(admission_review())
        servers = {
            "bare": [sys.executable, str(Path(__file__).with_name("bare_asgi.py")), str(cert), str(key)],
            "webhook": [
                sys.executable,
                "-m",
                "vaultinject.cli",
                "webhook",
                "--listen",
                "127.0.0.1:0",
                "--tls-cert-file",
                str(cert),
                "--tls-key-file",
                str(key),
                "--tls-ca-file",
                str(ca_file),
                "--kubernetes-version",
                "1.31",
                "--vault-addr",
                "https://vault.vault.svc:8200",
            ],
        }
        results: dict[str, dict[str, float]] = {}
        for name, command in servers.items():
            process, url = start(command, Path(directory, f"{name}.log"))
            try:
                path = "/mutate" if name == "webhook" else "/"
                results[name] = measure(name, url + path, body, process, args)
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(10)
        bare, ours = results["bare"], results["webhook"]
        print(
            f"\nratios to the bare app in this run: p99 {ours['p99'] / bare['p99']:.2f}x (target <= 2), "
            f"max rate {ours['max'] / bare['max']:.0%} of the bare app's (target >= 40%)"
        )
        profile(body.read_bytes())


if __name__ == "__main__":
    main()
