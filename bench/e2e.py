"""What injection costs a pod, end to end on a lab cluster: create-to-Ready of an injected pod against the
same pod without injection (the floor, measured in the same run), in each mode, and 50 injected pods at
once with the Vault logins they made.

Run: .venv/bin/python bench/e2e.py [--runs 5] [--pods 50]   (root and kubectl needed, as for the lab)
Target: injection adds under 0.3 s to a pod's create-to-Ready in every mode.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demo.run import NAMESPACE, Demo
from demo.workloads import deployment, logins, prepare, wait_ready

MODES = ("native", "classic", "init-only")


def plain(name: str) -> dict[str, Any]:
    document = deployment(name, "native")
    document["spec"]["template"]["metadata"]["annotations"] = {}
    document["spec"]["template"]["spec"]["containers"][0]["command"] = ["/bin/sh", "-c", "sleep 3600"]
    return document


def create_to_ready(demo: Demo, document: dict[str, Any], replicas: int = 1) -> float:
    """Seconds from `kubectl apply` of a Deployment to all its pods Ready; the Deployment is then deleted."""
    name = document["metadata"]["name"]
    document["spec"]["replicas"] = replicas
    started = time.monotonic()
    demo.kubectl("apply", "-f", "-", stdin=json.dumps(document))
    wait_ready(demo, f"app={name}", replicas, timeout=120)
    elapsed = time.monotonic() - started
    demo.kubectl("-n", NAMESPACE, "delete", "deployment", name, "--wait=true", "--timeout=60s")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pods", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vaultinject-bench-e2e-") as directory:
        demo = Demo(Path(directory) / "lab")
        try:
            prepare(demo)
            measure(demo, args.runs, args.pods)
        finally:
            demo.stop()


def measure(demo: Demo, runs: int, count: int) -> None:
    print("\ncreate-to-Ready, median of", runs, "runs (the lab's polling adds the same ~0.2 s to each)")
    floor = statistics.median(create_to_ready(demo, plain(f"plain-{i}")) for i in range(runs))
    print(f"  no injection (floor)  {floor:.2f} s", flush=True)
    for mode in MODES:
        injected = statistics.median(
            create_to_ready(demo, deployment(f"{mode}-{i}", mode)) for i in range(runs)
        )
        print(f"  {mode:<21} {injected:.2f} s   injection adds {injected - floor:+.2f} s (target < 0.30 s)")
    before = logins(demo)
    together = create_to_ready(demo, deployment("many", "native"), replicas=count)
    made = logins(demo) - before
    print(f"\n{count} injected pods (native) at once: all Ready in {together:.1f} s; Vault logins {made}")


if __name__ == "__main__":
    main()
