"""Token auth: create options, lookup, renewal with Vault's TTL rules, revocation trees, expiry (reference A3)."""

from __future__ import annotations

import re

import hvac
import pytest

from vaultinject.lab.vault.harness import ThreadVault

from .helpers import client_for, token_with_policy


def test_create_with_every_option_and_look_it_up(vault: ThreadVault, client: hvac.Client) -> None:
    created = client.auth.token.create(
        policies=["web"],
        meta={"team": "a"},
        ttl="1h",
        explicit_max_ttl="2h",
        display_name="ci",
        num_uses=5,
        renewable=True,
    )
    auth = created["auth"]
    assert auth["client_token"].startswith("hvs.")
    assert len(auth["client_token"]) == 28
    assert (auth["policies"], auth["metadata"], auth["lease_duration"]) == (
        ["default", "web"],
        {"team": "a"},
        3600,
    )
    assert (auth["renewable"], auth["orphan"], auth["token_type"], auth["num_uses"]) == (
        True,
        False,
        "service",
        5,
    )

    looked_up = client.auth.token.lookup(auth["client_token"])["data"]
    assert looked_up["display_name"] == "token-ci"
    assert (looked_up["explicit_max_ttl"], looked_up["num_uses"], looked_up["path"]) == (
        7200,
        5,
        "auth/token/create",
    )
    assert looked_up["meta"] == {"team": "a"}
    assert looked_up["expire_time"].endswith("Z")
    by_accessor = client.auth.token.lookup_accessor(auth["accessor"])["data"]
    assert (by_accessor["id"], by_accessor["accessor"]) == ("", auth["accessor"])


def test_the_root_token_looks_like_vaults(client: hvac.Client) -> None:
    me = client.auth.token.lookup_self()["data"]
    assert (me["policies"], me["ttl"], me["expire_time"], me["display_name"]) == (["root"], 0, None, "root")
    with pytest.raises(hvac.exceptions.InvalidRequest) as raised:
        client.auth.token.renew_self()
    assert raised.value.errors == ["lease not found or lease is not renewable"]


def test_renew_self_with_an_increment_is_capped_at_max_ttl(vault: ThreadVault, client: hvac.Client) -> None:
    token = client.auth.token.create(policies=["p"], ttl="10m", explicit_max_ttl="1h")["auth"]["client_token"]
    app = client_for(vault, token)

    assert app.auth.token.renew_self(increment="30m")["auth"]["lease_duration"] == 1800
    capped = app.auth.token.renew_self(increment="2h")
    assert 3590 <= capped["auth"]["lease_duration"] <= 3600
    assert len(capped["warnings"]) == 1
    assert re.fullmatch(
        r'TTL of "2h0m0s" exceeded the effective max_ttl of "(1h0m0s|59m\d+s)"; TTL value is capped accordingly',
        capped["warnings"][0],
    )


def test_a_periodic_token_renews_to_its_period(vault: ThreadVault, client: hvac.Client) -> None:
    token = client.auth.token.create(policies=["p"], period="15m")["auth"]["client_token"]
    app = client_for(vault, token)
    assert app.auth.token.renew_self(increment="5h")["auth"]["lease_duration"] == 900
    assert app.auth.token.lookup_self()["data"]["period"] == 900


def test_a_non_renewable_token_refuses_renewal(vault: ThreadVault, client: hvac.Client) -> None:
    token = client.auth.token.create(policies=["p"], ttl="1h", renewable=False)["auth"]["client_token"]
    with pytest.raises(hvac.exceptions.InvalidRequest) as raised:
        client.auth.token.renew(token)
    assert raised.value.errors == ["lease is not renewable"]


def test_a_token_expires_with_its_ttl(vault: ThreadVault, client: hvac.Client) -> None:
    token = client.auth.token.create(policies=["p"], ttl="1m")["auth"]["client_token"]
    assert client_for(vault, token).is_authenticated()
    vault.advance_clock(61)
    assert not client_for(vault, token).is_authenticated()
    with pytest.raises(hvac.exceptions.Forbidden) as raised:
        client.auth.token.lookup(token)
    assert raised.value.errors == ["bad token"]


