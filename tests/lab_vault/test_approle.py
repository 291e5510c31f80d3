"""AppRole auth: roles, role IDs, secret IDs, login (hvac's approle API)."""

from __future__ import annotations

import hvac
import pytest

from vaultinject.lab.vault.harness import ThreadVault

from .helpers import client_for


@pytest.fixture
def approle(client: hvac.Client) -> hvac.Client:
    client.sys.enable_auth_method("approle")
    client.auth.approle.create_or_update_approle(
        "deployer", token_policies=["deploy"], token_ttl="15m", secret_id_num_uses=2, secret_id_ttl="1h"
    )
    return client


def test_role_id_and_secret_id_log_in(vault: ThreadVault, approle: hvac.Client) -> None:
    role_id = approle.auth.approle.read_role_id("deployer")["data"]["role_id"]
    secret = approle.auth.approle.generate_secret_id("deployer", metadata={"team": "ops"})["data"]
    assert (secret["secret_id_num_uses"], secret["secret_id_ttl"]) == (2, 3600)

    response = client_for(vault).auth.approle.login(role_id=role_id, secret_id=secret["secret_id"])

    auth = response["auth"]
    assert auth["policies"] == ["default", "deploy"]
    assert auth["metadata"] == {"team": "ops", "role_name": "deployer"}
    assert (auth["lease_duration"], auth["orphan"]) == (900, True)


def test_a_secret_id_stops_working_after_its_uses(vault: ThreadVault, approle: hvac.Client) -> None:
    role_id = approle.auth.approle.read_role_id("deployer")["data"]["role_id"]
    secret_id = approle.auth.approle.generate_secret_id("deployer")["data"]["secret_id"]
    for _ in range(2):
        client_for(vault).auth.approle.login(role_id=role_id, secret_id=secret_id)
    with pytest.raises(hvac.exceptions.InvalidRequest) as raised:
        client_for(vault).auth.approle.login(role_id=role_id, secret_id=secret_id)
    assert raised.value.errors == ["invalid role or secret ID"]


def test_expired_and_destroyed_secret_ids_are_refused(vault: ThreadVault, approle: hvac.Client) -> None:
    role_id = approle.auth.approle.read_role_id("deployer")["data"]["role_id"]
    expiring = approle.auth.approle.generate_secret_id("deployer")["data"]["secret_id"]
    destroyed = approle.auth.approle.generate_secret_id("deployer")["data"]["secret_id"]
    approle.auth.approle.destroy_secret_id("deployer", destroyed)
    vault.advance_clock("61m")
    for secret_id in (expiring, destroyed):
        status, body = vault.api(
            "POST", "auth/approle/login", {"role_id": role_id, "secret_id": secret_id}, token=""
        )
        assert (status, body) == (400, {"errors": ["invalid role or secret ID"]})


def test_login_input_errors(vault: ThreadVault, approle: hvac.Client) -> None:
    role_id = approle.auth.approle.read_role_id("deployer")["data"]["role_id"]
    assert vault.api("POST", "auth/approle/login", {}, token="") == (400, {"errors": ["missing role_id"]})
    assert vault.api("POST", "auth/approle/login", {"role_id": role_id}, token="") == (
        400,
        {"errors": ["missing secret_id"]},
    )
    assert vault.api("POST", "auth/approle/login", {"role_id": "nope", "secret_id": "x"}, token="") == (
        400,
        {"errors": ["invalid role or secret ID"]},
    )


def test_custom_role_id_and_secret_id_lookup(vault: ThreadVault, approle: hvac.Client) -> None:
    approle.auth.approle.update_role_id("deployer", "my-role-id")
    custom = approle.auth.approle.create_custom_secret_id("deployer", "my-secret")["data"]
    looked_up = approle.auth.approle.read_secret_id("deployer", "my-secret")["data"]
    assert looked_up["secret_id_accessor"] == custom["secret_id_accessor"]
    assert approle.auth.approle.list_secret_id_accessors("deployer")["data"]["keys"] == [
        custom["secret_id_accessor"]
    ]
    assert client_for(vault).auth.approle.login(role_id="my-role-id", secret_id="my-secret")["auth"]


def test_roles_read_list_and_delete(approle: hvac.Client) -> None:
    role = approle.auth.approle.read_role("deployer")["data"]
    assert (role["bind_secret_id"], role["token_ttl"], role["token_policies"]) == (True, 900, ["deploy"])
    assert approle.auth.approle.list_roles()["data"]["keys"] == ["deployer"]
    approle.auth.approle.delete_role("deployer")
    with pytest.raises(hvac.exceptions.InvalidPath):
        approle.auth.approle.read_role("deployer")


def test_a_secret_id_can_be_response_wrapped(vault: ThreadVault, approle: hvac.Client) -> None:
    wrapped = approle.auth.approle.generate_secret_id("deployer", wrap_ttl="60s")
    assert wrapped["data"] is None
    assert wrapped["wrap_info"]["creation_path"] == "auth/approle/role/deployer/secret-id"
    unwrapped = client_for(vault).sys.unwrap(wrapped["wrap_info"]["token"])
    role_id = approle.auth.approle.read_role_id("deployer")["data"]["role_id"]
    assert client_for(vault).auth.approle.login(role_id=role_id, secret_id=unwrapped["data"]["secret_id"])[
        "auth"
    ]
