"""sys/ endpoints: health, seal status, leader, init/unseal/seal, mounts, auth methods, tune (reference A2)."""

from __future__ import annotations

import hvac
import pytest

from vaultinject.lab.vault.harness import ThreadVault, vault_thread

from .helpers import client_for, raw

HEALTH_KEYS = {
    "initialized",
    "sealed",
    "standby",
    "performance_standby",
    "replication_performance_mode",
    "replication_dr_mode",
    "server_time_utc",
    "version",
    "cluster_name",
    "cluster_id",
}


def test_health_of_an_active_node(vault: ThreadVault, client: hvac.Client) -> None:
    body = client.sys.read_health_status(method="GET")
    assert set(body) >= HEALTH_KEYS
    assert (body["initialized"], body["sealed"], body["standby"]) == (True, False, False)
    head = client.sys.read_health_status()
    assert (head.status_code, head.content) == (200, b"")


@pytest.mark.parametrize(
    ("mode", "query", "status"),
    [
        ("active", "", 200),
        ("active", "?activecode=204", 204),
        ("standby", "", 429),
        ("standby", "?standbyok=true", 200),
        ("standby", "?standbyok", 200),
        ("standby", "?standbycode=299", 299),
        ("perfstandby", "", 473),
        ("perfstandby", "?perfstandbyok=true", 200),
        ("perfstandby", "?standbyok=true", 473),
        ("perfstandby", "?performancestandbycode=200", 200),
        ("drsecondary", "", 472),
        ("drsecondary", "?drsecondarycode=200", 200),
    ],
)
def test_health_codes_and_parameters(vault: ThreadVault, mode: str, query: str, status: int) -> None:
    vault.set_ha_mode(mode)
    response = raw(vault, "GET", "/v1/sys/health" + query)
    assert response.status == status
    if status != 204:
        assert response.json["standby"] == (mode in ("standby", "perfstandby"))
        assert response.headers["content-type"] == "application/json"


def test_health_of_a_sealed_and_an_uninitialized_node(vault: ThreadVault) -> None:
    with vault_thread(root_token=None) as fresh:
        response = raw(fresh, "GET", "/v1/sys/health")
        assert (response.status, response.json["initialized"]) == (501, False)
        assert raw(fresh, "GET", "/v1/sys/health?uninitcode=200").status == 200
        with pytest.raises(hvac.exceptions.VaultNotInitialized):
            client_for(fresh).adapter.get("/v1/sys/health")
    vault.api("PUT", "sys/seal")
    sealed = raw(vault, "GET", "/v1/sys/health")
    assert (sealed.status, sealed.json["sealed"]) == (503, True)
    assert raw(vault, "GET", "/v1/sys/health?sealedcode=200").status == 200


def test_a_bad_health_parameter_is_a_400(vault: ThreadVault) -> None:
    assert raw(vault, "GET", "/v1/sys/health?activecode=abc").status == 400


def test_seal_status_and_leader(vault: ThreadVault, client: hvac.Client) -> None:
    status = client.sys.read_seal_status()
    assert {
        "type",
        "initialized",
        "sealed",
        "t",
        "n",
        "progress",
        "nonce",
        "version",
        "build_date",
        "migration",
        "recovery_seal",
        "storage_type",
        "cluster_name",
        "cluster_id",
    } <= set(status)
    assert (status["sealed"], status["storage_type"]) == (False, "inmem")
    leader = client.sys.read_leader_status()
    assert leader["ha_enabled"] is False
    assert leader["leader_address"] == ""


def test_init_unseal_seal_cycle_like_a_real_server() -> None:
    with vault_thread(root_token=None, auto_unseal=False) as fresh:
        client = client_for(fresh)
        assert client.sys.is_initialized() is False
        with pytest.raises(hvac.exceptions.VaultDown) as sealed:
            client.secrets.kv.v2.read_secret_version("x", raise_on_deleted_version=True)
        assert sealed.value.errors == ["Vault is sealed"]

        result = client.sys.initialize(secret_shares=3, secret_threshold=2)
        assert len(result["keys"]) == len(result["keys_base64"]) == 3
        assert result["root_token"].startswith("hvs.")
        with pytest.raises(hvac.exceptions.InvalidRequest) as again:
            client.sys.initialize(secret_shares=1, secret_threshold=1)
        assert again.value.errors == ["Vault is already initialized"]
        assert client.sys.is_sealed() is True

        progress = client.sys.submit_unseal_key(result["keys"][0])
        assert (progress["sealed"], progress["progress"], progress["t"], progress["n"]) == (True, 1, 2, 3)
        assert progress["nonce"]
        unsealed = client.sys.submit_unseal_key(result["keys_base64"][2])
        assert (unsealed["sealed"], unsealed["progress"]) == (False, 0)

        client.token = result["root_token"]
        assert client.is_authenticated()
        client.sys.seal()
        assert client.sys.is_sealed() is True
        client.sys.submit_unseal_keys(result["keys"][:2])
        assert client.sys.is_sealed() is False


def test_a_wrong_unseal_key_is_only_noticed_at_the_threshold() -> None:
    with vault_thread(root_token=None, auto_unseal=False) as fresh:
        client = client_for(fresh)
        keys = client.sys.initialize(secret_shares=2, secret_threshold=2)["keys"]
        client.sys.submit_unseal_key(keys[0])
        with pytest.raises(hvac.exceptions.InvalidRequest) as wrong:
            client.sys.submit_unseal_key("ab" * 33)
        assert wrong.value.errors == ["cipher: message authentication failed"]
        assert client.sys.read_seal_status()["progress"] == 0
        status, body = fresh.api("PUT", "sys/unseal", {"key": "not hex or base64!"})
        assert (status, body) == (400, {"errors": ["'key' must be a valid hex or base64 string"]})


