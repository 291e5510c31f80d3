"""`vaultinject webhook` as a process: TLS 1.2+, certificate reload without dropping connections, readiness."""

from __future__ import annotations

import http.client
import json
import signal
import ssl
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import trustme

from tests.pods import OPTED_IN, pod
from tests.webhook.harness import RunningWebhook, running_webhook
from tests.webhook.reviews import admission_review


def connect(webhook: RunningWebhook, context: ssl.SSLContext | None = None) -> http.client.HTTPSConnection:
    context = context or webhook.certificates.client_context()
    connection = http.client.HTTPSConnection("127.0.0.1", webhook.port, context=context, timeout=10)
    connection.connect()
    return connection


def get(connection: http.client.HTTPSConnection, path: str) -> tuple[int, bytes]:
    connection.request("GET", path)
    response = connection.getresponse()
    return response.status, response.read()


def fetch(webhook: RunningWebhook, path: str, context: ssl.SSLContext | None = None) -> tuple[int, bytes]:
    """GET `path` on a connection of its own."""
    connection = connect(webhook, context)
    try:
        return get(connection, path)
    finally:
        connection.close()


def served_certificate(webhook: RunningWebhook) -> bytes:
    connection = connect(webhook)
    assert connection.sock is not None
    der = connection.sock.getpeercert(binary_form=True)
    connection.close()
    assert der is not None
    return ssl.DER_cert_to_PEM_cert(der).encode()


def test_serves_reviews_over_tls_1_2_and_up_only(tmp_path: Path) -> None:
    with running_webhook(tmp_path) as webhook:
        connection = connect(webhook)
        body = json.dumps(admission_review(pod(**OPTED_IN), uid="tls")).encode()
        connection.request("POST", "/mutate", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["response"]["uid"] == "tls"
        assert connection.sock.version() == "TLSv1.3"
        connection.close()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old = webhook.certificates.client_context()
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("ALL:@SECLEVEL=0")
        with pytest.raises(ssl.SSLError, match=r"PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|UNEXPECTED_EOF"):
            connect(webhook, old)


def test_new_certificate_files_are_served_without_dropping_open_connections(tmp_path: Path) -> None:
    with running_webhook(tmp_path) as webhook:
        kept = connect(webhook)
        assert get(kept, "/healthz")[0] == 200
        before = served_certificate(webhook)
        renewed = webhook.certificates.issue()
        deadline = time.monotonic() + 10
        while served_certificate(webhook) != renewed:
            assert time.monotonic() < deadline, "the renewed certificate was never served"
            time.sleep(0.2)
        assert renewed != before
        assert get(kept, "/healthz")[0] == 200  # the connection opened before the rotation still works
        kept.close()
        assert fetch(webhook, "/readyz")[0] == 200


def test_a_certificate_the_bundle_does_not_trust_makes_it_unready(tmp_path: Path) -> None:
    with running_webhook(tmp_path) as webhook:
        stranger = trustme.CA()
        webhook.certificates.issue(stranger)
        context = ssl.create_default_context()
        stranger.configure_trust(context)
        context.load_verify_locations(str(webhook.certificates.ca_file))
        deadline = time.monotonic() + 10
        while (answer := fetch(webhook, "/readyz", context))[0] != 503:
            assert time.monotonic() < deadline, f"still ready: {answer}"
            time.sleep(0.2)
        assert b"not issued by any CA" in answer[1]


def test_a_half_written_key_is_not_served(tmp_path: Path) -> None:
    with running_webhook(tmp_path) as webhook:
        before = served_certificate(webhook)
        webhook.certificates.key_file.write_text("-----BEGIN PRIVATE KEY-----\ntruncated")
        time.sleep(2.5)
        assert served_certificate(webhook) == before
        assert fetch(webhook, "/healthz")[0] == 200
        assert any("keeping the current serving certificate" in line for line in webhook.log)


def test_sigterm_stops_it_promptly(tmp_path: Path) -> None:
    with running_webhook(tmp_path) as webhook:
        started = time.monotonic()
        webhook.process.send_signal(signal.SIGTERM)
        assert webhook.process.wait(10) == 0
        assert time.monotonic() - started < 6


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--tls", "files"], 2, "--tls files needs --tls-cert-file and --tls-key-file"),
        (["--kubeconfig", "/nonexistent"], 1, "kubeconfig /nonexistent does not exist"),
        (["--tls-sync", "soon"], 2, "--tls-sync must be a duration such as"),
        (["--tls-cert-file", "/nope.crt", "--tls-key-file", "/nope.key"], 1, "cannot read /nope.crt"),
        (
            ["--tls-cert-file", "a", "--tls-key-file", "b", "--listen", "nowhere"],
            2,
            "--listen must be HOST:PORT",
        ),
    ],
)
def test_bad_start_up_says_what_to_fix(args: list[str], code: int, message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vaultinject.cli", "webhook", "--listen", "127.0.0.1:0", *args],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_kept_alive_connections_do_not_wait_on_delayed_acks(tmp_path: Path) -> None:
    """Nagle's algorithm on the listening socket held every response body for the client's delayed ACK
    (40 ms a review); 30 requests on one connection took 1.3 s. With TCP_NODELAY they take milliseconds."""
    with running_webhook(tmp_path) as webhook:
        connection = connect(webhook)
        get(connection, "/healthz")
        started = time.monotonic()
        for _ in range(30):
            assert get(connection, "/healthz")[0] == 200
        elapsed = time.monotonic() - started
        connection.close()
        assert elapsed < 0.6, f"30 kept-alive requests took {elapsed:.2f} s"
