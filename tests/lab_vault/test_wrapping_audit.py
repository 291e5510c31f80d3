"""Response wrapping (X-Vault-Wrap-TTL, sys/wrapping/*) and the file audit device."""

from __future__ import annotations

import json
from pathlib import Path

import hvac
import pytest

from vaultinject.lab.vault.harness import ThreadVault

from .helpers import client_for, raw


def test_a_wrapped_read_returns_only_wrap_info_and_unwraps_once(
    vault: ThreadVault, client: hvac.Client
) -> None:
    client.secrets.kv.v2.create_or_update_secret("app", {"pw": "s3cret"})
    response = raw(
        vault, "GET", "/v1/secret/data/app", headers={"X-Vault-Token": "root", "X-Vault-Wrap-TTL": "60s"}
    )
    body = response.json
    assert (body["data"], body["auth"]) == (None, None)
    info = body["wrap_info"]
    assert (info["ttl"], info["creation_path"]) == (60, "secret/data/app")
    assert info["token"].startswith("hvs.")
    assert b"s3cret" not in response.body

    unwrapped = client_for(vault, info["token"]).sys.unwrap()
    assert unwrapped["data"]["data"] == {"pw": "s3cret"}
    with pytest.raises(hvac.exceptions.InvalidRequest) as again:
        client.sys.unwrap(info["token"])
    assert again.value.errors == ["wrapping token is not valid or does not exist"]


def test_a_wrapped_token_create_names_the_wrapped_accessor(vault: ThreadVault, client: hvac.Client) -> None:
    wrapped = client.auth.token.create(policies=["p"], wrap_ttl="2m")
    info = wrapped["wrap_info"]
    assert info["wrapped_accessor"]
    lookup = (
        client.sys.read_wrapping_info(info["token"]) if hasattr(client.sys, "read_wrapping_info") else None
    )
    status, looked_up = vault.api("POST", "sys/wrapping/lookup", {"token": info["token"]}, token="")
    assert status == 200
    assert looked_up["data"]["creation_path"] == "auth/token/create"
    assert lookup is None or lookup["data"]["creation_ttl"] == 120
    unwrapped = client_for(vault).sys.unwrap(info["token"])
    assert unwrapped["auth"]["accessor"] == info["wrapped_accessor"]


def test_sys_wrapping_wrap_and_expiry(vault: ThreadVault, client: hvac.Client) -> None:
    wrapped = client.sys.wrap(payload={"hello": "world"}, ttl=30)
    token = wrapped["wrap_info"]["token"]
    vault.advance_clock(31)
    status, body = vault.api("POST", "sys/wrapping/unwrap", {"token": token}, token="")
    assert (status, body) == (400, {"errors": ["wrapping token is not valid or does not exist"]})


def test_a_wrapping_token_cannot_read_secrets(vault: ThreadVault, client: hvac.Client) -> None:
    token = client.sys.wrap(payload={"a": "b"}, ttl=60)["wrap_info"]["token"]
    status, _ = vault.api("GET", "secret/data/app", token=token)
    assert status == 403


def test_the_file_audit_device_records_requests_with_secrets_hashed(
    vault: ThreadVault, client: hvac.Client, tmp_path: Path
) -> None:
    log = tmp_path / "audit.log"
    client.sys.enable_audit_device("file", options={"file_path": str(log)})
    assert client.sys.list_enabled_audit_devices()["data"]["file/"]["options"]["file_path"] == str(log)
    client.secrets.kv.v2.create_or_update_secret("app", {"pw": "s3cret"})
    vault.api("POST", "auth/token/lookup", {"token": "hvs.nope"})

    entries = [json.loads(line) for line in log.read_text().splitlines()]
    text = log.read_text()
    assert "s3cret" not in text
    assert '"client_token":"root"' not in text
    write = next(e for e in entries if e["request"]["path"] == "secret/data/app" and e["type"] == "response")
    assert write["request"]["operation"] == "create"
    assert write["request"]["data"]["data"]["pw"].startswith("hmac-sha256:")
    failed = next(
        e for e in entries if e["request"]["path"] == "auth/token/lookup" and e["type"] == "response"
    )
    assert failed["error"] == "bad token"

    expected = client.sys.calculate_hash("file", "s3cret")["data"]["hash"]
    assert write["request"]["data"]["data"]["pw"] == expected
    client.sys.disable_audit_device("file")
    assert client.sys.list_enabled_audit_devices()["data"] == {}


def test_a_failed_login_is_audited_as_permission_denied(
    vault: ThreadVault, client: hvac.Client, tmp_path: Path
) -> None:
    log = tmp_path / "audit.log"
    client.sys.enable_audit_device("file", options={"file_path": str(log)})
    client.sys.enable_auth_method("approle")
    vault.api("POST", "auth/approle/login", {"role_id": "x", "secret_id": "y"}, token="")
    responses = [json.loads(line) for line in log.read_text().splitlines() if '"type":"response"' in line]
    assert responses[-1]["request"]["path"] == "auth/approle/login"
    assert responses[-1]["error"] == "invalid role or secret ID"


def test_unknown_audit_types_are_refused(client: hvac.Client) -> None:
    with pytest.raises(hvac.exceptions.InvalidRequest) as raised:
        client.sys.enable_audit_device("syslog")
    assert raised.value.errors == ['unknown backend type: "syslog"']