def test_sealing_needs_sudo(vault: ThreadVault, client: hvac.Client) -> None:
    from .helpers import token_with_policy

    token = token_with_policy(client, "sealer", 'path "sys/seal" { capabilities = ["update"] }')
    assert vault.api("PUT", "sys/seal", token=token)[0] == 403
    token = token_with_policy(client, "sudoer", 'path "sys/seal" { capabilities = ["update", "sudo"] }')
    assert vault.api("PUT", "sys/seal", token=token) == (204, None)


def test_secrets_engines_enable_list_tune_disable(vault: ThreadVault, client: hvac.Client) -> None:
    client.sys.enable_secrets_engine(
        "kv",
        path="team",
        options={"version": "2"},
        description="team secrets",
        config={"default_lease_ttl": "1h", "max_lease_ttl": "2h"},
    )
    mounts = client.sys.list_mounted_secrets_engines()
    entry = mounts["data"]["team/"]
    assert mounts["team/"] == entry
    assert entry["type"] == "kv"
    assert entry["options"] == {"version": "2"}
    assert entry["description"] == "team secrets"
    assert entry["accessor"].startswith("kv_")
    assert (entry["config"]["default_lease_ttl"], entry["config"]["max_lease_ttl"]) == (3600, 7200)
    assert {"cubbyhole/", "identity/", "sys/", "secret/"} <= set(mounts["data"])

    tune = client.sys.read_mount_configuration("team")
    assert (tune["data"]["default_lease_ttl"], tune["data"]["max_lease_ttl"]) == (3600, 7200)
    client.sys.tune_mount_configuration("team", default_lease_ttl="30m", max_lease_ttl="system")
    tune = client.sys.read_mount_configuration("team")["data"]
    assert (tune["default_lease_ttl"], tune["max_lease_ttl"]) == (1800, 2764800)

    with pytest.raises(hvac.exceptions.InvalidRequest) as used:
        client.sys.enable_secrets_engine("kv", path="team")
    assert used.value.errors == ["path is already in use at team/"]
    with pytest.raises(hvac.exceptions.InvalidRequest) as unknown:
        client.sys.enable_secrets_engine("nosuch", path="x")
    assert unknown.value.errors == ["plugin not found in the catalog: nosuch"]

    client.secrets.kv.v2.create_or_update_secret("a", {"k": "v"}, mount_point="team")
    client.sys.disable_secrets_engine("team")
    assert "team/" not in client.sys.list_mounted_secrets_engines()["data"]
    client.sys.enable_secrets_engine("kv-v2", path="team")
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.kv.v2.read_secret_version("a", mount_point="team", raise_on_deleted_version=True)


def test_auth_methods_enable_list_tune_disable(vault: ThreadVault, client: hvac.Client) -> None:
    client.sys.enable_auth_method("kubernetes", path="k8s", description="cluster")
    methods = client.sys.list_auth_methods()
    entry = methods["data"]["k8s/"]
    assert entry["type"] == "kubernetes"
    assert entry["accessor"].startswith("auth_kubernetes_")
    assert entry["config"]["token_type"] == "default-service"
    assert "token/" in methods["data"]

    client.sys.tune_auth_method("k8s", default_lease_ttl="1h")
    tune = client.sys.read_auth_method_tuning("k8s")["data"]
    assert (tune["default_lease_ttl"], tune["token_type"]) == (3600, "default-service")

    client.sys.disable_auth_method("k8s")
    assert "k8s/" not in client.sys.list_auth_methods()["data"]
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.sys.disable_auth_method("token")


def test_enabling_an_auth_method_needs_sudo(vault: ThreadVault, client: hvac.Client) -> None:
    from .helpers import token_with_policy

    token = token_with_policy(client, "admin", 'path "sys/auth/*" { capabilities = ["create", "update"] }')
    assert vault.api("POST", "sys/auth/approle", {"type": "approle"}, token=token)[0] == 403
    token = token_with_policy(
        client, "admin2", 'path "sys/auth/*" { capabilities = ["create", "update", "sudo"] }'
    )
    assert vault.api("POST", "sys/auth/approle", {"type": "approle"}, token=token) == (204, None)


def test_disabling_an_auth_method_revokes_its_tokens(vault: ThreadVault, client: hvac.Client) -> None:
    client.sys.enable_auth_method("approle")
    client.auth.approle.create_or_update_approle("r", token_policies=["p"])
    role_id = client.auth.approle.read_role_id("r")["data"]["role_id"]
    secret_id = client.auth.approle.generate_secret_id("r")["data"]["secret_id"]
    token = client_for(vault).auth.approle.login(role_id, secret_id)["auth"]["client_token"]
    assert client_for(vault, token).is_authenticated()
    client.sys.disable_auth_method("approle")
    assert not client_for(vault, token).is_authenticated()


def test_the_ui_mount_lookup_tells_kv_versions_apart(vault: ThreadVault, client: hvac.Client) -> None:
    from .helpers import token_with_policy

    client.sys.enable_secrets_engine("kv", path="old", options={"version": "1"})
    token = token_with_policy(client, "reader", 'path "secret/data/app/*" { capabilities = ["read"] }')
    status, body = vault.api("GET", "sys/internal/ui/mounts/secret/app/db", token=token)
    assert status == 200
    assert (body["data"]["path"], body["data"]["type"], body["data"]["options"]) == (
        "secret/",
        "kv",
        {"version": "2"},
    )
    assert vault.api("GET", "sys/internal/ui/mounts/old/x", token=token)[0] == 403
    assert vault.api("GET", "sys/internal/ui/mounts/old/x")[1]["data"]["options"] == {"version": "1"}
