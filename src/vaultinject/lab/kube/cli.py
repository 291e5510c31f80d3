"""`vaultinject lab kube`: run the lab Kubernetes API server until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

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
    # network helper's flags
    p.add_argument("--service-proxy", action="store_true", help="forward ClusterIP:port to ready endpoints")
    p.add_argument("--log-level", default="WARNING", help="Python logging level")
    return p


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
