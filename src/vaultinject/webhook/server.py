"""Running the webhook: cluster version, settings, the serving certificate, uvicorn, and a clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, NamedTuple

import uvicorn

from vaultinject.kube import Kube, KubeError, LeaderElector, load_config
from vaultinject.spec import Mode, Settings
from vaultinject.webhook import logs
from vaultinject.webhook.app import WebhookApp
from vaultinject.webhook.autotls import AutoTLS, Lifetimes, Where
from vaultinject.webhook.metrics import Metrics
from vaultinject.webhook.tls import CertificateFiles, ServingCertificate

log = logging.getLogger("vaultinject.webhook")

NATIVE_SIDECARS_SINCE = (1, 29)  # SidecarContainers is on by default from Kubernetes 1.29
RELOAD_EVERY = 1.0


class Options(NamedTuple):
    host: str
    port: int
    cert_file: Path | None  # file mode: these three; automatic TLS: `auto`
    key_file: Path | None
    ca_file: Path | None
    settings: Settings
    mode_configured: bool  # VAULTINJECT_MODE or --mode was given: the cluster version does not choose it
    kubernetes_version: str | None
    kubeconfig: str | None
    deadline: float
    auto: Where | None = None
    identity: str = ""
    lifetimes: Lifetimes = Lifetimes()
    sync_every: float = 5.0
    lease_duration: float = 15.0


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
    """Serve until SIGTERM or SIGINT, keeping the serving certificate current."""
    metrics = Metrics()
    settings = await settings_for_cluster(options)
    async with contextlib.AsyncExitStack() as stack:
        certificate, upkeep = await _certificates(options, stack)
        tasks = [asyncio.create_task(upkeep), asyncio.create_task(_report_expiry(certificate, metrics))]
        try:
            await _serve(options, sock, settings, certificate, metrics)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def _certificates(
    options: Options, stack: contextlib.AsyncExitStack
) -> tuple[ServingCertificate, Coroutine[Any, Any, None]]:
    """The certificate to serve first, and the task that keeps it current (file reloads or automatic TLS)."""
    if options.auto is None:
        assert options.cert_file is not None
        assert options.key_file is not None
        files = CertificateFiles(options.cert_file, options.key_file, options.ca_file)
        return files.serving, _keep_reloading(files)
    kube = await stack.enter_async_context(Kube(load_config(options.kubeconfig)))
    elector = LeaderElector(
        kube, f"{options.auto.secret}-leader", options.auto.namespace, options.identity,
        lease_duration=options.lease_duration,
        renew_deadline=options.lease_duration * 2 / 3,
        retry_period=options.lease_duration * 2 / 15,
    )  # fmt: skip
    auto = AutoTLS(
        kube, options.auto, options.identity, lifetimes=options.lifetimes, sync_every=options.sync_every,
        elector=elector,
    )  # fmt: skip
    certificate = await auto.first_certificate()
    return certificate, auto.run(certificate)


async def _serve(
    options: Options,
    sock: socket.socket | None,
    settings: Settings,
    certificate: ServingCertificate,
    metrics: Metrics,
) -> None:
    app = WebhookApp(
        settings, certificate.trusted, metrics, deadline=options.deadline, decision_log=logs.decision_lines()
    )
    # The API server calls the webhook directly: no proxy headers to trust.
    config = uvicorn.Config(
        app, host=options.host, port=options.port, http="httptools", lifespan="off", proxy_headers=False,
        log_config=None, access_log=False, server_header=False, timeout_graceful_shutdown=5,
    )  # fmt: skip
    config.load()
    config.ssl = certificate.listener
    try:
        await uvicorn.Server(config).serve(sockets=[sock] if sock is not None else None)
    finally:
        app.close()


async def _keep_reloading(files: CertificateFiles) -> None:
    while True:
        await asyncio.sleep(RELOAD_EVERY)
        await asyncio.to_thread(files.reload)


async def _report_expiry(certificate: ServingCertificate, metrics: Metrics) -> None:
    while True:
        metrics.certificate_expiry.set(certificate.seconds_left())
        await asyncio.sleep(RELOAD_EVERY)
