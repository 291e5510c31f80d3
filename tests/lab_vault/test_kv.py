"""KV v1 and v2: versions, check-and-set, soft delete, undelete, destroy, metadata, listing (reference A7)."""

from __future__ import annotations

import hvac
import pytest

from vaultinject.lab.vault.harness import ThreadVault

from .helpers import raw

ROOT = {"X-Vault-Token": "root"}


def test_versions_accumulate_and_can_be_read_back(client: hvac.Client) -> None:
    for value in ("one", "two", "three"):
        written = client.secrets.kv.v2.create_or_update_secret("app", {"v": value})
    assert written["data"]["version"] == 3
    assert set(written["data"]) == {
        "created_time",
        "custom_metadata",
        "deletion_time",
        "destroyed",
        "version",
    }
    latest = client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)["data"]
    assert (latest["data"], latest["metadata"]["version"]) == ({"v": "three"}, 3)
    first = client.secrets.kv.v2.read_secret_version("app", version=1, raise_on_deleted_version=True)["data"]
    assert first["data"] == {"v": "one"}
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.kv.v2.read_secret_version("app", version=9, raise_on_deleted_version=True)


def test_check_and_set(client: hvac.Client) -> None:
    client.secrets.kv.v2.create_or_update_secret("app", {"v": 1}, cas=0)
    with pytest.raises(hvac.exceptions.InvalidRequest) as raised:
        client.secrets.kv.v2.create_or_update_secret("app", {"v": 2}, cas=0)
    assert raised.value.errors == ["check-and-set parameter did not match the current version"]
    client.secrets.kv.v2.create_or_update_secret("app", {"v": 2}, cas=1)
    client.secrets.kv.v2.configure(cas_required=True)
    with pytest.raises(hvac.exceptions.InvalidRequest) as required:
        client.secrets.kv.v2.create_or_update_secret("app", {"v": 3})
    assert required.value.errors == ["check-and-set parameter required for this call"]


def test_a_deleted_version_reads_as_a_404_carrying_the_full_envelope(
    vault: ThreadVault, client: hvac.Client
) -> None:
    client.secrets.kv.v2.create_or_update_secret("app", {"v": 1})
    client.secrets.kv.v2.delete_latest_version_of_secret("app")

    response = raw(vault, "GET", "/v1/secret/data/app", headers=ROOT)
    assert response.status == 404
    assert response.headers["content-type"] == "application/json"
    body = response.json
    assert "errors" not in body
    assert body["data"]["data"] is None
    assert body["data"]["metadata"]["deletion_time"] != ""
    assert body["mount_type"] == "kv"

    via_hvac = client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=False)
    assert via_hvac["data"]["metadata"]["version"] == 1
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)


def test_undelete_and_destroy(vault: ThreadVault, client: hvac.Client) -> None:
    client.secrets.kv.v2.create_or_update_secret("app", {"v": 1})
    client.secrets.kv.v2.create_or_update_secret("app", {"v": 2})
    client.secrets.kv.v2.delete_secret_versions("app", versions=[1, 2])
    client.secrets.kv.v2.undelete_secret_versions("app", versions=[2])
    assert client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)["data"]["data"] == {
        "v": 2
    }

    client.secrets.kv.v2.destroy_secret_versions("app", versions=[2])
    destroyed = raw(vault, "GET", "/v1/secret/data/app", headers=ROOT)
    assert destroyed.status == 404
    assert destroyed.json["data"]["metadata"]["destroyed"] is True
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=False)
    versions = client.secrets.kv.v2.read_secret_metadata("app")["data"]["versions"]
    assert (versions["2"]["destroyed"], versions["1"]["deletion_time"] != "") == (True, True)


def test_metadata_read_write_and_max_versions(client: hvac.Client) -> None:
    client.secrets.kv.v2.update_metadata("app", max_versions=2, custom_metadata={"owner": "team-a"})
    for value in range(4):
        client.secrets.kv.v2.create_or_update_secret("app", {"v": value})
    metadata = client.secrets.kv.v2.read_secret_metadata("app")["data"]
    assert (metadata["current_version"], metadata["oldest_version"], metadata["max_versions"]) == (4, 3, 2)
    assert set(metadata["versions"]) == {"3", "4"}
    assert metadata["custom_metadata"] == {"owner": "team-a"}
    assert metadata["delete_version_after"] == "0s"
    client.secrets.kv.v2.delete_metadata_and_all_versions("app")
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.kv.v2.read_secret_metadata("app")