def test_num_uses_runs_out(vault: ThreadVault, client: hvac.Client) -> None:
    token = client.auth.token.create(policies=["p"], num_uses=2)["auth"]["client_token"]
    app = client_for(vault, token)
    assert app.auth.token.lookup_self()["data"]["num_uses"] == 1
    app.auth.token.lookup_self()
    with pytest.raises(hvac.exceptions.Forbidden):
        app.auth.token.lookup_self()


def test_revoking_a_token_revokes_its_children_but_not_orphans(
    vault: ThreadVault, client: hvac.Client
) -> None:
    parent = token_with_policy(client, "parent", 'path "auth/token/create" { capabilities = ["update"] }')
    child = client_for(vault, parent).auth.token.create(policies=["parent"])["auth"]["client_token"]
    grandchild = client_for(vault, child).auth.token.create(policies=["parent"])["auth"]["client_token"]
    orphan = client.auth.token.create_orphan(policies=["parent"])["auth"]["client_token"]
    assert client.auth.token.lookup(child)["data"]["orphan"] is False

    client.auth.token.revoke(parent)

    for token in (parent, child, grandchild):
        assert not client_for(vault, token).is_authenticated()
    assert client_for(vault, orphan).is_authenticated()


def test_revoke_orphan_keeps_the_children(vault: ThreadVault, client: hvac.Client) -> None:
    parent = client.auth.token.create(policies=["root"])["auth"]["client_token"]
    child = client_for(vault, parent).auth.token.create(policies=["p"])["auth"]["client_token"]
    client.auth.token.revoke_and_orphan_children(parent)
    assert client.auth.token.lookup(child)["data"]["orphan"] is True


def test_revoke_self_then_using_the_token_is_403_invalid_token(
    vault: ThreadVault, client: hvac.Client
) -> None:
    token = client.auth.token.create(policies=["p"])["auth"]["client_token"]
    app = client_for(vault, token)
    assert app.auth.token.revoke_self().status_code == 204
    with pytest.raises(hvac.exceptions.Forbidden) as raised:
        app.auth.token.lookup_self()
    assert raised.value.errors == ["2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"]


def test_child_policies_must_be_a_subset_and_orphans_need_sudo(
    vault: ThreadVault, client: hvac.Client
) -> None:
    parent = token_with_policy(client, "creator", 'path "auth/token/create" { capabilities = ["update"] }')
    creator = client_for(vault, parent)
    with pytest.raises(hvac.exceptions.InvalidRequest) as subset:
        creator.auth.token.create(policies=["admin"])
    assert subset.value.errors == ["child policies must be subset of parent"]
    with pytest.raises(hvac.exceptions.InvalidRequest) as orphan:
        creator.auth.token.create(policies=["creator"], no_parent=True)
    assert orphan.value.errors == ["root or sudo privileges required to create orphan token"]


def test_a_ttl_above_the_mount_max_is_capped_with_a_warning(vault: ThreadVault, client: hvac.Client) -> None:
    client.sys.tune_auth_method("token", max_lease_ttl="1h")
    created = client.auth.token.create(policies=["p"], ttl="3h")
    assert created["auth"]["lease_duration"] == 3600
    assert created["warnings"][-1] == (
        'TTL of "3h0m0s" exceeded the effective max_ttl of "1h0m0s"; TTL value is capped accordingly'
    )


def test_token_roles(vault: ThreadVault, client: hvac.Client) -> None:
    client.auth.token.create_or_update_role("ci", allowed_policies=["build"], orphan=True, token_period="10m")
    assert client.auth.token.read_role("ci")["data"]["allowed_policies"] == ["build"]
    assert client.auth.token.list_roles()["data"]["keys"] == ["ci"]
    token = client.auth.token.create(role_name="ci")["auth"]
    assert (token["policies"], token["orphan"], token["lease_duration"]) == (["build", "default"], True, 600)
