"""`vaultinject webhook` as a real process on 127.0.0.1, with certificates from a test CA."""

from __future__ import annotations

import re
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import trustme


class Certificates:
    """A CA and serving certificates for 127.0.0.1, written where the webhook reads them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca = trustme.CA()
        self.ca_file = directory / "ca.crt"
        self.cert_file, self.key_file = directory / "tls.crt", directory / "tls.key"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.issue()

    def issue(self, ca: trustme.CA | None = None) -> bytes:
        """Write a new serving certificate (by `ca`, default ours) and return its PEM."""
        leaf = (ca or self.ca).issue_cert("127.0.0.1", "localhost")
        leaf.private_key_pem.write_to_path(str(self.key_file))
        leaf.cert_chain_pems[0].write_to_path(str(self.cert_file))
        return leaf.cert_chain_pems[0].bytes()

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


class RunningWebhook:
    def __init__(self, process: subprocess.Popen[str], url: str, certificates: Certificates | None) -> None:
        self.process, self.url = process, url
        self._certificates = certificates
        self.log: list[str] = []

    @property
    def certificates(self) -> Certificates:
        assert self._certificates is not None, "a webhook with automatic TLS has no certificate files"
        return self._certificates

    @certificates.setter
    def certificates(self, value: Certificates) -> None:
        self._certificates = value

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


@contextmanager
def running_webhook(directory: Path, *extra: str) -> Iterator[RunningWebhook]:
    """A webhook serving certificate files of a fresh test CA."""
    certificates = Certificates(directory)
    files = [
        "--tls-cert-file", str(certificates.cert_file), "--tls-key-file", str(certificates.key_file),
        "--tls-ca-file", str(certificates.ca_file),
    ]  # fmt: skip
    with _started([*files, *extra], certificates.client_context) as webhook:
        webhook.certificates = certificates
        yield webhook


@contextmanager
def running_auto_webhook(kubeconfig: Path, *extra: str) -> Iterator[RunningWebhook]:
    """A webhook with automatic TLS (serving only once its Secret holds a trusted certificate)."""
    with _started(["--tls", "auto", "--kubeconfig", str(kubeconfig), *extra], None) as webhook:
        yield webhook


@contextmanager
def _started(args: list[str], context: Callable[[], ssl.SSLContext] | None) -> Iterator[RunningWebhook]:
    command = [
        sys.executable, "-m", "vaultinject.cli", "webhook", "--listen", "127.0.0.1:0",
        "--kubernetes-version", "1.31", "--vault-addr", "https://vault.vault.svc:8200", *args,
    ]  # fmt: skip
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        url, lines = _listening(process)
        webhook = RunningWebhook(process, url, None)
        webhook.log = lines
        if context is not None:
            _wait_ready(webhook, context)
        yield webhook
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


def _listening(process: subprocess.Popen[str]) -> tuple[str, list[str]]:
    assert process.stderr is not None
    lines: list[str] = []
    for line in process.stderr:
        lines.append(line)
        if match := re.search(r"listening on (https://127\.0\.0\.1:\d+)", line):
            threading.Thread(target=lambda: lines.extend(process.stderr or []), daemon=True).start()
            return match[1], lines
    raise AssertionError(f"the webhook did not start: {''.join(lines)}")


def _wait_ready(webhook: RunningWebhook, context: Callable[[], ssl.SSLContext], timeout: float = 15) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while True:
        try:
            connection = http.client.HTTPSConnection("127.0.0.1", webhook.port, context=context(), timeout=2)
            try:
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return
            finally:
                connection.close()
        except OSError:
            pass
        if webhook.process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the webhook is not serving: {''.join(webhook.log)}")
        time.sleep(0.05)
