"""The lab API server survives hostile requests: every answer is a Status (4xx), the connection is never
dropped, nothing grows without bound, and the server keeps serving with its state intact."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.budget import examples
from tests.rawhttp import Answer, chunked, exchange, number_token, render_json, request_bytes
from vaultinject.lab.kube.harness import LabKube

LIMIT = 3 * 1024 * 1024
BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]\n"
        for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
    )
).encode()


def send(kube: LabKube, data: bytes, head: bool = False) -> Answer:
    parts = urlsplit(kube.url)
    return exchange((parts.hostname or "", parts.port or 0), data, context=kube.ssl_context(), head=head)


def post(
    kube: LabKube,
    path: str,
    body: bytes,
    content_type: str = "application/json",
    *,
    framing: list[tuple[str, str]] | None = None,
    method: str = "POST",
) -> Answer:
    headers = [
        ("Host", "lab"),
        ("Authorization", f"Bearer {kube.admin_token}"),
        ("Content-Type", content_type),
    ]
    headers += framing if framing is not None else [("Content-Length", str(len(body)))]
    return send(kube, request_bytes(method, path, headers, body))


def assert_status(answer: Answer, code: int, reason: str) -> dict[str, object]:
    assert answer.status == code, answer
    assert answer.headers["content-type"] == "application/json"
    status = answer.json
    assert (status["kind"], status["status"], status["code"], status.get("reason")) == (
        "Status",
        "Failure",
        code,
        reason,
    ), status
    return dict(status)


@pytest.fixture
def configmaps(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/configmaps"


def still_serving(kube: LabKube, namespace: str) -> None:
    name = f"alive-{uuid.uuid4().hex[:8]}"
    created = kube.call("POST", f"/api/v1/namespaces/{namespace}/configmaps", {"metadata": {"name": name}})
    assert created["metadata"]["name"] == name
    assert kube.call("GET", f"/api/v1/namespaces/{namespace}/configmaps/{name}")["metadata"]["name"] == name


def test_a_yaml_alias_bomb_is_refused_at_once(kube: LabKube, namespace: str, configmaps: str) -> None:
    assert len(BOMB) < 400
    started = time.monotonic()
    answer = post(kube, configmaps, BOMB, "application/yaml")
    assert time.monotonic() - started < 2
    status = assert_status(answer, 400, "BadRequest")
    assert "document contains excessive aliasing" in str(status["message"])
    still_serving(kube, namespace)


def test_the_bomb_is_refused_in_a_server_side_apply_too(kube: LabKube, configmaps: str) -> None:
    answer = post(
        kube, f"{configmaps}/c?fieldManager=t", BOMB, "application/apply-patch+yaml", method="PATCH"
    )
    assert "document contains excessive aliasing" in str(assert_status(answer, 400, "BadRequest")["message"])


def test_ordinary_aliases_still_work(kube: LabKube, configmaps: str) -> None:
    document = b"metadata: &m {name: aliased, labels: {a: b}}\ndata: {x: '1'}\nbinaryData: {}\n"
    answer = post(kube, configmaps, document, "application/yaml")
    assert answer.status == 201, answer
    assert answer.json["metadata"]["labels"] == {"a": "b"}


@pytest.mark.parametrize("document", [b"metadata: &a {name: *a}\n", b"data: &a [*a]\n"])
def test_a_cyclic_alias_is_a_bad_request(kube: LabKube, configmaps: str, document: bytes) -> None:
    status = assert_status(post(kube, configmaps, document, "application/yaml"), 400, "BadRequest")
    assert "anchor 'a' value contains itself" in str(status["message"])


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"[" * 100_000 + b"]" * 100_000, "application/json"), (b"[" * 5000 + b"]" * 5000, "application/yaml")],
)
def test_deep_nesting_is_a_bad_request(
    kube: LabKube, configmaps: str, body: bytes, content_type: str
) -> None:
    status = assert_status(post(kube, configmaps, body, content_type), 400, "BadRequest")
    assert "exceeded max depth of 100" in str(status["message"])


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (b"1e400", "json: cannot unmarshal number 1e400 into Go value of type float64"),
        (b"-1e400", "json: cannot unmarshal number -1e400 into Go value of type float64"),
        (b"1" + b"0" * 400, "into Go value of type float64"),
        (b"NaN", "invalid character 'N' looking for beginning of value"),
        (b"Infinity", "invalid character 'I' looking for beginning of value"),
        (b"-Infinity", "invalid character 'I' in numeric literal"),
    ],
)
def test_numbers_go_cannot_read_are_bad_requests(
    kube: LabKube, configmaps: str, value: bytes, error: str
) -> None:
    body = b'{"metadata": {"name": "n", "x": ' + value + b"}}"
    assert error in str(assert_status(post(kube, configmaps, body), 400, "BadRequest")["message"])


def test_a_chunked_body_over_the_limit_is_413(kube: LabKube, configmaps: str) -> None:
    piece = b" " * (1024 * 1024)
    body = chunked(*[piece] * 4)[: 4 * (len(piece) + 12)]  # no final chunk: the server must stop first
    answer = post(kube, configmaps, body, framing=[("Transfer-Encoding", "chunked")])
    status = assert_status(answer, 413, "RequestEntityTooLarge")
    assert status["message"] == f"Request entity too large: limit is {LIMIT}"


def test_a_content_length_over_the_limit_is_413(kube: LabKube, configmaps: str) -> None:
    answer = post(kube, configmaps, b"", framing=[("Content-Length", str(LIMIT + 1))])
    assert_status(answer, 413, "RequestEntityTooLarge")


def test_a_chunked_body_within_the_limit_is_read(kube: LabKube, configmaps: str) -> None:
    document = json.dumps({"metadata": {"name": "chunky"}}).encode()
    answer = post(
        kube, configmaps, chunked(document[:5], document[5:]), framing=[("Transfer-Encoding", "chunked")]
    )
    assert answer.status == 201, answer


@pytest.mark.parametrize(
    ("framing", "body", "error"),
    [
        ([("Content-Length", "-1")], b"{}", 'bad Content-Length "-1"'),
        ([("Content-Length", "abc")], b"{}", 'bad Content-Length "abc"'),
        ([("Content-Length", "0x10")], b"{}", 'bad Content-Length "0x10"'),
        ([("Content-Length", "2"), ("Content-Length", "3")], b"{}", "multiple Content-Length headers"),
        ([("Transfer-Encoding", "chunked")], b"-5\r\n{}\r\n0\r\n\r\n", "invalid byte in chunk length"),
        ([("Transfer-Encoding", "chunked")], b"zz\r\n{}\r\n0\r\n\r\n", "invalid byte in chunk length"),
        ([("Transfer-Encoding", "chunked")], b"1" * 17 + b"\r\n", "http chunk length too large"),
        ([("Transfer-Encoding", "chunked")], b"2\r\n{}}}\r\n0\r\n\r\n", "malformed chunked encoding"),
        ([("Transfer-Encoding", "gzip")], b"{}", "unsupported transfer encoding"),
    ],
)
def test_bad_framing_is_a_bad_request_status(
    kube: LabKube, configmaps: str, framing: list[tuple[str, str]], body: bytes, error: str
) -> None:
    status = assert_status(post(kube, configmaps, body, framing=framing), 400, "BadRequest")
    assert error in str(status["message"])


@pytest.mark.parametrize("method", ["FOO", "OPTIONS", "TRACE", "CONNECT"])
def test_an_unknown_method_is_the_api_servers_405(kube: LabKube, configmaps: str, method: str) -> None:
    answer = post(kube, configmaps, b"", method=method)
    assert answer.status == 405
    assert answer.headers["content-type"] == "application/json"
    assert answer.json == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server does not allow this method on the requested resource",
        "reason": "MethodNotAllowed",
        "details": {"causes": [{"reason": "UnexpectedServerResponse", "message": "405: Method Not Allowed"}]},
        "code": 405,
    }


def test_a_malformed_request_line_is_a_status(kube: LabKube) -> None:
    status = assert_status(send(kube, b"GET /api HTTP/1.1 extra\r\n\r\n"), 400, "BadRequest")
    assert "Bad request" in str(status["message"])


# --- the property: any hostile request ------------------------------------------------------------

numbers = st.sampled_from(["1e400", "-1e999", "1" + "0" * 400, "NaN", "Infinity", "-Infinity", "1e-400", "7"])
leaves = st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.none(), numbers.map(number_token))
documents = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
)


@st.composite
def json_bodies(draw: st.DrawFn) -> bytes:
    depth = draw(st.sampled_from([0, 0, 50, 101, 3000]))
    inner = render_json({"metadata": {"name": draw(st.sampled_from(["p", "q"]))}, "data": draw(documents)})
    return ("[" * depth + inner + "]" * depth).encode()


@st.composite
def yaml_bodies(draw: st.DrawFn) -> bytes:
    """Alias trees of random height and fan-out (bombs among them), cycles, deep flow nesting."""
    levels, fan = draw(st.integers(1, 9)), draw(st.integers(1, 12))
    lines = ["l0: &l0 [lol, lol]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fan)}]" for i in range(1, levels)]
    if draw(st.booleans()):
        lines.append(f"cycle: &c [*c, *l{levels - 1}]")
    depth = draw(st.sampled_from([0, 20, 101, 2000]))
    lines.append("deep: " + "[" * depth + "x" + "]" * depth)
    lines.append(
        f"data: {draw(st.sampled_from(['{a: b}', '{a: .inf}', '{a: 2001-12-14}', '!!binary aGk=']))}"
    )
    lines.append("metadata: {name: y}")
    return "\n".join(lines).encode()


@st.composite
def framings(draw: st.DrawFn, body: bytes) -> tuple[list[tuple[str, str]], bytes]:
    kind = draw(st.sampled_from(["length", "chunked", "bad-length", "bad-chunk"]))
    if kind == "length":
        return [("Content-Length", str(len(body)))], body
    if kind == "chunked":
        cut = draw(st.integers(0, len(body)))
        return [("Transfer-Encoding", "chunked")], chunked(body[:cut], body[cut:])
    if kind == "bad-length":
        value = draw(st.sampled_from(["-1", "-99999", "abc", " ", "1e3", "+5", "99999999999999999999999"]))
        return [("Content-Length", value)], body
    size = draw(st.sampled_from(["-5", "zz", "0x10", "", "1" * 20, "ffffffff"]))
    return [("Transfer-Encoding", "chunked")], f"{size}\r\n".encode() + body


@st.composite
def hostile_requests(draw: st.DrawFn) -> tuple[str, str, list[tuple[str, str]], bytes]:
    content_type = draw(st.sampled_from(["application/json", "application/yaml"]))
    body = draw(json_bodies() if content_type == "application/json" else yaml_bodies())
    method = draw(st.sampled_from(["POST", "POST", "PUT", "PATCH", "FOO"]))
    framing, payload = draw(framings(body))
    return method, content_type, framing, payload


@pytest.fixture(scope="module")
def hostile_namespace(kube: LabKube) -> str:
    name = f"h-{uuid.uuid4().hex[:8]}"
    kube.ensure_namespace(name)
    kube.call(
        "POST", f"/api/v1/namespaces/{name}/configmaps", {"metadata": {"name": "keep"}, "data": {"k": "v"}}
    )
    return name


@settings(
    max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(request=hostile_requests())
def test_any_hostile_request_gets_a_4xx_status_and_the_server_carries_on(
    kube: LabKube, hostile_namespace: str, request: tuple[str, str, list[tuple[str, str]], bytes]
) -> None:
    method, content_type, framing, payload = request
    path = f"/api/v1/namespaces/{hostile_namespace}/configmaps"
    if method in {"PUT", "PATCH"}:
        path += "/p"
        content_type = "application/merge-patch+json" if method == "PATCH" else content_type
    answer = post(kube, path, payload, content_type, framing=framing, method=method)
    event(f"answered {answer.status}")
    assert answer.status < 500, (answer, payload[:200])
    if answer.status >= 400:
        assert answer.json["kind"] == "Status"
    kept = kube.call("GET", f"/api/v1/namespaces/{hostile_namespace}/configmaps/keep")
    assert kept["data"] == {"k": "v"}


def test_yaml_values_become_json_values_as_in_sigs_yaml(kube: LabKube, configmaps: str) -> None:
    document = b"metadata: {name: typed}\ndata: {day: 2001-12-14, stamp: 2001-12-14t21:59:43.10-05:00}\n"
    answer = post(kube, configmaps, document, "application/yaml")
    assert answer.status == 201, answer
    assert answer.json["data"] == {"day": "2001-12-14", "stamp": "2001-12-14t21:59:43.10-05:00"}


@pytest.mark.parametrize(("value", "shown"), [(".inf", "+Inf"), ("-.Inf", "-Inf"), (".nan", "NaN")])
def test_yaml_values_json_cannot_carry_are_bad_requests(
    kube: LabKube, configmaps: str, value: str, shown: str
) -> None:
    document = f"metadata: {{name: inf}}\ndata: {{x: {value}}}\n".encode()
    status = assert_status(post(kube, configmaps, document, "application/yaml"), 400, "BadRequest")
    assert f"json: unsupported value: {shown}" in str(status["message"])
