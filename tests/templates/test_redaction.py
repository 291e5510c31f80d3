"""Template errors never quote secret data: every error path that shows a value, every shape of secret."""

from __future__ import annotations

import json

import pytest

from vaultinject import templates
from vaultinject.templates.gofmt import go_quote
from vaultinject.templates.jsonenc import json_string

from .judge import Case, FakeSource

#: Secrets of every shape a value can take on a line: quoted, non-ASCII, multi-line, escaped.
SHAPES = {
    "quote": 'pa"ss-word-1',
    "non-ascii": "pässwörd-äöü",
    "multi-line": "-----BEGIN KEY-----\nMIIsecretline\n-----END KEY-----",
    "backslash": "back\\slash-secret",
    "plain": "hunter2-plain",
}
NUMBER = 73914682
FLOAT = "7391.4682"


def _source(shape: str) -> FakeSource:
    data = {"pw": shape, "n": NUMBER, "f": 0.0, "list": [shape], "nested": {"k": shape}}
    kv2 = json.dumps({"data": {"data": data, "metadata": {"version": 3}}}).replace(
        '"f": 0.0', f'"f": {FLOAT}'
    )
    auth = json.dumps({"auth": {"client_token": "hvs." + shape, "policies": ["p"]}})
    pki = json.dumps(
        {"data": {"private_key": f"-----BEGIN RSA PRIVATE KEY-----\n{shape}\n-----END RSA PRIVATE KEY-----"}}
    )
    return FakeSource(Case("", secrets={"secret/data/app": kv2, "auth/x": auth, "pki": pki}))


def _kv(body: str) -> str:
    return '{{ with secret "secret/data/app" }}' + body + "{{ end }}"


ERROR_PATHS = {
    "range over a string": _kv("{{ range .Data.data.pw }}{{ end }}"),
    "parseInt": _kv("{{ .Data.data.pw | parseInt }}"),
    "parseBool": _kv("{{ .Data.data.pw | parseBool }}"),
    "parseFloat": _kv("{{ .Data.data.pw | parseFloat }}"),
    "a nested value": _kv("{{ .Data.data.nested.k | parseInt }}"),
    "a list element": _kv("{{ index .Data.data.list 0 | parseInt }}"),
    "a derived value": _kv("{{ .Data.data.pw | toUpper | parseInt }}"),
    "a value inside another": _kv('{{ .Data.data.pw | printf "<%s>" | parseInt }}'),
    "a JSON number's Int64": _kv("{{ .Data.data.f.Int64 }}"),
    "a number index out of range": _kv("{{ index .Data.data.list (.Data.data.n | toJSON | parseInt) }}"),
    "a number slice index": _kv("{{ slice .Data.data.pw (.Data.data.n | toJSON | parseInt) }}"),
    "a k=v pair": _kv('{{ secret "secret/x" .Data.data.pw }}'),
    "parseJSON's invalid character": _kv("{{ .Data.data.pw | parseJSON }}"),
    "non-comparable types": _kv("{{ eq .Data.data .Data.data.list }}"),
    "a non-comparable type": _kv("{{ eq .Data.data .Data.data }}"),
    "range over a number": _kv("{{ range .Data.data.n }}{{ end }}"),
    "a token": '{{ with secret "auth/x" }}{{ .Auth.ClientToken | parseInt }}{{ end }}',
    "a private key": '{{ with pkiCert "pki" }}{{ .Key | parseInt }}{{ end }}',
}


def _forms(secret: str) -> set[str]:
    """Every way a value can appear on a line: raw, Go-quoted, JSON-escaped, each of its lines."""
    forms = {secret, go_quote(secret)[1:-1], json_string(secret)[1:-1], *secret.splitlines()}
    return {form for form in forms if len(form) > 3}


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("path", list(ERROR_PATHS))
def test_errors_never_quote_a_secret(path: str, shape: str) -> None:
    secret = SHAPES[shape]
    with pytest.raises(templates.TemplateExecError) as info:
        templates.parse(ERROR_PATHS[path], name="vault.hashicorp.com/agent-inject-template-app").render(
            _source(secret)
        )
    message = str(info.value)
    for form in _forms(secret) | {str(NUMBER), FLOAT}:
        assert form not in message, (path, message)
    assert "[redacted]" in message, message
    assert message.startswith("vault.hashicorp.com/agent-inject-template-app:")


def test_the_rest_of_the_message_stays_go_s() -> None:
    with pytest.raises(templates.TemplateExecError) as info:
        templates.parse(ERROR_PATHS["parseInt"]).render(_source(SHAPES["plain"]))
    assert (
        info.value.reason
        == 'error calling parseInt: parseInt: strconv.ParseInt: parsing "[redacted]": invalid syntax'
    )


def test_template_literals_are_still_shown_next_to_secrets() -> None:
    with pytest.raises(templates.TemplateExecError) as info:
        templates.parse(_kv('{{ .Data.data.pw }}{{ "12x" | parseInt }}')).render(_source(SHAPES["plain"]))
    assert (
        info.value.reason
        == 'error calling parseInt: parseInt: strconv.ParseInt: parsing "12x": invalid syntax'
    )


def test_without_secrets_values_are_quoted_as_go_does() -> None:
    with pytest.raises(templates.TemplateExecError) as info:
        templates.parse("{{ range . }}{{ end }}").render(data="some data")
    assert info.value.reason == "range can't iterate over some data"
