"""`vaultinject lab vault`: run the lab Vault server until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from vaultinject.lab.vault.config import DEFAULT_SA_CA_FILE, DEFAULT_SA_TOKEN_FILE, ServerConfig
from vaultinject.lab.vault.registration import registration_from_environment
from vaultinject.lab.vault.server import VaultServer, stderr_log


def parse_listen(value: str) -> tuple[str, int]:
    """`HOST:PORT`, `[V6]:PORT` or `:PORT` (127.0.0.1); port 0 picks a free port."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vaultinject lab vault",
        description="A Vault-compatible HTTP server for tests, demos and failure drills.",
    )
    parser.add_argument(
        "--listen",
        type=parse_listen,
        default=("127.0.0.1", 8200),
        metavar="HOST:PORT",
        help="address to serve on; port 0 picks a free port (default 127.0.0.1:8200)",
    )
    parser.add_argument("--tls-cert", type=Path, help="PEM certificate (chain) to serve HTTPS with")
    parser.add_argument("--tls-key", type=Path, help="PEM private key for --tls-cert")
    parser.add_argument("--data-dir", type=Path, help="keep state in DIR/vault.db (SQLite) across restarts")
    parser.add_argument(
        "--root-token", help="initialize on first start with this root token (kept on restarts)"
    )
    seal = parser.add_mutually_exclusive_group()
    seal.add_argument("--auto-unseal", action="store_true", help="unseal by itself at start, like a KMS seal")
    seal.add_argument(
        "--unseal-key-file",
        type=Path,
        help="write the unseal keys here (JSON) when the server is initialized",
    )
    parser.add_argument(
        "--local-sa-token-file",
        type=Path,
        default=DEFAULT_SA_TOKEN_FILE,
        help="the server's own service-account token for Kubernetes auth",
    )
    parser.add_argument(
        "--local-ca-cert-file",
        type=Path,
        default=DEFAULT_SA_CA_FILE,
        help="the cluster CA the Kubernetes auth method trusts by default",
    )
    parser.add_argument("--sweep-interval", type=float, default=1.0, help="seconds between expiry sweeps")
    parser.add_argument(
        "--no-dev-secret-mount",
        action="store_true",
        help="with --root-token, do not mount secret/ (KV v2) on first start",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    _add_ha_arguments(parser)
    _add_registration_arguments(parser)
    return parser


def _add_ha_arguments(parser: argparse.ArgumentParser) -> None:
    ha = parser.add_argument_group(
        "high availability",
        "Several servers started with --ha on one --data-dir form a cluster: one is active (it holds the "
        "lock DIR/ha.lock), the others stand by: they answer sys/health, sys/seal-status, sys/leader, "
        "sys/init and sys/unseal themselves, refuse sys/seal, and forward every other request to the active "
        "node (a 307 to it with X-Vault-No-Request-Forwarding or when forwarding fails). When the active "
        "node's process dies, a standby takes over at once; after sys/step-down a node waits 10 s before "
        "it competes for the lock again.",
    )
    ha.add_argument(
        "--ha", action="store_true", help="join the HA cluster whose storage is --data-dir (needs --data-dir)"
    )
    ha.add_argument(
        "--api-addr",
        default=os.environ.get("VAULT_API_ADDR", ""),
        metavar="URL",
        help="the address other nodes and redirected clients reach this node at "
        "(default $VAULT_API_ADDR, else this server's own URL)",
    )
    ha.add_argument(
        "--cluster-addr",
        default=os.environ.get("VAULT_CLUSTER_ADDR", ""),
        metavar="URL",
        help="reported as leader_cluster_address (default $VAULT_CLUSTER_ADDR, else the API host on the "
        "next port)",
    )
    ha.add_argument(
        "--ca-cert",
        type=Path,
        default=Path(os.environ["VAULT_CACERT"]) if os.environ.get("VAULT_CACERT") else None,
        metavar="FILE",
        help="PEM CA that a standby trusts when it forwards to the active node (default $VAULT_CACERT, "
        "else the system trust store)",
    )


def _add_registration_arguments(parser: argparse.ArgumentParser) -> None:
    registration = parser.add_argument_group(
        "Kubernetes service registration",
        "Label this server's pod with vault-active, vault-initialized, vault-sealed, vault-perf-standby and "
        "vault-version, and keep them current, through the API server at "
        "https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT with the service-account token and CA of "
        "--local-sa-token-file and --local-ca-cert-file. On when --service-registration kubernetes is "
        "given, or when both VAULT_K8S_POD_NAME and VAULT_K8S_NAMESPACE are set.",
    )
    registration.add_argument(
        "--service-registration", choices=["kubernetes"], help="turn service registration on"
    )
    registration.add_argument(
        "--k8s-pod-name", metavar="NAME", help="the pod to label (default $VAULT_K8S_POD_NAME)"
    )
    registration.add_argument(
        "--k8s-namespace", metavar="NAME", help="the pod's namespace (default $VAULT_K8S_NAMESPACE)"
    )


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """The server settings; ValueError names a missing service-registration setting."""
    host, port = args.listen
    registration = registration_from_environment(
        os.environ,
        enabled=args.service_registration == "kubernetes",
        pod_name=args.k8s_pod_name,
        namespace=args.k8s_namespace,
    )
    return ServerConfig(
        listen_host=host,
        listen_port=port,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        data_dir=args.data_dir,
        root_token=args.root_token,
        auto_unseal=args.auto_unseal,
        unseal_key_file=args.unseal_key_file,
        local_sa_token_file=args.local_sa_token_file,
        local_ca_cert_file=args.local_ca_cert_file,
        sweep_interval=args.sweep_interval,
        dev_secret_mount=not args.no_dev_secret_mount,
        ha=args.ha,
        api_addr=args.api_addr.rstrip("/"),
        cluster_addr=args.cluster_addr.rstrip("/"),
        ca_cert=args.ca_cert,
        registration=registration,
    )


def main(argv: list[str]) -> int:
    """Serve until SIGTERM/SIGINT; print the server URL on stdout once ready."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    if args.ha and args.data_dir is None:
        parser.error("--ha needs --data-dir: the storage every node of the cluster shares")
    if args.api_addr and not args.api_addr.startswith(("http://", "https://")):
        parser.error(
            f"--api-addr (or VAULT_API_ADDR) must be an http:// or https:// URL, got {args.api_addr!r}"
        )
    try:
        config = config_from_args(args)
    except ValueError as error:
        parser.error(f"service registration: {error}")
    server = VaultServer(config, log=(lambda _event: None) if args.quiet else stderr_log)
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        url = server.start()
    except (OSError, ValueError) as error:
        print(f"error: cannot start the lab Vault server: {error}", file=sys.stderr)
        return 1
    print(url, flush=True)
    while not stop.wait(0.5):
        pass
    server.stop()
    return 0
