"""`vaultinject webhook`: the HTTPS admission server that injects pods as the API server creates them."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import logging
import os
import signal
import socket
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vaultinject.cli.options import add_settings_options, settings_from
from vaultinject.spec import SettingsError
from vaultinject.spec.settings import env_name

if TYPE_CHECKING:
    from vaultinject.webhook.autotls import Where
    from vaultinject.webhook.server import Options

log = logging.getLogger("vaultinject.webhook")


# flag, VAULTINJECT_* variable, default, help
AUTO_TLS_FLAGS = (
    ("--tls-secret", "TLS_SECRET", "vaultinject-webhook-tls",
     "Secret holding the CA and the serving certificate (vaultinject-webhook-tls)"),
    ("--webhook-config", "WEBHOOK_CONFIG", "vaultinject",
     "MutatingWebhookConfiguration whose webhooks get the CA bundle (vaultinject)"),
    ("--tls-hosts", "TLS_HOSTS", None,
     "comma-separated names for the certificate (default: vaultinject.<namespace>.svc)"),
    ("--tls-cert-lifetime", "TLS_CERT_LIFETIME", "24h",
     "serving certificate lifetime, renewed at two thirds (24h)"),
    ("--tls-ca-lifetime", "TLS_CA_LIFETIME", "8760h",
     "CA lifetime, rotated at two thirds with the old CA kept in the bundle (8760h)"),
    ("--lease-duration", "LEASE_DURATION", "15s",
     "leader election: how long a silent leader's Lease lasts before another replica takes it (15s)"),
    ("--tls-sync", "TLS_SYNC", "5s",
     "how often replicas re-read the Secret and the leader checks the certificates (5s)"),
)  # fmt: skip


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"VAULTINJECT_{name}", default)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vaultinject webhook",
        description="Serve the mutating admission webhook over HTTPS (TLS 1.2+): POST /mutate, GET /healthz, "
        "/readyz and /metrics. Flags override VAULTINJECT_* variables.",
    )
    add = parser.add_argument
    add("--listen", default=_env("LISTEN", "0.0.0.0:8443"), help="HOST:PORT to serve on (0.0.0.0:8443)")
    add(
        "--tls",
        choices=("files", "auto"),
        default=_env("TLS"),
        help="files: serve --tls-cert-file/--tls-key-file (cert-manager or any issuer), reloaded when they "
        "change; auto: keep our own CA and certificate in a Secret and publish the CA bundle to the webhook "
        "configuration (default: files when --tls-cert-file is given, else auto)",
    )
    add("--tls-cert-file", default=_env("TLS_CERT_FILE"), help="serving certificate (PEM), e.g. tls.crt")
    add("--tls-key-file", default=_env("TLS_KEY_FILE"), help="its private key (PEM), e.g. tls.key")
    add(
        "--tls-ca-file",
        default=_env("TLS_CA_FILE"),
        help="the CA bundle the API server trusts (ca.crt); "
        "/readyz fails while the served certificate is not issued by it",
    )
    auto = parser.add_argument_group("automatic TLS (--tls auto)")
    namespace = _env("NAMESPACE", os.environ.get("POD_NAMESPACE", "vaultinject"))
    auto.add_argument(
        "--namespace",
        default=namespace,
        help="the webhook's namespace: its Secret and Lease live there (POD_NAMESPACE, else vaultinject)",
    )
    for flag, env, default, help_ in AUTO_TLS_FLAGS:
        auto.add_argument(flag, default=_env(env, default), help=help_)
    identity = _env("IDENTITY", os.environ.get("POD_NAME", socket.gethostname()))
    auto.add_argument(
        "--identity", default=identity, help="this replica's name in the Lease (POD_NAME, else the host name)"
    )
    add(
        "--kubernetes-version",
        default=_env("KUBERNETES_VERSION"),
        help="the cluster's version (e.g. 1.29), instead of asking the API server",
    )
    add("--kubeconfig", default=None, help="kubeconfig (default: KUBECONFIG, else the in-cluster account)")
    add(
        "--deadline",
        type=float,
        default=float(_env("DEADLINE", "8") or 8),
        help="seconds to decide a review before refusing it (8: below timeoutSeconds)",
    )
    # --log-level and --log-format are the agents' (injector settings); these are the server's own
    add("--server-log-format", choices=("text", "json"), default=_env("WEBHOOK_LOG_FORMAT", "text"))
    add(
        "--server-log-level",
        choices=("debug", "info", "warning", "error"),
        default=_env("WEBHOOK_LOG_LEVEL", "info"),
    )
    add_settings_options(parser)
    return parser


def main(argv: list[str]) -> int:
    """Serve until SIGTERM; exit 2 on a bad flag, 1 when the server cannot start."""
    from vaultinject.kube import KubeError
    from vaultinject.webhook import logs
    from vaultinject.webhook.server import serve
    from vaultinject.webhook.tls import CertificateError

    arguments = build_parser().parse_args(argv)
    logs.configure(arguments.server_log_level, arguments.server_log_format == "json")
    try:
        options = _options(arguments)
        sock = _bind(options.host, options.port)
    except (SettingsError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    log.info("listening on https://%s:%d", *sock.getsockname()[:2])
    # uvicorn handles SIGTERM and SIGINT while serving, then raises the signal again once it has stopped:
    # by then shutdown was clean, so the process exits 0 rather than dying of the signal.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, lambda *_: None)
    try:
        _run(serve(options, sock))
    except (CertificateError, KubeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop (uvicorn[standard] brings it), else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def _options(arguments: argparse.Namespace) -> Options:
    from vaultinject.webhook.autotls import Lifetimes
    from vaultinject.webhook.server import Options

    mode = arguments.tls or ("files" if arguments.tls_cert_file else "auto")
    if mode == "files" and (not arguments.tls_cert_file or not arguments.tls_key_file):
        raise ValueError(
            "--tls files needs --tls-cert-file and --tls-key-file (or VAULTINJECT_TLS_CERT_FILE and "
            "VAULTINJECT_TLS_KEY_FILE): mount the certificate Secret and point at tls.crt and tls.key"
        )
    host, _, port = arguments.listen.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--listen must be HOST:PORT, e.g. 0.0.0.0:8443; got {arguments.listen!r}")
    if arguments.deadline <= 0:
        raise ValueError("--deadline must be a positive number of seconds")
    mode_configured = arguments.setting_mode is not None or env_name("mode") in os.environ
    auto = _auto(arguments) if mode == "auto" else None
    return Options(
        host=host.strip("[]"),
        port=int(port),
        cert_file=Path(arguments.tls_cert_file) if mode == "files" else None,
        key_file=Path(arguments.tls_key_file) if mode == "files" else None,
        ca_file=Path(arguments.tls_ca_file) if arguments.tls_ca_file else None,
        settings=settings_from(arguments),
        mode_configured=mode_configured,
        kubernetes_version=arguments.kubernetes_version,
        kubeconfig=arguments.kubeconfig,
        deadline=arguments.deadline,
        auto=auto,
        identity=arguments.identity,
        lifetimes=Lifetimes(
            serving=_duration("--tls-cert-lifetime", arguments.tls_cert_lifetime),
            ca=_duration("--tls-ca-lifetime", arguments.tls_ca_lifetime),
        ),
        sync_every=_duration("--tls-sync", arguments.tls_sync).total_seconds(),
        lease_duration=_duration("--lease-duration", arguments.lease_duration).total_seconds(),
    )


def _auto(arguments: argparse.Namespace) -> Where:
    from vaultinject.webhook.autotls import Where

    hosts = [h.strip() for h in (arguments.tls_hosts or "").split(",") if h.strip()]
    service = f"vaultinject.{arguments.namespace}.svc"
    return Where(arguments.namespace, arguments.tls_secret, arguments.webhook_config, hosts or [service])


def _duration(flag: str, raw: str) -> datetime.timedelta:
    from vaultinject.spec.values import parse_duration

    try:
        seconds = parse_duration(raw)
    except ValueError:
        raise ValueError(f"{flag} must be a duration such as 24h, 90m or 30s; got {raw!r}") from None
    if seconds <= 0:
        raise ValueError(f"{flag} must be longer than zero; got {raw!r}")
    return datetime.timedelta(seconds=seconds)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it. Without it, Nagle holds the response body (a second TLS record)
    # until the client's delayed ACK: 40 ms added to every review on a kept-alive connection.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock
