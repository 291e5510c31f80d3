"""`vaultinject webhook`: the HTTPS admission server that injects pods as the API server creates them."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from vaultinject.cli.options import add_settings_options, settings_from
from vaultinject.spec import SettingsError
from vaultinject.spec.settings import env_name

if TYPE_CHECKING:
    from vaultinject.webhook.server import Options

log = logging.getLogger("vaultinject.webhook")


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
    add("--tls-cert-file", default=_env("TLS_CERT_FILE"), help="serving certificate (PEM), e.g. tls.crt")
    add("--tls-key-file", default=_env("TLS_KEY_FILE"), help="its private key (PEM), e.g. tls.key")
    add("--tls-ca-file", default=_env("TLS_CA_FILE"), help="the CA bundle the API server trusts (ca.crt); "
        "/readyz fails while the served certificate is not issued by it")  # fmt: skip
    add("--kubernetes-version", default=_env("KUBERNETES_VERSION"),
        help="the cluster's version (e.g. 1.29), instead of asking the API server")  # fmt: skip
    add("--kubeconfig", default=None, help="kubeconfig (default: KUBECONFIG, else the in-cluster account)")
    add("--deadline", type=float, default=float(_env("DEADLINE", "8") or 8),
        help="seconds to decide a review before refusing it (8: below timeoutSeconds)")  # fmt: skip
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
        asyncio.run(serve(options, sock))
    except CertificateError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _options(arguments: argparse.Namespace) -> Options:
    from vaultinject.webhook.server import Options

    if not arguments.tls_cert_file or not arguments.tls_key_file:
        raise ValueError(
            "--tls-cert-file and --tls-key-file are required (or VAULTINJECT_TLS_CERT_FILE and "
            "VAULTINJECT_TLS_KEY_FILE): mount the certificate Secret and point at tls.crt and tls.key"
        )
    host, _, port = arguments.listen.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--listen must be HOST:PORT, e.g. 0.0.0.0:8443; got {arguments.listen!r}")
    if arguments.deadline <= 0:
        raise ValueError("--deadline must be a positive number of seconds")
    mode_configured = arguments.setting_mode is not None or env_name("mode") in os.environ
    return Options(
        host=host.strip("[]"),
        port=int(port),
        cert_file=Path(arguments.tls_cert_file),
        key_file=Path(arguments.tls_key_file),
        ca_file=Path(arguments.tls_ca_file) if arguments.tls_ca_file else None,
        settings=settings_from(arguments),
        mode_configured=mode_configured,
        kubernetes_version=arguments.kubernetes_version,
        kubeconfig=arguments.kubeconfig,
        deadline=arguments.deadline,
    )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock
