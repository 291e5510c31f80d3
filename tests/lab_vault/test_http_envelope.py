"""Wire details hvac does not expose: envelopes, status codes, headers and error texts (reference A1, C)."""

from __future__ import annotations

from collections.abc import Callable

import hvac
import pytest

from vaultinject.lab.vault.harness import ThreadVault

from .helpers import raw

ROOT = {"X-Vault-Token": "root"}
ENVELOPE_KEYS = [
    "request_id",
    "lease_id",
    "renewable",
    "lease_duration",
    "data",
    "wrap_info",
    "warnings",
    "auth",
    "mount_type",
]


def test_a_read_returns_the_full_envelope_in_vaults_field_order(vault: ThreadVault) -> None:
    raw(vault, "POST", "/v1/secret/data/app", {"data": {"k": "v"}}, ROOT)
    response = raw(vault, "GET", "/v1/secret/data/app", headers=ROOT)
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert list(response.json) == ENVELOPE_KEYS
    assert response.json["data"]["data"] == {"k": "v"}
    assert response.json["mount_type"] == "kv"


def test_a_write_with_no_data_answers_204_with_an_empty_body(vault: ThreadVault) -> None:
    response = raw(
        vault, "PUT", "/v1/sys/policies/acl/p", {"policy": 'path "a" { capabilities = ["read"] }'}, ROOT
    )
    assert response.status == 204
    assert response.body == b""
    assert "content-type" not in response.headers


def test_a_write_with_warnings_answers_200_with_the_envelope(vault: ThreadVault) -> None:
    response = raw(vault, "POST", "/v1/auth/token/create", {"policies": ["nope"]}, ROOT)
    assert response.status == 200
    assert response.json["warnings"] == ['Policy "nope" does not exist']


def test_errors_are_a_json_list_with_the_exact_content_type(vault: ThreadVault) -> None:
    response = raw(vault, "GET", "/v1/secret/data/x", headers={"X-Vault-Token": "bogus"})
    assert response.status == 403
    assert response.headers["content-type"] == "application/json"
    assert response.json == {"errors": ["2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"]}


def test_a_missing_token_is_the_same_403(vault: ThreadVault) -> None:
    response = raw(vault, "GET", "/v1/secret/data/x")
    assert response.status == 403
    assert response.json == {"errors": ["2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"]}


def test_a_missing_key_is_404_with_an_empty_errors_list(vault: ThreadVault) -> None:
    response = raw(vault, "GET", "/v1/secret/data/missing", headers=ROOT)
    assert (response.status, response.json) == (404, {"errors": []})


def test_an_empty_list_is_404_with_an_empty_errors_list(vault: ThreadVault) -> None:
    response = raw(vault, "LIST", "/v1/secret/metadata/", headers=ROOT)
    assert (response.status, response.json) == (404, {"errors": []})


def test_a_path_under_no_mount_names_the_route(vault: ThreadVault) -> None:
    response = raw(vault, "GET", "/v1/nomount/data/x/y", headers=ROOT)
    assert response.status == 404
    assert response.json == {"errors": ['no handler for route "nomount/data/x/y". route entry not found.']}


@pytest.mark.parametrize("flag", ["true", "True", "TRUE", "1", "t"])
def test_list_query_accepts_go_style_booleans(vault: ThreadVault, flag: str) -> None:
    raw(vault, "POST", "/v1/secret/data/dir/a", {"data": {"k": "v"}}, ROOT)
    response = raw(vault, "GET", f"/v1/secret/metadata/dir?list={flag}", headers=ROOT)
    assert response.status == 200
    assert response.json["data"]["keys"] == ["a"]


def test_the_list_verb_works_like_list_true(vault: ThreadVault) -> None:
    raw(vault, "POST", "/v1/secret/data/dir/sub/a", {"data": {"k": "v"}}, ROOT)
    response = raw(vault, "LIST", "/v1/secret/metadata/dir", headers=ROOT)
    assert response.json["data"]["keys"] == ["sub/"]


def test_authorization_bearer_is_accepted_as_the_token(vault: ThreadVault) -> None:
    response = raw(vault, "GET", "/v1/auth/token/lookup-self", headers={"Authorization": "Bearer root"})
    assert response.status == 200
    assert response.json["data"]["policies"] == ["root"]


def test_request_and_namespace_headers_are_accepted(vault: ThreadVault) -> None:
    headers = {**ROOT, "X-Vault-Request": "true", "X-Vault-Namespace": "root/"}
    response = raw(vault, "GET", "/v1/sys/mounts", headers=headers)
    assert response.status == 200


def test_sys_reads_repeat_data_at_the_top_level(vault: ThreadVault) -> None:
    response = raw(vault, "GET", "/v1/sys/policies/acl/default", headers=ROOT)
    assert response.json["name"] == "default"
    assert response.json["data"]["name"] == "default"
    assert response.json["policy"] == response.json["data"]["policy"]


def test_malformed_json_is_a_400_with_vaults_text(vault: ThreadVault) -> None:
    response = raw(vault, "POST", "/v1/secret/data/x", b"{not json", ROOT)
    assert (response.status, response.json) == (400, {"errors": ["error parsing JSON"]})


def test_an_unknown_method_is_405(vault: ThreadVault) -> None:
    response = raw(vault, "OPTIONS", "/v1/secret/data/x", headers=ROOT)
    assert response.status == 405


def test_an_unsupported_path_inside_a_mount_is_404_unsupported_path(vault: ThreadVault) -> None:
    response = raw(vault, "GET", "/v1/auth/token/no-such-endpoint", headers=ROOT)
    assert response.status == 404
    assert response.json == {"errors": ["1 error occurred:\n\t* unsupported path\n\n"]}


def test_an_unsupported_operation_is_405(vault: ThreadVault) -> None:
    response = raw(vault, "DELETE", "/v1/auth/token/lookup-self", headers=ROOT)
    assert response.status == 405
    assert response.json == {"errors": ["1 error occurred:\n\t* unsupported operation\n\n"]}


def test_keep_alive_serves_several_requests_on_one_connection(vault: ThreadVault) -> None:
    import http.client
    from urllib.parse import urlsplit

    url = urlsplit(vault.url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=5)
    try:
        for _ in range(3):
            connection.request("GET", "/v1/sys/health")
            response = connection.getresponse()
            assert response.status == 200
            response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (400, hvac.exceptions.InvalidRequest),
        (403, hvac.exceptions.Forbidden),
        (404, hvac.exceptions.InvalidPath),
        (405, hvac.exceptions.UnexpectedError),
        (503, hvac.exceptions.VaultDown),
    ],
)
def test_hvac_raises_its_exception_class_for_each_status(
    vault: ThreadVault, client: hvac.Client, status: int, exception: type[Exception]
) -> None:
    calls: dict[int, Callable[[], object]] = {
        400: lambda: client.secrets.kv.v2.create_or_update_secret("x", {"a": 1}, cas=7),
        403: lambda: hvac.Client(url=vault.url, token="nope").secrets.kv.v2.read_secret_version(
            "x", raise_on_deleted_version=True
        ),
        404: lambda: client.secrets.kv.v2.read_secret_metadata("never-written"),
        405: lambda: client.adapter.delete("/v1/auth/token/lookup-self"),
        503: lambda: (
            client.sys.seal(),
            client.secrets.kv.v2.read_secret_version("x", raise_on_deleted_version=True),
        ),
    }
    with pytest.raises(exception) as raised:
        calls[status]()
    assert isinstance(raised.value, hvac.exceptions.VaultError)
    assert raised.value.errors is not None
