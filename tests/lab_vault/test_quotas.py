"""Rate-limit quotas: 429 with Vault's text and Retry-After, per client, most specific path wins."""

from __future__ import annotations

import time
from collections.abc import Iterator

import hvac
import pytest
import requests

from vaultinject.lab.vault.harness import ThreadVault, vault_thread


@pytest.fixture
def vault() -> Iterator[ThreadVault]:
    with vault_thread() as server:
        yield server


def admin(vault: ThreadVault) -> hvac.Client:
    return hvac.Client(url=vault.url, token=vault.root_token)


def test_a_quota_is_written_read_listed_and_deleted(vault: ThreadVault) -> None:
    client = admin(vault)
    client.write_data(
        "sys/quotas/rate-limit/kv",
        data={"path": "secret/", "rate": 5, "interval": "2s", "block_interval": "10s"},
    )
    quota = client.read("sys/quotas/rate-limit/kv")["data"]
    assert (quota["path"], quota["rate"], quota["interval"], quota["block_interval"], quota["type"]) == (
        "secret/",
        5.0,
        2,
        10,
        "rate-limit",
    )
    assert client.list("sys/quotas/rate-limit")["data"]["keys"] == ["kv"]
    client.delete("sys/quotas/rate-limit/kv")
    assert client.read("sys/quotas/rate-limit/kv") is None


def test_over_the_rate_answers_429_with_retry_after(vault: ThreadVault) -> None:
    client = admin(vault)
    client.secrets.kv.v2.create_or_update_secret("x", secret={"a": "b"})
    client.write_data("sys/quotas/rate-limit/kv", data={"path": "secret/", "rate": 3, "interval": "5s"})
    statuses = [vault.api("GET", "secret/data/x")[0] for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    with pytest.raises(hvac.exceptions.RateLimitExceeded) as caught:
        client.secrets.kv.v2.read_secret_version("x", raise_on_deleted_version=True)
    assert caught.value.errors == [
        '1 error occurred:\n\t* request path "secret/data/x": rate limit quota exceeded\n\n'
    ]
    response = requests.get(
        f"{vault.url}/v1/secret/data/x", headers={"X-Vault-Token": vault.root_token}, timeout=5
    )
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 5


def test_other_paths_and_exempt_paths_are_not_limited(vault: ThreadVault) -> None:
    client = admin(vault)
    client.write_data("sys/quotas/rate-limit/kv", data={"path": "secret/", "rate": 1, "interval": "10s"})
    for _ in range(5):
        assert vault.api("GET", "sys/health")[0] == 200
        assert vault.api("GET", "sys/mounts")[0] == 200


def test_the_window_resets_after_the_interval(vault: ThreadVault) -> None:
    client = admin(vault)
    client.secrets.kv.v2.create_or_update_secret("x", secret={"a": "b"})
    client.write_data("sys/quotas/rate-limit/kv", data={"path": "secret/", "rate": 1, "interval": "1s"})
    assert vault.api("GET", "secret/data/x")[0] == 200
    assert vault.api("GET", "secret/data/x")[0] == 429
    time.sleep(1.1)
    assert vault.api("GET", "secret/data/x")[0] == 200


def test_response_headers_when_enabled(vault: ThreadVault) -> None:
    client = admin(vault)
    client.write("sys/quotas/config", enable_rate_limit_response_headers=True)
    client.write_data("sys/quotas/rate-limit/global", data={"rate": 10, "interval": "10s"})
    raw = requests.get(f"{vault.url}/v1/sys/mounts", headers={"X-Vault-Token": vault.root_token}, timeout=5)
    assert raw.status_code == 200
    assert raw.headers["X-Ratelimit-Limit"] == "10"
    assert int(raw.headers["X-Ratelimit-Remaining"]) < 10
