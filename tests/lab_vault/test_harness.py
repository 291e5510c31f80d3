"""The Python harness other test suites use: in-process and subprocess servers, and the lab-only helpers."""

from __future__ import annotations

from pathlib import Path

import hvac
import pytest

from vaultinject.lab.vault.harness import ThreadVault, make_tls, vault_thread


def test_an_in_process_server_can_serve_https(tmp_path: Path) -> None:
    with vault_thread(tls=True, workdir=tmp_path) as vault:
        assert vault.url.startswith("https://127.0.0.1:")
        assert vault.ca_file is not None
        client = hvac.Client(url=vault.url, token=vault.root_token, verify=str(vault.ca_file))
        assert client.is_authenticated()
        with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
            hvac.Client(url=vault.url, token=vault.root_token).is_authenticated()


def test_the_api_helper_returns_status_and_json(vault: ThreadVault) -> None:
    assert vault.api("PUT", "sys/policies/acl/p", {"policy": 'path "a" { capabilities = ["read"] }'}) == (
        204,
        None,
    )
    status, body = vault.api("GET", "sys/policies/acl/p")
    assert (status, body["data"]["name"]) == (200, "p")
    assert vault.api("GET", "sys/policies/acl/p", token="wrong")[0] == 403


def test_the_clock_only_moves_forward(vault: ThreadVault) -> None:
    vault.advance_clock("1h")
    assert vault.core.clock.offset == 3600
    with pytest.raises(RuntimeError, match="400"):
        vault.advance_clock(-1)


def test_leader_reports_the_advertised_address_once_ha_is_on(vault: ThreadVault) -> None:
    vault.set_ha_mode("active")
    leader = hvac.Client(url=vault.url).sys.read_leader_status()
    assert (leader["ha_enabled"], leader["is_self"], leader["leader_address"]) == (True, True, vault.url)
    with pytest.raises(RuntimeError):
        vault.set_ha_mode("primary")


def test_make_tls_writes_a_ca_and_a_server_pair(tmp_path: Path) -> None:
    files = make_tls(tmp_path)
    assert files.ca_file.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert files.key_file.stat().st_mode & 0o077 == 0
