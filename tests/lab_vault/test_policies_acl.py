"""Policies (HCL and JSON, both API families) and ACL enforcement on every request."""

from __future__ import annotations

import hvac
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaultinject.lab.vault.acl import ACL, glob_match
from vaultinject.lab.vault.harness import ThreadVault
from vaultinject.lab.vault.policy import PolicyError, parse_policy

from .helpers import client_for, token_with_policy


def acl(*texts: str) -> ACL:
    return ACL([parse_policy(f"p{i}", text) for i, text in enumerate(texts)])


# -- parsing ------------------------------------------------------------------------------------------------


def test_hcl_and_json_policies_parse_to_the_same_rules() -> None:
    hcl = """
    # comment
    path "secret/data/*" {
      capabilities = ["read", "list"]
      allowed_parameters = { "a" = [], "b" = ["x", "y*"] }
    }
    // another
    path "auth/kubernetes/config" { policy = "write" }
    """
    json_text = """{"path": {"secret/data/*": {"capabilities": ["read", "list"],
                    "allowed_parameters": {"a": [], "b": ["x", "y*"]}},
                    "auth/kubernetes/config": {"policy": "write"}}}"""
    assert parse_policy("h", hcl).rules == parse_policy("j", json_text).rules


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('path "a" { capabilities = ["fly"] }', 'failed to parse policy: path "a": invalid capability "fly"'),
        ('path "a" { colour = "red" }', 'failed to parse policy: path "a": invalid key "colour"'),
        ('paths "a" {}', 'failed to parse policy: invalid key "paths" on line 1'),
        ('path "a" { capabilities = ["read" }', "failed to parse policy: At 1: expected ',' or ']' in list"),
    ],
)
def test_bad_policies_are_rejected_with_a_message(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policy("bad", text)
    assert str(raised.value) == message


# -- matching -----------------------------------------------------------------------------------------------


def test_exact_rules_beat_globs_and_longer_globs_beat_shorter() -> None:
    rules = acl(
        'path "secret/*" { capabilities = ["read"] }',
        'path "secret/data/*" { capabilities = ["list"] }',
        'path "secret/data/app" { capabilities = ["update"] }',
    )
    assert rules.capabilities("secret/data/app") == ["update"]
    assert rules.capabilities("secret/data/other") == ["list"]
    assert rules.capabilities("secret/metadata/x") == ["read"]
    assert rules.capabilities("elsewhere") == ["deny"]


def test_plus_matches_exactly_one_segment() -> None:
    rules = acl(
        'path "secret/+/app" { capabilities = ["read"] }',
        'path "secret/+/team/*" { capabilities = ["list"] }',
    )
    assert rules.capabilities("secret/data/app") == ["read"]
    assert rules.capabilities("secret/data/deep/app") == ["deny"]
    assert rules.capabilities("secret/data/team/a/b") == ["list"]


def test_priority_follows_vaults_documented_order() -> None:
    rules = acl(
        'path "secret/*" { capabilities = ["read"] }',
        'path "secret/+/x" { capabilities = ["update"] }',
        'path "secret/a*" { capabilities = ["list"] }',
    )
    # Same first-wildcard position: the pattern ending in a glob loses.
    assert rules.capabilities("secret/b/x") == ["update"]
    # A first wildcard later in the pattern wins.
    assert rules.capabilities("secret/ab/x") == ["list"]


def test_deny_in_any_policy_wins_for_that_pattern() -> None:
    rules = acl(
        'path "secret/*" { capabilities = ["read", "list"] }', 'path "secret/*" { capabilities = ["deny"] }'
    )
    assert rules.capabilities("secret/x") == ["deny"]
    assert not rules.allows("read", "secret/x", {}, False)


def test_same_pattern_in_two_policies_merges_capabilities() -> None:
    rules = acl('path "kv/a" { capabilities = ["read"] }', 'path "kv/a" { capabilities = ["update"] }')
    assert rules.capabilities("kv/a") == ["read", "update"]


def test_parameter_constraints() -> None:
    rules = acl(
        """path "auth/kubernetes/config" {
             capabilities = ["create", "update"]
             allowed_parameters = { "kubernetes_host" = [], "disable_local_ca_jwt" = ["false"] }
             denied_parameters = { "token_reviewer_jwt" = [] }
           }"""
    )
    path = "auth/kubernetes/config"
    assert rules.allows("update", path, {"kubernetes_host": "https://k"}, False)
    assert rules.allows(
        "update", path, {"kubernetes_host": "https://k", "disable_local_ca_jwt": "false"}, False
    )
    assert not rules.allows("update", path, {"kubernetes_host": "h", "token_reviewer_jwt": "x"}, False)
    assert not rules.allows("update", path, {"kubernetes_host": "h", "issuer": "x"}, False)
    # As in Vault (reflect.DeepEqual), the JSON boolean false is not the policy string "false".
    assert not rules.allows("update", path, {"kubernetes_host": "h", "disable_local_ca_jwt": False}, False)


@given(st.text(alphabet="abc/-", max_size=12), st.text(alphabet="abc/-", max_size=12))
def test_prefix_globs_match_exactly_the_paths_with_that_prefix(prefix: str, rest: str) -> None:
    assert glob_match(prefix + "*", prefix + rest)
    rules = acl(f'path "{prefix}*" {{ capabilities = ["read"] }}')
    assert rules.capabilities(prefix + rest) == ["read"]


# -- enforcement through the API ----------------------------------------------------------------------------


def test_policy_api_families_read_and_list(client: hvac.Client) -> None:
    client.sys.create_or_update_acl_policy("modern", 'path "a" { capabilities = ["read"] }')
    client.sys.create_or_update_policy("legacy", {"path": {"b": {"capabilities": ["list"]}}})
    assert client.sys.read_acl_policy("modern")["data"]["policy"] == 'path "a" { capabilities = ["read"] }'
    legacy = client.sys.read_policy("legacy")
    assert legacy["rules"] == legacy["data"]["rules"]
    assert "list" in legacy["rules"]
    names = client.sys.list_acl_policies()["data"]["keys"]
    assert {"default", "root", "modern", "legacy"} <= set(names)
    assert set(client.sys.list_policies()["data"]["policies"]) == set(names)
    client.sys.delete_acl_policy("modern")
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.sys.read_acl_policy("modern")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.sys.create_or_update_acl_policy("root", 'path "a" {}'), 'cannot update "root" policy'),
        (lambda c: c.sys.delete_acl_policy("default"), 'cannot delete "default" policy'),
        (lambda c: c.sys.create_or_update_acl_policy("x", ""), "'policy' parameter not supplied or empty"),
        (
            lambda c: c.sys.create_or_update_acl_policy("x", 'path "a" { capabilities = ["fly"] }'),
            'failed to parse policy: path "a": invalid capability "fly"',
        ),
    ],
)
def test_policy_write_errors(client: hvac.Client, call: object, message: str) -> None:
    assert callable(call)
    with pytest.raises(hvac.exceptions.InvalidRequest) as raised:
        call(client)
    assert raised.value.errors == [message]


