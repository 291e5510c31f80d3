"""`vaultinject lab kube`: run the lab Kubernetes API server until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
import threading
from pathlib import Path

from vaultinject.lab.controllers.settings import ControllerSettings
from vaultinject.lab.kube.server import DEFAULT_ISSUER, KubeServer, ServerConfig

READY_PREFIX = "lab kube: serving "


def _listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vaultinject lab kube", description="A Kubernetes-compatible API server for the lab."
    )
    p.add_argument(
        "--listen", type=_listen, default=("127.0.0.1", 6443), help="HOST:PORT (port 0 picks a free one)"
    )
    p.add_argument("--data-dir", type=Path, required=True, help="PKI, admin token, state.db and pod logs")
    p.add_argument("--kubeconfig-out", type=Path, help="write a kubeconfig for kubectl and clients here")
    p.add_argument("--issuer", default=DEFAULT_ISSUER, help="service-account token issuer (iss)")
    p.add_argument("--api-audience", action="append", default=[], help="API audiences (default: the issuer)")
    p.add_argument("--bookmark-interval", type=float, default=10.0, help="seconds between watch bookmarks")
    p.add_argument(
        "--watch-history", type=int, default=5000, help="changes kept per resource for watch resume"
    )
    p.add_argument(
        "--no-grace-reaper",
        action="store_true",
        help="leave pods Terminating after their grace period (a kubelet finishes their deletion)",
    )
    p.add_argument(
        "--controllers",
        default="",
        help="comma-separated lab controllers to run, '*' for all (default: none)",
    )
    p.add_argument(
        "--simulated-nodes", type=int, default=0, help="nodes with simulated kubelets (kwok-style)"
    )
    for flag, default, text in (
        ("--node-monitor-grace-period", 50.0, "seconds without a heartbeat before a node is Unknown"),
        ("--node-monitor-period", 5.0, "seconds between node health checks"),
        ("--node-startup-grace-period", 60.0, "seconds a new node may take to post Ready"),
        ("--pod-gc-orphan-quarantine", 40.0, "seconds a node must be gone before PodGC removes its pods"),
    ):
        p.add_argument(flag, type=_seconds, default=default, help=text)
    for flag in ("--default-not-ready-toleration-seconds", "--default-unreachable-toleration-seconds"):
        p.add_argument(flag, type=int, default=300, help="tolerationSeconds DefaultTolerationSeconds adds")
    p.add_argument("--service-proxy", action="store_true", help="forward ClusterIP:port to ready endpoints")
    p.add_argument("--log-level", default="WARNING", help="Python logging level")
    return p


def _seconds(value: str) -> float:
    """Seconds as a number or a Go duration (`50s`, `1m30s`, `500ms`)."""
    try:
        return float(value)
    except ValueError:
        pass
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise argparse.ArgumentTypeError(f"invalid duration {value!r}")
    return sum(float(n) * units[u] for n, u in parts)


def _controllers(value: str) -> tuple[str, ...] | None:
    if value.strip() == "*":
        return None
    return tuple(n.strip() for n in value.split(",") if n.strip())


def main(argv: list[str]) -> int:
    """Serve until SIGTERM/SIGINT; print one ready line (with the URL) once clients may connect."""
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    host, port = args.listen
    config = ServerConfig(
        data_dir=args.data_dir,
        host=host,
        port=port,
        issuer=args.issuer,
        api_audiences=args.api_audience,
        bookmark_interval=args.bookmark_interval,
        watch_history=args.watch_history,
        reap_pods=not args.no_grace_reaper,
        controllers=_controllers(args.controllers),
        controller_settings=ControllerSettings(
            node_monitor_grace_period=args.node_monitor_grace_period,
            node_monitor_period=args.node_monitor_period,
            node_startup_grace_period=args.node_startup_grace_period,
            pod_gc_orphan_quarantine=args.pod_gc_orphan_quarantine,
            default_not_ready_toleration_seconds=args.default_not_ready_toleration_seconds,
            default_unreachable_toleration_seconds=args.default_unreachable_toleration_seconds,
        ),
        default_not_ready_toleration_seconds=args.default_not_ready_toleration_seconds,
        default_unreachable_toleration_seconds=args.default_unreachable_toleration_seconds,
        simulated_nodes=args.simulated_nodes,
        service_proxy=args.service_proxy,
    )
    server = KubeServer(config)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    if args.kubeconfig_out:
        server.write_kubeconfig(args.kubeconfig_out)
    kubeconfig = f" kubeconfig={args.kubeconfig_out}" if args.kubeconfig_out else ""
    print(f"{READY_PREFIX}{server.url}{kubeconfig}", flush=True)
    stop.wait()
    server.stop()
    sys.stdout.flush()
    return 0
