"""The `vaultinject lab vault` command as a process: ready line, JSON request log, SIGTERM, restarts with
`--data-dir`, and the seal after a restart without auto-unseal."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import hvac
import pytest

from vaultinject.lab.vault.harness import vault_process

from .helpers import client_for

ROOT = "lab-root"


def https_client(vault: object, token: str | None = ROOT) -> hvac.Client:
    return hvac.Client(url=vault.url, token=token, verify=str(vault.ca_file))  # type: ignore[attr-defined]


def test_ready_line_tls_json_log_and_clean_sigterm(tmp_path: Path) -> None:
    with vault_process(root_token=ROOT, workdir=tmp_path) as vault:
        assert re.fullmatch(r"https://127\.0\.0\.1:\d+", vault.url)
        client = https_client(vault)
        client.secrets.kv.v2.create_or_update_secret("app", {"pw": "s3cret"})
        client.auth.token.lookup_self()
        process = vault.process
        assert process is not None
        assert vault.stop() == 0
    events = [json.loads(line) for line in (tmp_path / "vault.log").read_text().splitlines()]
    requests = [event for event in events if event.get("msg") == "request"]
    assert {"method", "path", "status", "duration_ms", "remote", "request_id"} <= set(requests[0])
    assert any(event["path"] == "/v1/secret/data/app" and event["status"] == 200 for event in requests)
    text = (tmp_path / "vault.log").read_text()
    assert "s3cret" not in text
    assert ROOT not in text


def test_state_survives_a_restart_with_a_data_dir(tmp_path: Path) -> None:
    with vault_process(root_token=ROOT, data_dir=tmp_path / "data") as vault:
        client = https_client(vault)
        client.secrets.kv.v2.create_or_update_secret("app", {"pw": "kept"})
        client.sys.create_or_update_acl_policy("app", 'path "secret/data/app" { capabilities = ["read"] }')
        token = client.auth.token.create(policies=["app"], ttl="1h")["auth"]["client_token"]
        client.sys.enable_auth_method("kubernetes")
        client.auth.kubernetes.configure(kubernetes_host="https://10.0.0.1:443", token_reviewer_jwt="stored")
        client.sys.enable_secrets_engine("database")
        client.secrets.database.configure(name="db", plugin_name="postgresql", allowed_roles=["app"])
        client.secrets.database.create_role(
            name="app", db_name="db", creation_statements=["x"], default_ttl="1h"
        )
        username = client.secrets.database.generate_credentials("app")["data"]["username"]
        accessor = client.sys.list_mounted_secrets_engines()["data"]["secret/"]["accessor"]

        vault.restart()

        client = https_client(vault)
        assert client.sys.list_mounted_secrets_engines()["data"]["secret/"]["accessor"] == accessor
        reader = https_client(vault, token)
        assert reader.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)["data"][
            "data"
        ] == {"pw": "kept"}
        assert client.auth.kubernetes.read_config()["token_reviewer_jwt_set"] is True
        assert username in {credential["username"] for credential in vault.database_credentials()}
        assert client.sys.read_seal_status()["storage_type"] == "file"


def test_a_restart_without_auto_unseal_comes_back_sealed(tmp_path: Path) -> None:
    keys_file = tmp_path / "unseal.json"
    with vault_process(
        root_token=ROOT, auto_unseal=False, unseal_key_file=keys_file, data_dir=tmp_path / "data"
    ) as vault:
        https_client(vault).secrets.kv.v2.create_or_update_secret("app", {"pw": "kept"})
        keys = json.loads(keys_file.read_text())["keys"]
        assert keys_file.stat().st_mode & 0o077 == 0

        vault.restart()

        client = https_client(vault)
        assert client.sys.is_sealed() is True
        assert vault.api("GET", "secret/data/app", token=ROOT) == (503, {"errors": ["Vault is sealed"]})
        client.sys.submit_unseal_keys(keys)
        assert client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)["data"][
            "data"
        ] == {"pw": "kept"}


def test_without_a_root_token_the_server_needs_init(tmp_path: Path) -> None:
    with vault_process(root_token=None, auto_unseal=False, tls=False, workdir=tmp_path) as vault:
        client = client_for(vault)
        assert client.sys.is_initialized() is False
        result = client.sys.initialize(secret_shares=1, secret_threshold=1)
        client.sys.submit_unseal_key(result["keys"][0])
        client.token = result["root_token"]
        assert client.sys.list_mounted_secrets_engines()["data"].keys() == {"cubbyhole/", "identity/", "sys/"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tls-cert", "x.crt"], "--tls-cert and --tls-key go together"),
        (["--listen", "nowhere"], "expected HOST:PORT"),
        (["--auto-unseal", "--unseal-key-file", "k"], "not allowed with argument"),
    ],
)
def test_bad_command_lines_exit_2(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vaultinject.cli", "lab", "vault", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr
