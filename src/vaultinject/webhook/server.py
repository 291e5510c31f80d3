"""Running the webhook: cluster version, settings, the serving certificate, uvicorn, and a clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
from pathlib import Path
from typing import NamedTuple

import uvicorn

from vaultinject.kube import Kube, KubeError, load_config
from vaultinject.spec import Mode, Settings
from vaultinject.webhook.app import WebhookApp
from vaultinject.webhook.metrics import Metrics
from vaultinject.webhook.tls import CertificateFiles

log = logging.getLogger("vaultinject.webhook")

NATIVE_SIDECARS_SINCE = (1, 29)  # SidecarContainers is on by default from Kubernetes 1.29
RELOAD_EVERY = 1.0


class Options(NamedTuple):
    host: str
    port: int
    cert_file: Path
    key_file: Path
    ca_file: Path | None
    settings: Settings
    mode_configured: bool  # VAULTINJECT_MODE or --mode was given: the cluster version does not choose it
    kubernetes_version: str | None
    kubeconfig: str | None
    deadline: float


def parse_version(text: str) -> tuple[int, int]:
    """(major, minor) of "1.29", "v1.31.2" or a /version answer's minor such as "29+"."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?", text.strip())
    if not match:
        raise ValueError(f"not a Kubernetes version: {text!r}; use the form 1.29")
    return int(match[1]), int(match[2])


async def cluster_version(kubeconfig: str | None) -> tuple[int, int]:
    """The API server's version, from `GET /version`."""
    async with Kube(load_config(kubeconfig), timeout=5) as kube:
        answer = await kube.get_path("/version")
    major, minor = str(answer.get("major", "")), str(answer.get("minor", ""))
    return parse_version(f"{major.rstrip('+')}.{minor.rstrip('+')}")


async def settings_for_cluster(options: Options) -> Settings:
    """The settings with the default mode the cluster supports: native on 1.29+, classic before."""
    if options.mode_configured:
        return options.settings
    if options.kubernetes_version is not None:
        version, source = parse_version(options.kubernetes_version), "--kubernetes-version"
    else:
        try:
            version, source = await cluster_version(options.kubeconfig), "the API server"
        except (KubeError, ValueError) as error:
            log.warning(
                "cannot read the cluster version (%s); serving with the default mode %s",
                error, options.settings.mode,
            )  # fmt: skip
            return options.settings
    mode = Mode.NATIVE if version >= NATIVE_SIDECARS_SINCE else Mode.CLASSIC
    log.info("Kubernetes %d.%d (from %s): default mode %s", *version, source, mode)
    return options.settings._replace(mode=mode)


async def serve(options: Options, sock: socket.socket | None = None) -> None:
    """Serve until SIGTERM or SIGINT; reload the certificate files when they change."""
    files = CertificateFiles(options.cert_file, options.key_file, options.ca_file)
    certificate = files.serving
    metrics = Metrics()
    settings = await settings_for_cluster(options)
    app = WebhookApp(settings, certificate.trusted, metrics, deadline=options.deadline)
    config = uvicorn.Config(
        app, host=options.host, port=options.port, http="httptools", lifespan="off",
        log_config=None, access_log=False, server_header=False, timeout_graceful_shutdown=5,
    )  # fmt: skip
    config.load()
    config.ssl = certificate.listener
    server = uvicorn.Server(config)
    reloader = asyncio.create_task(_keep_reloading(files, metrics))
    try:
        await server.serve(sockets=[sock] if sock is not None else None)
    finally:
        reloader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reloader
        app.close()


async def _keep_reloading(files: CertificateFiles, metrics: Metrics) -> None:
    while True:
        metrics.certificate_expiry.set(files.serving.seconds_left())
        await asyncio.sleep(RELOAD_EVERY)
        await asyncio.to_thread(files.reload)
