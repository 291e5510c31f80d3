"""The thin Vault client against the lab Vault server: the calls the agent makes, and every error class."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import hvac
import pytest

from vaultinject.lab.vault.harness import ThreadVault, vault_thread
from vaultinject.vault import (
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    TLSConfig,
    VaultClient,
    VaultSealed,
    VaultTLSError,
    VaultUnreachable,
)
from vaultinject.vault.client import _retry_after


@pytest.fixture(scope="module")
def vault() -> Iterator[ThreadVault]:
    with vault_thread(tls=True) as server:
        admin = hvac.Client(url=server.url, token=server.root_token, verify=str(server.ca_file))
        admin.sys.create_or_update_policy(
            "app",
            'path "secret/data/app/*" { capabilities = ["read"] }\npath "database/creds/app" { capabilities = ["read"] }',
        )
        admin.secrets.kv.v2.create_or_update_secret("app/db", secret={"password": "s3cret-pw", "port": 5432})
        admin.sys.enable_auth_method("approle")
        admin.write("auth/approle/role/app", token_policies="app", token_ttl="1h", token_max_ttl="2h")
        admin.sys.enable_secrets_engine("database")
        admin.write("database/config/db", plugin_name="postgresql-database-plugin", allowed_roles="app")
        admin.write("database/roles/app", db_name="db", default_ttl="1h", max_ttl="2h")
        yield server


def client(vault: ThreadVault, token: str | None = None, **options: object) -> VaultClient:
    tls = options.pop("tls", TLSConfig(ca_file=str(vault.ca_file)))
    result = VaultClient(vault.url, tls=tls, **options)  # type: ignore[arg-type]
    result.token = token
    return result


def app_client(vault: ThreadVault) -> VaultClient:
    admin = hvac.Client(url=vault.url, token=vault.root_token, verify=str(vault.ca_file))
    role_id = admin.read("auth/approle/role/app/role-id")["data"]["role_id"]
    secret_id = admin.write("auth/approle/role/app/secret-id")["data"]["secret_id"]
    app = client(vault)
    app.login("auth/approle", {"role_id": role_id, "secret_id": secret_id})
    return app


def test_login_sets_the_token_and_returns_the_auth_block(vault: ThreadVault) -> None:
    app = app_client(vault)
    assert app.token is not None
    assert app.token.startswith("hvs.")
    assert app.lookup_self()["data"]["policies"] == ["app", "default"]


def test_reads_keep_the_raw_answer_and_one_connection(vault: ThreadVault) -> None:
    app = app_client(vault)
    body = app.read("secret/data/app/db")
    assert body["data"]["data"] == {"password": "s3cret-pw", "port": 5432}
    raw = app.request_raw("GET", "secret/data/app/db")
    assert raw is not None
    assert b'"port": 5432' in raw or b'"port":5432' in raw
    connection = app._connection
    app.read("secret/data/app/db")
    assert app._connection is connection


def test_renew_and_revoke_self(vault: ThreadVault) -> None:
    app = app_client(vault)
    assert app.renew_self(600).lease_duration == 600
    app.revoke_self()
    with pytest.raises(PermissionDenied) as caught:
        app.lookup_self()
    assert caught.value.errors == ("2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n",)
    assert "403 2 errors occurred: permission denied invalid token" in str(caught.value)


def test_lease_renew_and_revoke(vault: ThreadVault) -> None:
    app = app_client(vault)
    lease = app.read("database/creds/app")
    renewed = app.renew_lease(lease["lease_id"], 1800)  # the default policy allows renewing
    assert renewed["lease_duration"] == 1800
    with pytest.raises(PermissionDenied):
        app.revoke_lease(lease["lease_id"])  # but not revoking: revoke-self takes the leases with it
    client(vault, vault.root_token).revoke_lease(lease["lease_id"])
    with pytest.raises(InvalidRequest, match="lease not found or lease is not renewable"):
        app.renew_lease(lease["lease_id"])


def test_error_classes_carry_cause_and_hint(vault: ThreadVault) -> None:
    app = app_client(vault)
    with pytest.raises(PermissionDenied) as denied:
        app.read("secret/data/other/x")
    assert (denied.value.cause, denied.value.status) == ("permission-denied", 403)
    with pytest.raises(NotFound) as missing:
        app.read("secret/data/app/missing")
    assert missing.value.data is None
    with pytest.raises(InvalidRequest, match="invalid role or secret ID"):
        client(vault).login("auth/approle", {"role_id": "nope"})


def test_a_deleted_kv_v2_version_is_not_found_with_its_envelope(vault: ThreadVault) -> None:
    admin = client(vault, vault.root_token)
    admin.write("secret/data/app/gone", {"data": {"x": "1"}})
    admin.request("DELETE", "secret/data/app/gone")
    with pytest.raises(NotFound) as caught:
        admin.read("secret/data/app/gone")
    assert caught.value.data is not None
    assert caught.value.data["data"]["metadata"]["deletion_time"] != ""


def test_list_returns_keys_or_nothing(vault: ThreadVault) -> None:
    admin = client(vault, vault.root_token)
    assert "app/" in admin.list("secret/metadata")
    assert admin.list("secret/metadata/nothing-here") == []


def test_unreachable_and_tls_errors(vault: ThreadVault) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(VaultUnreachable, match="connection refused"):
        VaultClient(f"https://127.0.0.1:{port}", max_retries=0).read("sys/health")
    with pytest.raises(VaultTLSError, match="TLS failed"):
        client(vault, tls=TLSConfig(), max_retries=0).read("sys/health")
    with pytest.raises(VaultTLSError):
        client(
            vault, tls=TLSConfig(ca_file=str(vault.ca_file), server_name="vault.example.com"), max_retries=0
        ).read("sys/health")


def test_skip_verify_and_the_health_endpoint(vault: ThreadVault) -> None:
    body = client(vault, tls=TLSConfig(skip_verify=True)).read("sys/health")
    assert body["sealed"] is False


def test_sealed_vault_is_vault_sealed() -> None:
    with vault_thread() as server:
        admin = client(server, server.root_token)
        admin.write("sys/seal")
        with pytest.raises(VaultSealed) as caught:
            admin.read("secret/data/app/db")
        assert caught.value.cause == "sealed"


def test_rate_limited_carries_retry_after(vault: ThreadVault) -> None:
    admin = client(vault, vault.root_token)
    admin.write("secret/data/app/limited", {"data": {"x": "1"}})
    admin.write(
        "sys/quotas/rate-limit/limited", {"path": "secret/data/app/limited", "rate": 1, "interval": "30s"}
    )
    try:
        admin.read("secret/data/app/limited")
        with pytest.raises(RateLimited) as caught:
            admin.read("secret/data/app/limited")
    finally:
        admin.request("DELETE", "sys/quotas/rate-limit/limited")
    assert caught.value.cause == "rate-limited"
    assert caught.value.retry_after is not None
    assert 1 <= caught.value.retry_after <= 30


@pytest.mark.parametrize(("header", "seconds"), [("7", 7.0), ("0", 0.0), ("-3", 0.0), ("soon", None)])
def test_retry_after_in_seconds(header: str, seconds: float | None) -> None:
    assert _retry_after(header) == seconds


def test_retry_after_as_an_http_date() -> None:
    moment = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 20))
    value = _retry_after(moment)
    assert value is not None
    assert 17 <= value <= 20
