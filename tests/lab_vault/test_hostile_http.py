"""The lab Vault survives hostile requests: every answer is a well-formed `{"errors": [...]}` 4xx, the
connection is never dropped, no value can poison the server's state, and it keeps serving afterwards."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.budget import examples
from tests.rawhttp import Answer, chunked, exchange, number_token, render_json, request_bytes
from vaultinject.lab.vault.harness import ThreadVault, vault_thread

from .helpers import raw

ROOT = {"X-Vault-Token": "root"}
LIMIT = 32 * 1024 * 1024
HUGE = "1" + "0" * 400


def send(vault: ThreadVault, data: bytes) -> Answer:
    parts = urlsplit(vault.url)
    return exchange((parts.hostname or "", parts.port or 0), data)


def post(
    vault: ThreadVault,
    path: str,
    body: bytes,
    *,
    framing: list[tuple[str, str]] | None = None,
    method: str = "POST",
    extra: list[tuple[str, str]] | None = None,
) -> Answer:
    headers = [("Host", "lab"), ("X-Vault-Token", "root"), *(extra or [])]
    headers += framing if framing is not None else [("Content-Length", str(len(body)))]
    return send(vault, request_bytes(method, path, headers, body))


def errors_of(answer: Answer, status: int) -> list[str]:
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/json"
    errors = answer.json["errors"]
    assert isinstance(errors, list)
    return [str(error) for error in errors]


@pytest.fixture(scope="module")
def shared() -> Iterator[ThreadVault]:
    with vault_thread() as server:
        for kind in ("kubernetes", "jwt", "approle"):
            server.api("POST", f"sys/auth/{kind}", {"type": kind})
        for kind in ("database", "pki"):
            server.api("POST", f"sys/mounts/{kind}", {"type": kind})
        server.api("POST", "secret/data/keep", {"data": {"k": "v"}})
        yield server


def still_serving(vault: ThreadVault) -> None:
    response = raw(vault, "GET", "/v1/secret/data/keep", headers=ROOT)
    assert response.status == 200, response
    assert response.json["data"]["data"] == {"k": "v"}


# --- rate-limit quotas cannot be poisoned -----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"rate": 1e400}', "error parsing JSON"),
        (b'{"rate": NaN}', "error parsing JSON"),
        (b'{"rate": "1e400"}', 'error converting input 1e400 for field "rate"'),
        (b'{"rate": "NaN"}', 'error converting input NaN for field "rate"'),
        (b'{"rate": "inf"}', 'error converting input inf for field "rate"'),
        (b'{"rate": "lots"}', 'error converting input lots for field "rate"'),
        (
            b'{"rate": 5, "interval": "' + HUGE.encode() + b'"}',
            'for field "interval": time: invalid duration',
        ),
    ],
)
def test_a_bad_quota_rate_is_refused_and_never_poisons_the_server(
    vault: ThreadVault, body: bytes, error: str
) -> None:
    answer = post(vault, "/v1/sys/quotas/rate-limit/q", body)
    assert any(error in text for text in errors_of(answer, 400)), answer
    assert raw(vault, "GET", "/v1/sys/quotas/rate-limit/q", headers=ROOT).status == 404
    raw(vault, "POST", "/v1/secret/data/keep", {"data": {"k": "v"}}, ROOT)
    still_serving(vault)
    assert raw(vault, "DELETE", "/v1/sys/quotas/rate-limit/q", headers=ROOT).status == 204


def test_a_valid_quota_still_limits(vault: ThreadVault) -> None:
    assert post(vault, "/v1/sys/quotas/rate-limit/q", b'{"rate": 2.5, "path": "secret/"}').status == 204
    statuses = [raw(vault, "GET", "/v1/secret/data/x", headers=ROOT).status for _ in range(3)]
    assert statuses == [404, 404, 429]


# --- oversized numbers are 400s naming the field ----------------------------------------------------

DURATION_FIELDS = [
    ("auth/token/create", "ttl"),
    ("auth/token/create", "explicit_max_ttl"),
    ("auth/token/create", "period"),
    ("auth/token/renew-self", "increment"),
    ("sys/mounts/secret/tune", "default_lease_ttl"),
    ("sys/mounts/secret/tune", "max_lease_ttl"),
    ("auth/kubernetes/role/r", "token_ttl"),
    ("auth/kubernetes/role/r", "token_max_ttl"),
    ("auth/jwt/role/r", "token_ttl"),
    ("auth/approle/role/r", "secret_id_ttl"),
    ("auth/approle/role/r", "token_period"),
    ("pki/roles/r", "ttl"),
    ("pki/roles/r", "max_ttl"),
    ("database/roles/r", "default_ttl"),
    ("sys/leases/renew", "increment"),
    ("secret/config", "delete_version_after"),
    ("sys/quotas/rate-limit/q", "block_interval"),
]


@pytest.mark.parametrize(("endpoint", "field"), DURATION_FIELDS)
@pytest.mark.parametrize("value", [HUGE, "1e400", "99999999999999999h", 10**30, 1e300])
def test_an_oversized_duration_is_a_400(
    shared: ThreadVault, endpoint: str, field: str, value: object
) -> None:
    body = {field: value, "rate": 5, "lease_id": "x", "role_type": "jwt", "user_claim": "sub"}
    answer = post(shared, f"/v1/{endpoint}", json.dumps(body).encode())
    assert 400 <= answer.status < 500, (answer, endpoint, field, value)
    assert answer.headers["content-type"] == "application/json"
    still_serving(shared)


@pytest.mark.parametrize("value", [HUGE, "99999999999999999h", "-" + HUGE])
def test_an_oversized_wrap_ttl_header_is_a_400(shared: ThreadVault, value: str) -> None:
    answer = post(shared, "/v1/sys/wrapping/wrap", b'{"a": "b"}', extra=[("X-Vault-Wrap-TTL", value)])
    assert any("wrap TTL" in text for text in errors_of(answer, 400))


def test_an_int64_overflow_is_a_400_naming_the_field(shared: ThreadVault) -> None:
    answer = post(shared, "/v1/auth/token/create", b'{"num_uses": "' + HUGE.encode() + b'"}')
    (error,) = errors_of(answer, 400)
    assert error.startswith(f'error converting input {HUGE} for field "num_uses": strconv.ParseInt')


@pytest.mark.parametrize(
    "body", [b'{"a": 1e400}', b'{"a": ' + HUGE.encode() + b"}", b'{"a": NaN}', b"[Infinity]"]
)
def test_numbers_go_cannot_decode_are_refused_and_never_echoed(shared: ThreadVault, body: bytes) -> None:
    answer = post(shared, "/v1/secret/data/n", b'{"data": ' + body + b"}")
    assert errors_of(answer, 400) == ["error parsing JSON"]
    assert raw(shared, "GET", "/v1/secret/data/n", headers=ROOT).status == 404


def test_deeply_nested_json_is_a_400(shared: ThreadVault) -> None:
    answer = post(shared, "/v1/secret/data/deep", b'{"data": {"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}}")
    assert errors_of(answer, 400) == ["error parsing JSON"]
    still_serving(shared)


# --- framing --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("framing", "body", "error"),
    [
        ([("Content-Length", "-1")], b"{}", 'bad Content-Length "-1"'),
        ([("Content-Length", "-99999999")], b"{}", 'bad Content-Length "-99999999"'),
        ([("Content-Length", "abc")], b"{}", 'bad Content-Length "abc"'),
        ([("Transfer-Encoding", "chunked")], b"-5\r\n{}\r\n0\r\n\r\n", "invalid byte in chunk length"),
        ([("Transfer-Encoding", "chunked")], b"zz\r\n", "invalid byte in chunk length"),
    ],
)
def test_bad_framing_is_a_400_envelope(
    shared: ThreadVault, framing: list[tuple[str, str]], body: bytes, error: str
) -> None:
    (text,) = errors_of(post(shared, "/v1/secret/data/f", body, framing=framing), 400)
    assert error in text
    still_serving(shared)


def test_a_chunked_body_over_the_cap_is_413(shared: ThreadVault) -> None:
    piece = b" " * (4 * 1024 * 1024)
    body = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(9))  # 36 MiB, no final chunk
    answer = post(shared, "/v1/secret/data/big", body, framing=[("Transfer-Encoding", "chunked")])
    assert errors_of(answer, 413) == ["http: request body too large"]


def test_a_chunked_body_within_the_cap_is_read(shared: ThreadVault) -> None:
    document = b'{"data": {"c": "hunk"}}'
    answer = post(
        shared,
        "/v1/secret/data/c",
        chunked(document[:7], document[7:]),
        framing=[("Transfer-Encoding", "chunked")],
    )
    assert answer.status == 200, answer
    assert raw(shared, "GET", "/v1/secret/data/c", headers=ROOT).json["data"]["data"] == {"c": "hunk"}


def test_a_malformed_request_line_is_an_envelope(shared: ThreadVault) -> None:
    (text,) = errors_of(send(shared, b"GET /v1/sys/health HTTP/9\r\n\r\n"), 400)
    assert "Bad request version" in text


# --- sys/health status codes ----------------------------------------------------------------------


@pytest.mark.parametrize("code", ["-5", "0", "99", "1000", HUGE, "2OO", "1e3"])
def test_an_invalid_health_code_is_a_400(shared: ThreadVault, code: str) -> None:
    answer = send(shared, request_bytes("GET", f"/v1/sys/health?activecode={code}", {"Host": "lab"}))
    assert any("activecode" in text for text in errors_of(answer, 400))


@pytest.mark.parametrize("code", [200, 299, 472, 999])
def test_a_valid_health_code_is_used(shared: ThreadVault, code: int) -> None:
    answer = send(shared, request_bytes("GET", f"/v1/sys/health?activecode={code}", {"Host": "lab"}))
    assert answer.status == code
    assert answer.json["initialized"] is True


def test_a_bodiless_health_code_sends_no_body(shared: ThreadVault) -> None:
    answer = send(shared, request_bytes("GET", "/v1/sys/health?activecode=204", {"Host": "lab"}))
    assert (answer.status, answer.body) == (204, b"")


# --- the property: any hostile request ------------------------------------------------------------

ENDPOINTS = sorted({endpoint for endpoint, _ in DURATION_FIELDS} | {"secret/data/p", "sys/policies/acl/p"})
FIELDS = sorted({field for _, field in DURATION_FIELDS} | {"rate", "num_uses", "data", "policy", "interval"})
tokens = st.sampled_from(
    ["1e400", "-1e999", HUGE, "NaN", "Infinity", "-Infinity", "1e-400", "7", "1.5", "-3"]
)
strings = st.sampled_from([HUGE, "1e400", "NaN", "inf", "-5s", "99999999999999999h", "1h", "", "x"])
leaves = st.one_of(tokens.map(number_token), strings, st.integers(), st.booleans(), st.none())
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    fields = draw(st.dictionaries(st.sampled_from(FIELDS), values, max_size=4))
    depth = draw(st.sampled_from([0, 0, 0, 99, 101, 5000]))
    return ("[" * depth + render_json(fields) + "]" * depth).encode()


@st.composite
def framings(draw: st.DrawFn, body: bytes) -> tuple[list[tuple[str, str]], bytes]:
    kind = draw(st.sampled_from(["length", "chunked", "bad-length", "bad-chunk"]))
    if kind == "length":
        return [("Content-Length", str(len(body)))], body
    if kind == "chunked":
        cut = draw(st.integers(0, len(body)))
        return [("Transfer-Encoding", "chunked")], chunked(body[:cut], body[cut:])
    if kind == "bad-length":
        return [
            ("Content-Length", draw(st.sampled_from(["-1", "-4096", "abc", "1e3", "+5", "9" * 30])))
        ], body
    size = draw(st.sampled_from(["-5", "zz", "0x10", "", "1" * 20]))
    return [("Transfer-Encoding", "chunked")], f"{size}\r\n".encode() + body


@st.composite
def hostile_requests(draw: st.DrawFn) -> tuple[str, str, list[tuple[str, str]], bytes]:
    body = draw(bodies())
    framing, payload = draw(framings(body))
    method = draw(st.sampled_from(["POST", "PUT", "PATCH", "FOO"]))
    extra = draw(
        st.sampled_from(
            [[], [("X-Vault-Wrap-TTL", HUGE)], [("X-Vault-Wrap-TTL", "1e400")], [("X-Vault-Wrap-TTL", "30s")]]
        )
    )
    return method, draw(st.sampled_from(ENDPOINTS)), framing + extra, payload


@settings(
    max_examples=examples(80), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(request=hostile_requests())
def test_any_hostile_request_gets_a_4xx_envelope_and_the_server_carries_on(
    shared: ThreadVault, request: tuple[str, str, list[tuple[str, str]], bytes]
) -> None:
    method, endpoint, headers, payload = request
    answer = post(shared, f"/v1/{endpoint}", payload, framing=headers, method=method)
    event(f"answered {answer.status}")
    assert answer.status < 500, (answer, endpoint, headers, payload[:300])
    if answer.status >= 400:
        assert isinstance(answer.json["errors"], list)
    if answer.status == 200:
        json.loads(answer.body)  # whatever is echoed back is valid JSON
    still_serving(shared)
    assert raw(shared, "GET", "/v1/sys/health").status == 200


# --- documents inside fields go through the same bounded decoders ---------------------------------

BOMB = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
    f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)
DEEP = "[" * 5000 + "]" * 5000
DEEP_JWT = ".".join(
    base64.urlsafe_b64encode(part.encode()).decode().rstrip("=") for part in ('{"alg": "RS256"}', DEEP, "sig")
)


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("auth/kubernetes/role/r", {"bound_service_account_namespace_selector": BOMB}),
        ("auth/kubernetes/role/r", {"bound_service_account_namespace_selector": "a: &a [*a]"}),
        ("auth/token/create", {"meta": DEEP}),
        ("sys/policies/acl/p", {"policy": '{"path": ' + DEEP + "}"}),
        ("auth/jwt/login", {"role": "r", "jwt": DEEP_JWT}),
    ],
)
def test_documents_inside_fields_are_bounded_too(
    shared: ThreadVault, endpoint: str, body: dict[str, Any]
) -> None:
    answer = post(shared, f"/v1/{endpoint}", json.dumps(body).encode())
    assert 400 <= answer.status < 500, answer
    assert isinstance(answer.json["errors"], list)
    still_serving(shared)


def test_unpaired_surrogates_become_replacement_characters_as_in_go(shared: ThreadVault) -> None:
    body = b'{"data": {"lone": "\\ud800x", "pair": "\\ud83d\\ude00", "escaped": "\\\\ud800"}}'
    assert post(shared, "/v1/secret/data/s", body).status == 200
    stored = raw(shared, "GET", "/v1/secret/data/s", headers=ROOT).json["data"]["data"]
    assert stored == {"lone": "\ufffdx", "pair": "\U0001f600", "escaped": "\\ud800"}


def test_a_content_length_over_the_cap_is_413(shared: ThreadVault) -> None:
    answer = post(shared, "/v1/secret/data/big", b"", framing=[("Content-Length", str(LIMIT + 1))])
    assert errors_of(answer, 413) == ["http: request body too large"]
    still_serving(shared)
