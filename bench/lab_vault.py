"""Throughput and latency of the lab Vault server: Kubernetes logins (with a real HTTPS TokenReview) and KV
reads over TLS, from several hvac clients against a `vaultinject lab vault` subprocess.

Run: .venv/bin/python bench/lab_vault.py [--clients 4] [--seconds 10] [--data-dir]

Each client runs flat out, alternating a login and a read; the script prints operations per second and
latency percentiles, and the server process's CPU time per operation.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import hvac

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.lab_vault.kube_stub import FakeKubernetes
from tests.lab_vault.test_load import prepare

from vaultinject.lab.vault.harness import VaultProcess, vault_process


def server_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client_loop(
    vault: VaultProcess, jwt: str, stop: float, latencies: list[float], errors: list[str]
) -> None:
    client = hvac.Client(url=vault.url, verify=str(vault.ca_file))
    login = True
    while time.perf_counter() < stop:
        began = time.perf_counter()
        try:
            if login:
                client.auth.kubernetes.login(role="app", jwt=jwt)
            else:
                client.secrets.kv.v2.read_secret_version("app/config", raise_on_deleted_version=True)
        except Exception as error:
            errors.append(repr(error))
        latencies.append(time.perf_counter() - began)
        login = not login


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--data-dir", action="store_true", help="persist to SQLite instead of memory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        kube = FakeKubernetes(workdir)
        data_dir = workdir / "data" if args.data_dir else None
        with vault_process(
            root_token="root", workdir=workdir, data_dir=data_dir, extra_args=["--quiet"]
        ) as vault:
            prepare(vault, kube)
            jwt = kube.issue("demo", "app")
            latencies: list[float] = []
            errors: list[str] = []
            cpu_before, started = server_cpu_seconds(vault.pid), time.perf_counter()
            stop = started + args.seconds
            threads = [
                threading.Thread(target=client_loop, args=(vault, jwt, stop, latencies, errors))
                for _ in range(args.clients)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
            cpu = server_cpu_seconds(vault.pid) - cpu_before
        kube.stop()
    ordered = sorted(latencies)
    print(f"clients {args.clients}, {elapsed:.1f} s, storage {'sqlite' if args.data_dir else 'memory'}")
    print(f"operations {len(ordered)} ({len(ordered) / elapsed:.0f}/s), errors {len(errors)}")
    print(
        f"latency p50 {statistics.median(ordered) * 1000:.1f} ms, "
        f"p99 {ordered[int(len(ordered) * 0.99) - 1] * 1000:.1f} ms"
    )
    print(f"server CPU {cpu / len(ordered) * 1000:.2f} ms per operation")


if __name__ == "__main__":
    main()