def test_capabilities_self_and_for_another_token(vault: ThreadVault, client: hvac.Client) -> None:
    token = token_with_policy(client, "app", 'path "secret/data/app/*" { capabilities = ["read", "list"] }')
    mine = client_for(vault, token).sys.get_capabilities(paths=["secret/data/app/db"])
    assert mine["capabilities"] == ["list", "read"]
    assert mine["data"]["secret/data/app/db"] == ["list", "read"]
    other = client.sys.get_capabilities(paths=["secret/data/app/db", "sys/mounts"], token=token)["data"]
    assert other == {"secret/data/app/db": ["list", "read"], "sys/mounts": ["deny"]}
    assert client.sys.get_capabilities(paths=["anything"])["capabilities"] == ["root"]


def test_every_request_is_checked_against_the_policies(vault: ThreadVault, client: hvac.Client) -> None:
    token = token_with_policy(
        client,
        "app",
        """
        path "secret/data/app/*" { capabilities = ["read", "create"] }
        path "secret/data/app/locked" { capabilities = ["deny"] }
        path "secret/metadata/app/" { capabilities = ["list"] }
        """,
    )
    client.secrets.kv.v2.create_or_update_secret("app/db", {"pw": "x"})
    client.secrets.kv.v2.create_or_update_secret("app/locked", {"pw": "x"})
    app = client_for(vault, token)

    assert app.secrets.kv.v2.read_secret_version("app/db", raise_on_deleted_version=True)["data"]["data"] == {
        "pw": "x"
    }
    assert app.secrets.kv.v2.list_secrets("app")["data"]["keys"] == ["db", "locked"]
    app.secrets.kv.v2.create_or_update_secret("app/new", {"a": "b"})  # create is allowed ...
    with pytest.raises(hvac.exceptions.Forbidden):
        app.secrets.kv.v2.create_or_update_secret("app/db", {"a": "b"})  # ... update is not
    with pytest.raises(hvac.exceptions.Forbidden):
        app.secrets.kv.v2.read_secret_version("app/locked", raise_on_deleted_version=True)
    with pytest.raises(hvac.exceptions.Forbidden) as raised:
        app.sys.list_mounted_secrets_engines()
    assert raised.value.errors == ["1 error occurred:\n\t* permission denied\n\n"]


