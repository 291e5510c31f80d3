"""The database-style dynamic credentials engine: unique credentials under leases (reference A8, A2 leases)."""

from __future__ import annotations

import hvac
import pytest

from vaultinject.lab.vault.harness import ThreadVault

from .helpers import client_for, token_with_policy


@pytest.fixture
def database(client: hvac.Client) -> hvac.Client:
    client.sys.enable_secrets_engine("database")
    client.secrets.database.configure(
        name="appdb",
        plugin_name="postgresql-database-plugin",
        connection_url="postgresql://{{username}}:{{password}}@db:5432/app",
        allowed_roles=["app", "short"],
        username="vault",
        password="root-password",
    )
    client.secrets.database.create_role(
        name="app", db_name="appdb", creation_statements=["CREATE ROLE ..."], default_ttl="1h", max_ttl="2h"
    )
    return client


def alive(vault: ThreadVault) -> set[str]:
    return {credential["username"] for credential in vault.database_credentials()}


def test_each_read_issues_a_unique_leased_credential(vault: ThreadVault, database: hvac.Client) -> None:
    first = database.secrets.database.generate_credentials("app")
    second = database.secrets.database.generate_credentials("app")

    assert first["lease_id"].startswith("database/creds/app/")
    assert (first["renewable"], first["lease_duration"]) == (True, 3600)
    assert first["data"]["username"] != second["data"]["username"]
    assert first["data"]["username"].startswith("v-root-app-")
    assert len(first["data"]["password"]) == 20
    assert alive(vault) == {first["data"]["username"], second["data"]["username"]}
    [credential] = [c for c in vault.database_credentials() if c["username"] == first["data"]["username"]]
    assert (credential["password"], credential["lease_id"]) == (first["data"]["password"], first["lease_id"])


def test_renewal_extends_up_to_max_ttl_with_vaults_warning(vault: ThreadVault, database: hvac.Client) -> None:
    lease_id = database.secrets.database.generate_credentials("app")["lease_id"]

    renewed = database.sys.renew_lease(lease_id, increment=1800)
    assert (renewed["lease_id"], renewed["lease_duration"], renewed["renewable"]) == (lease_id, 1800, True)
    assert renewed["warnings"] is None

    capped = database.sys.renew_lease(lease_id, increment=10 * 3600)
    assert capped["lease_duration"] <= 7200
    assert capped["warnings"][0].startswith('TTL of "10h0m0s" exceeded the effective max_ttl of "')

    looked_up = database.sys.read_lease(lease_id)["data"]
    assert looked_up["id"] == lease_id
    assert looked_up["renewable"] is True
    assert looked_up["last_renewal"] is not None


def test_revoking_a_lease_invalidates_the_credential(vault: ThreadVault, database: hvac.Client) -> None:
    response = database.secrets.database.generate_credentials("app")
    database.sys.revoke_lease(response["lease_id"])

    assert response["data"]["username"] not in alive(vault)
    with pytest.raises(hvac.exceptions.InvalidRequest) as raised:
        database.sys.renew_lease(response["lease_id"])
    assert raised.value.errors == ["lease not found or lease is not renewable"]


def test_expiry_invalidates_the_credential(vault: ThreadVault, database: hvac.Client) -> None:
    username = database.secrets.database.generate_credentials("app")["data"]["username"]
    vault.advance_clock("59m")
    assert username in alive(vault)
    vault.advance_clock("2m")
    assert username not in alive(vault)


def test_a_lease_ends_at_its_max_ttl_however_often_it_is_renewed(
    vault: ThreadVault, database: hvac.Client
) -> None:
    response = database.secrets.database.generate_credentials("app")
    lease_id, username = response["lease_id"], response["data"]["username"]
    vault.advance_clock("55m")
    assert database.sys.renew_lease(lease_id, increment=3600)["lease_duration"] == 3600
    vault.advance_clock("55m")
    last = database.sys.renew_lease(lease_id, increment=3600)
    assert 590 <= last["lease_duration"] <= 600
    assert username in alive(vault)

    vault.advance_clock("11m")
    assert username not in alive(vault)
    status, body = vault.api("PUT", "sys/leases/renew", {"lease_id": lease_id})
    assert (status, body) == (400, {"errors": ["lease not found or lease is not renewable"]})


def test_revoking_the_token_revokes_the_credentials_it_created(
    vault: ThreadVault, database: hvac.Client
) -> None:
    token = token_with_policy(database, "db", 'path "database/creds/app" { capabilities = ["read"] }')
    user = client_for(vault, token)
    username = user.secrets.database.generate_credentials("app")["data"]["username"]
    assert username in alive(vault)

    database.auth.token.revoke(token)
    assert username not in alive(vault)


def test_revoke_prefix_revokes_every_credential_of_a_role(vault: ThreadVault, database: hvac.Client) -> None:
    for _ in range(3):
        database.secrets.database.generate_credentials("app")
    database.sys.revoke_prefix("database/creds/app")
    assert alive(vault) == set()


def test_a_default_ttl_above_the_max_is_capped_with_a_warning(
    vault: ThreadVault, database: hvac.Client
) -> None:
    database.sys.tune_mount_configuration("database", max_lease_ttl="30m")
    response = database.secrets.database.generate_credentials("app")
    assert response["lease_duration"] == 1800
    assert response["warnings"] == [
        'TTL of "1h0m0s" exceeded the effective max_ttl of "30m0s"; TTL value is capped accordingly'
    ]


def test_roles_and_connections_read_back(database: hvac.Client) -> None:
    role = database.secrets.database.read_role("app")["data"]
    assert (role["db_name"], role["default_ttl"], role["max_ttl"]) == ("appdb", 3600, 7200)
    assert role["creation_statements"] == ["CREATE ROLE ..."]
    connection = database.secrets.database.read_connection("appdb")["data"]
    assert connection["allowed_roles"] == ["app", "short"]
    assert "password" not in connection["connection_details"]
    assert database.secrets.database.list_roles()["data"]["keys"] == ["app"]


def test_unknown_and_disallowed_roles_fail_like_vault(vault: ThreadVault, database: hvac.Client) -> None:
    with pytest.raises(hvac.exceptions.InvalidRequest) as unknown:
        database.secrets.database.generate_credentials("nope")
    assert unknown.value.errors == ["unknown role: nope"]

    database.secrets.database.create_role(name="other", db_name="appdb", creation_statements=["x"])
    with pytest.raises(hvac.exceptions.InternalServerError) as disallowed:
        database.secrets.database.generate_credentials("other")
    assert disallowed.value.errors == ['1 error occurred:\n\t* "other" is not an allowed role\n\n']


def test_the_lab_credentials_view_needs_root(vault: ThreadVault, database: hvac.Client) -> None:
    token = token_with_policy(database, "reader", 'path "database/*" { capabilities = ["read"] }')
    status, _ = vault.api("GET", "sys/lab/database/credentials", token=token)
    assert status == 403


def test_leases_can_be_listed_by_prefix_with_sudo(vault: ThreadVault, database: hvac.Client) -> None:
    lease_id = database.secrets.database.generate_credentials("app")["lease_id"]
    assert database.sys.list_leases("database/creds/app/")["data"]["keys"] == [lease_id.rsplit("/", 1)[1]]
    assert database.sys.list_leases("database/")["data"]["keys"] == ["creds/"]
    token = token_with_policy(database, "lister", 'path "sys/leases/lookup/*" { capabilities = ["list"] }')
    assert vault.api("LIST", "sys/leases/lookup/database/", token=token)[0] == 403
