"""`vaultinject lab kubelet`: one lab node's agent process.

It registers its Node (from `--node-index`, see `node.py`), runs the pods bound to it (`pods.py`,
`worker.py`), posts a Node status heartbeat every `--heartbeat-interval` seconds and renews its
`kube-node-lease` Lease every `--lease-duration` x 0.25 seconds, until SIGTERM or SIGINT (exit 0).

Run it as PID 1 of its own PID and mount namespace (`unshare --pid --fork --kill-child --mount-proc`): then
its pods' state lives on a tmpfs only it sees, and killing it takes every container with it, as a dead
machine does.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from vaultinject.lab.kubelet import cgroups, node
from vaultinject.lab.kubelet.api import ApiClient, ApiError
from vaultinject.lab.kubelet.containers import INITIAL_BACKOFF, MAX_BACKOFF, Backoff
from vaultinject.lab.kubelet.pods import PodManager
from vaultinject.lab.kubelet.recorder import Recorder
from vaultinject.lab.kubelet.runtime import Runtime, unmount_all
from vaultinject.lab.kubelet.worker import ClusterView, NodeContext
from vaultinject.lab.network.ipam import PodAddresses

log = logging.getLogger("vaultinject.lab.kubelet")


def command(
    *,
    node: str,
    index: int,
    server: str,
    ca_file: Path,
    token_file: Path,
    data_dir: Path,
    log_dir: Path,
    extra: tuple[str, ...] = (),
) -> list[str]:
    """The argv of one lab node: this kubelet as PID 1 of its own PID and mount namespace."""
    return [
        "unshare", "--pid", "--fork", "--kill-child", "--mount-proc",
        sys.executable, "-m", "vaultinject.cli", "lab", "kubelet", "--node", node, "--node-index", str(index),
        "--server", server, "--ca-file", str(ca_file), "--token-file", str(token_file),
        "--data-dir", str(data_dir), "--log-dir", str(log_dir), *extra,
    ]  # fmt: skip


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vaultinject lab kubelet", description="A lab node agent.")
    p.add_argument("--node", required=True, help="the Node's name")
    p.add_argument("--node-index", type=int, required=True, help="the node's index (podCIDR, InternalIP)")
    p.add_argument("--server", required=True, help="the API server URL, https://HOST:PORT")
    p.add_argument("--ca-file", type=Path, required=True, help="the API server's CA certificate")
    p.add_argument("--token-file", type=Path, required=True, help="the node's bearer token (re-read)")
    p.add_argument("--data-dir", type=Path, required=True, help="this node's state (pods, volumes, roots)")
    p.add_argument("--log-dir", type=Path, required=True, help="the API server's pod-logs directory")
    p.add_argument("--claims-dir", type=Path, help="volume claim directories (default: DATA_DIR/claims)")
    p.add_argument("--heartbeat-interval", type=float, default=10.0, help="seconds between status posts")
    p.add_argument("--lease-duration", type=int, default=node.LEASE_SECONDS, help="Lease duration seconds")
    p.add_argument(
        "--crash-loop-backoff", type=float, default=INITIAL_BACKOFF, help="first CrashLoopBackOff delay (s)"
    )
    p.add_argument(
        "--max-crash-loop-backoff", type=float, default=MAX_BACKOFF, help="CrashLoopBackOff cap (s)"
    )
    p.add_argument("--log-level", default="INFO", help="Python logging level")
    return p


def _refused(error: ApiError) -> str:
    what = (
        "the token was refused (401 Unauthorized)"
        if error.status == 401
        else ("the node is not allowed (403 Forbidden)" if error.status == 403 else f"HTTP {error.status}")
    )
    message = error.body.get("message", "") if isinstance(error.body, dict) else str(error.body)
    return f"{what}: {message}" if message else what


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        api = ApiClient(args.server, args.ca_file, args.token_file, timeout=10)
        registered = node.register(api, args.node, args.node_index, time.time())
        uid = str(registered["metadata"]["uid"])
        node.renew_lease(api, args.node, uid, time.time(), args.lease_duration)
    except ApiError as error:
        log.error("cannot register node %s at %s: %s", args.node, args.server, _refused(error))
        return 1
    except (OSError, http.client.HTTPException) as error:
        log.error("cannot reach the API server %s: %s", args.server, error)
        return 1
    log.info("node %s registered (uid %s); heartbeats every %ss", args.node, uid, args.heartbeat_interval)
    context = _node_context(args, api, registered)
    pods = PodManager(context)
    threading.Thread(target=pods.run, args=(stop,), daemon=True, name="pods").start()
    try:
        _heartbeats(args, api, uid, stop)
    finally:
        pods.shutdown()
        unmount_all(context.pods_dir)
    log.info("node %s: stopping on signal", args.node)
    return 0


def _pods_dir(data_dir: Path) -> Path:
    """A clean directory for pod state; a tmpfs of its own when this process is a namespace's PID 1."""
    pods_dir = data_dir / "pods"
    pods_dir.mkdir(parents=True, exist_ok=True)
    unmount_all(pods_dir)
    for leftover in pods_dir.iterdir():
        shutil.rmtree(leftover, ignore_errors=True)
    if os.getpid() == 1:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0711", "tmpfs", str(pods_dir)], check=True)
    return pods_dir


def _node_context(args: argparse.Namespace, api: ApiClient, registered: dict[str, object]) -> NodeContext:
    pods_dir = _pods_dir(args.data_dir)
    # The node is its name in its data directory: two labs may both have a node-1.
    lab = hashlib.sha256(str(args.data_dir.resolve()).encode()).hexdigest()[:8]
    cgroup_prefix = f"vaultinject-{args.node}-{lab}-"
    cgroups.remove_stale(cgroup_prefix)  # a node's restart starts with none, as a reboot does
    status = registered.get("status")
    allocatable = dict(status.get("allocatable") or {}) if isinstance(status, dict) else {}
    return NodeContext(
        api=api,
        name=args.node,
        host_ip=node.internal_ip(args.node_index),
        runtime=Runtime(pods_dir, cgroup_prefix),
        addresses=PodAddresses(node.pod_cidr(args.node_index)),
        pods_dir=pods_dir,
        log_root=args.log_dir,
        claims_root=args.claims_dir or args.data_dir / "claims",
        recorder=Recorder(api, args.node),
        cluster=ClusterView(api),
        allocatable=allocatable,
        backoff=Backoff(args.crash_loop_backoff, args.max_crash_loop_backoff),
    )


def _heartbeats(args: argparse.Namespace, api: ApiClient, uid: str, stop: threading.Event) -> None:
    lease_interval = args.lease_duration * 0.25
    next_heartbeat = time.monotonic() + args.heartbeat_interval
    next_lease = time.monotonic() + lease_interval
    while not stop.wait(max(0.0, min(next_heartbeat, next_lease) - time.monotonic())):
        now = time.monotonic()
        try:
            if now >= next_heartbeat:
                next_heartbeat = now + args.heartbeat_interval
                node.heartbeat(api, args.node, args.node_index, time.time())
            if now >= next_lease:
                next_lease = now + lease_interval
                node.renew_lease(api, args.node, uid, time.time(), args.lease_duration)
        except ApiError as error:
            log.warning("node %s: update failed: %s", args.node, _refused(error))
        except (OSError, http.client.HTTPException) as error:
            log.warning("node %s: API server unreachable: %s", args.node, error)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