def test_the_default_policy_lets_a_token_manage_itself(vault: ThreadVault, client: hvac.Client) -> None:
    token = client.auth.token.create(policies=["nothing"], ttl="1h")["auth"]["client_token"]
    app = client_for(vault, token)
    assert app.auth.token.lookup_self()["data"]["policies"] == ["default", "nothing"]
    assert app.auth.token.renew_self()["auth"]["client_token"] == token
    assert app.sys.get_capabilities(paths=["auth/token/lookup-self"])["capabilities"] == ["read"]
    app.write("cubbyhole/note", value="mine")
    assert app.read("cubbyhole/note")["data"] == {"value": "mine"}
    assert client_for(vault, "root").read("cubbyhole/note") is None


def test_without_the_default_policy_a_token_cannot_look_itself_up(
    vault: ThreadVault, client: hvac.Client
) -> None:
    token = client.auth.token.create(policies=["nothing"], no_default_policy=True)["auth"]["client_token"]
    assert client_for(vault, token).is_authenticated() is False


def test_the_healers_narrow_policy_can_rewrite_the_config_but_never_plant_a_reviewer_token(
    vault: ThreadVault, client: hvac.Client
) -> None:
    """auth-failure §6.1: read and rewrite `auth/kubernetes/config`, with `token_reviewer_jwt` denied."""
    client.sys.enable_auth_method("kubernetes")
    client.auth.kubernetes.configure(kubernetes_host="https://10.0.0.1:443", token_reviewer_jwt="planted")
    token = token_with_policy(
        client,
        "healer",
        """
        path "auth/kubernetes/config" {
          capabilities = ["read", "create", "update"]
          denied_parameters = { "token_reviewer_jwt" = [] }
        }
        path "auth/kubernetes/role" { capabilities = ["list"] }
        """,
    )
    healer = client_for(vault, token)
    assert healer.auth.kubernetes.read_config()["token_reviewer_jwt_set"] is True

    healer.auth.kubernetes.configure(kubernetes_host="https://10.0.0.1:443")

    assert healer.auth.kubernetes.read_config()["token_reviewer_jwt_set"] is False
    with pytest.raises(hvac.exceptions.Forbidden):
        healer.auth.kubernetes.configure(kubernetes_host="https://10.0.0.1:443", token_reviewer_jwt="again")
    with pytest.raises(hvac.exceptions.Forbidden):
        healer.sys.list_auth_methods()