def test_delete_version_after_expires_versions(vault: ThreadVault, client: hvac.Client) -> None:
    client.secrets.kv.v2.update_metadata("app", delete_version_after="1h")
    client.secrets.kv.v2.create_or_update_secret("app", {"v": 1})
    assert client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)["data"]["data"] == {
        "v": 1
    }
    vault.advance_clock("61m")
    assert raw(vault, "GET", "/v1/secret/data/app", headers=ROOT).status == 404


def test_listing_shows_folders_with_a_trailing_slash(client: hvac.Client) -> None:
    for path in ("team/a", "team/b/c", "top"):
        client.secrets.kv.v2.create_or_update_secret(path, {"k": "v"})
    assert client.secrets.kv.v2.list_secrets("")["data"]["keys"] == ["team/", "top"]
    assert client.secrets.kv.v2.list_secrets("team")["data"]["keys"] == ["a", "b/"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.kv.v2.list_secrets("nothing-here")


@pytest.mark.filterwarnings("ignore:The raise_on_deleted_version:DeprecationWarning")
def test_patch_through_hvac_and_raw_merge_patch(vault: ThreadVault, client: hvac.Client) -> None:
    client.secrets.kv.v2.create_or_update_secret("app", {"a": 1, "b": 2})
    client.secrets.kv.v2.patch("app", {"b": 3})
    assert client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)["data"]["data"] == {
        "a": 1,
        "b": 3,
    }
    headers = {**ROOT, "Content-Type": "application/merge-patch+json"}
    response = raw(vault, "PATCH", "/v1/secret/data/app", {"data": {"a": None, "c": 4}}, headers)
    assert (response.status, response.json["data"]["version"]) == (200, 3)
    assert client.secrets.kv.v2.read_secret_version("app", raise_on_deleted_version=True)["data"]["data"] == {
        "b": 3,
        "c": 4,
    }
    wrong = raw(
        vault, "PATCH", "/v1/secret/data/app", {"data": {}}, {**ROOT, "Content-Type": "application/json"}
    )
    assert wrong.status == 415
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.kv.v2.patch("missing", {"a": 1})


def test_a_write_without_data_is_refused(vault: ThreadVault) -> None:
    response = raw(vault, "POST", "/v1/secret/data/app", {"options": {}}, ROOT)
    assert (response.status, response.json) == (400, {"errors": ["no data provided"]})


def test_kv_v1_read_write_list_delete(vault: ThreadVault, client: hvac.Client) -> None:
    client.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    client.secrets.kv.v1.create_or_update_secret("app/db", {"user": "u"}, mount_point="kv")
    client.secrets.kv.v1.create_or_update_secret("app/short", {"user": "u", "ttl": "30m"}, mount_point="kv")
    read = client.secrets.kv.v1.read_secret("app/db", mount_point="kv")
    assert (read["data"], read["lease_duration"], read["lease_id"], read["renewable"]) == (
        {"user": "u"},
        2764800,
        "",
        False,
    )
    assert client.secrets.kv.v1.read_secret("app/short", mount_point="kv")["lease_duration"] == 1800
    assert client.secrets.kv.v1.list_secrets("app", mount_point="kv")["data"]["keys"] == ["db", "short"]
    assert raw(vault, "POST", "/v1/kv/app/empty", {}, ROOT).json == {"errors": ["missing data fields"]}
    client.secrets.kv.v1.delete_secret("app/db", mount_point="kv")
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.kv.v1.read_secret("app/db", mount_point="kv")


def test_tuning_a_v1_mount_to_version_2_upgrades_it_in_place(client: hvac.Client) -> None:
    client.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    client.secrets.kv.v1.create_or_update_secret("app/db", {"user": "u"}, mount_point="kv")
    client.sys.tune_mount_configuration("kv", options={"version": "2"})
    read = client.secrets.kv.v2.read_secret_version("app/db", mount_point="kv", raise_on_deleted_version=True)
    assert (read["data"]["data"], read["data"]["metadata"]["version"]) == ({"user": "u"}, 1)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.sys.tune_mount_configuration("kv", options={"version": "1"})
