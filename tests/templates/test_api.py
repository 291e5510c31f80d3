"""The public API: parse/render, errors with locations, the Secret model, limits and sandboxing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping

import pytest

from vaultinject import templates
from vaultinject.templates import template as template_module
from vaultinject.templates.budget import Budget
from vaultinject.templates.values import JSONNumber, NilMap, StrList

from .judge import Case, FakeSource

ANNOTATION = "vault.hashicorp.com/agent-inject-template-db"


def source(**secrets: str) -> FakeSource:
    return FakeSource(Case("", secrets={k.replace("_", "/"): v for k, v in secrets.items()}))


def test_parse_error_names_the_annotation_line_and_column() -> None:
    with pytest.raises(templates.TemplateSyntaxError) as info:
        templates.parse("line one\n{{ if .x }}\n  {{ .y | 1 }}\n{{ end }}", name=ANNOTATION)
    error = info.value
    assert (error.name, error.line, error.column) == (ANNOTATION, 3, 12)
    assert error.message == "non executable command in pipeline stage 2"
    assert str(error) == f"{ANNOTATION}:3:12: non executable command in pipeline stage 2"


def test_unclosed_action_reports_where_it_started() -> None:
    with pytest.raises(templates.TemplateSyntaxError) as info:
        templates.parse("{{ with secret\n\n", name=ANNOTATION)
    assert info.value.message == f"unclosed action started at {ANNOTATION}:1"


def test_exec_error_is_located_and_subclassed_for_missing_keys() -> None:
    tpl = templates.parse("ok\n{{ index 1 2 }}", name=ANNOTATION)
    with pytest.raises(templates.TemplateExecError) as info:
        tpl.render(source())
    assert not isinstance(info.value, templates.MissingKeyError)
    assert (info.value.line, info.value.column) == (2, 3)
    assert info.value.reason == "error calling index: can't index item of type int"
    with pytest.raises(templates.MissingKeyError):
        templates.parse("{{ .a }}", name=ANNOTATION).render(source(), error_on_missing_key=True, data={})


def test_missing_key_renders_no_value_unless_error_on_missing_key() -> None:
    tpl = templates.parse('{{ with secret "kv" }}[{{ .Data.absent }}]{{ end }}')
    src = source(kv='{"data":{"present":1}}')
    assert tpl.render(src) == "[<no value>]"
    with pytest.raises(templates.MissingKeyError) as info:
        tpl.render(src, error_on_missing_key=True)
    assert info.value.reason == 'map has no entry for key "absent"'


def test_parse_once_render_many_with_different_sources() -> None:
    tpl = templates.parse('{{ with secret "kv" }}{{ .Data.v }}{{ end }}')
    assert tpl.render(source(kv='{"data":{"v":"one"}}')) == "one"
    assert tpl.render(source(kv='{"data":{"v":"two"}}')) == "two"
    assert tpl.render(source()) == ""


def test_parsing_the_same_annotation_again_reuses_the_immutable_template() -> None:
    first = templates.parse("{{ 1 }}", name=ANNOTATION)
    assert templates.parse("{{ 1 }}", name=ANNOTATION) is first
    assert templates.parse("{{ 1 }}", name="other") is not first
    assert templates.parse("[[ 1 ]]", name=ANNOTATION, left_delim="[[", right_delim="]]").render() == "1"


def test_reads_and_writes_reach_the_source_with_their_parameters() -> None:
    src = source(kv='{"data":{"v":1}}', pki_issue_x='{"data":{"certificate":"C"}}')
    text = '{{ secret "kv" }}{{ secret "pki/issue/x" " common_name = a.b " "ttl=1h" "" }}{{ secrets "kv" }}'
    templates.parse(text).render(src)
    assert src.calls == [
        ("secret", "kv", None),
        ("secret", "pki/issue/x", {"common_name": "a.b", "ttl": "1h"}),
        ("secrets", "kv", None),
    ]


def test_a_write_with_only_empty_arguments_is_still_a_write() -> None:
    src = source(kv="{}")
    templates.parse('{{ secret "kv" "" }}').render(src)
    assert src.calls == [("secret", "kv", {})]


def test_source_exceptions_propagate_unchanged() -> None:
    class Boom(Exception):
        pass

    class Failing(FakeSource):
        def secret(self, path: str, params: Mapping[str, str] | None) -> templates.Secret | None:  # noqa: ARG002
            raise Boom(path)

    with pytest.raises(Boom):
        templates.parse('{{ secret "x" }}').render(Failing(Case("")))


def test_render_without_a_source_fails_cleanly() -> None:
    with pytest.raises(templates.TemplateExecError) as info:
        templates.parse('{{ secret "x" }}').render()
    assert info.value.reason == "error calling secret: no secret source given to render"
    assert templates.parse("static {{ 1 }}").render() == "static 1"


def test_secret_from_json_keeps_number_text_and_vault_fields() -> None:
    secret = templates.Secret.from_json(
        '{"request_id":"r","lease_id":"l","lease_duration":30,"renewable":true,'
        '"data":{"a":1.50,"b":1e3,"c":[1]},"warnings":["w"],"auth":{"client_token":"t","policies":["p"]}}'
    )
    assert secret is not None
    assert secret.Data == {"a": "1.50", "b": "1e3", "c": ["1"]}
    assert type(secret.Data["a"]) is JSONNumber
    assert (secret.RequestID, secret.LeaseID, secret.LeaseDuration, secret.Renewable) == ("r", "l", 30, True)
    assert secret.Warnings == StrList(["w"])
    assert isinstance(secret.Auth, templates.SecretAuth)
    assert secret.Auth.ClientToken == "t"
    with pytest.raises(AttributeError):
        secret.LeaseID = "x"
    assert templates.Secret.from_json("") is None


def test_secret_from_response_converts_python_numbers_to_json_numbers() -> None:
    secret = templates.Secret.from_response({"data": {"i": 5, "f": 0.1, "big": 1e21, "t": True}})
    assert secret is not None
    assert secret.Data == {"i": "5", "f": "0.1", "big": "1e+21", "t": True}
    assert isinstance(secret.Data["i"], JSONNumber)
    assert isinstance(secret.Data["t"], bool)


def test_response_without_standard_fields_becomes_the_data() -> None:
    secret = templates.Secret.from_response({"keys": ["a"]})
    assert secret is not None
    assert secret.Data == {"keys": ["a"]}
    empty = templates.Secret.from_response({"data": {}})
    assert empty is not None
    assert isinstance(empty.Data, NilMap)


@pytest.mark.parametrize(
    ("function", "why"),
    [
        ("plugin", "templates cannot run programs"),
        ("file", "templates cannot read files"),
        ("writeToFile", "templates cannot write files"),
    ],
)
def test_functions_reaching_files_or_programs_are_refused_at_parse_time(function: str, why: str) -> None:
    with pytest.raises(templates.TemplateSyntaxError) as info:
        templates.parse(
            f'x\n{{{{ if false }}}}{{{{ {function} "/etc/passwd" }}}}{{{{ end }}}}', name=ANNOTATION
        )
    assert info.value.message == f'function "{function}" is refused: {why}'
    assert info.value.line == 2


def test_consul_only_functions_are_reported_as_unsupported() -> None:
    with pytest.raises(templates.TemplateSyntaxError) as info:
        templates.parse('{{ key "service/redis" }}')
    assert info.value.message == 'function "key" is not supported by vaultinject'
    with pytest.raises(templates.TemplateSyntaxError) as unknown:
        templates.parse("{{ nosuch 1 }}")
    assert unknown.value.message == 'function "nosuch" not defined'


@pytest.mark.parametrize(
    "text",
    [
        '{{ (secret "kv").__class__ }}',
        '{{ (secret "kv").__dict__ }}',
        '{{ (secret "kv").from_json }}',
        '{{ (secret "kv").go_field }}',
        '{{ $s := "x" }}{{ $s.upper }}',
        '{{ (pkiCert "kv").method_Data }}',
    ],
)
def test_templates_cannot_reach_python_attributes(text: str) -> None:
    with pytest.raises(templates.TemplateExecError) as info:
        templates.parse(text).render(source(kv='{"data":{"a":1}}'))
    assert "can't evaluate field" in info.value.reason


def test_python_attribute_names_on_data_are_just_missing_map_keys() -> None:
    tpl = templates.parse(
        '{{ with secret "kv" }}{{ .Data.__class__ }}|{{ .Data.keys }}|{{ .Data.items }}{{ end }}'
    )
    assert tpl.render(source(kv='{"data":{"a":1}}')) == "<no value>|<no value>|<no value>"


def test_recursive_templates_stop_at_the_depth_limit() -> None:
    tpl = templates.parse('{{ define "r" }}x{{ template "r" }}{{ end }}{{ template "r" }}')
    with pytest.raises(templates.TemplateExecError) as info:
        tpl.render()
    assert info.value.reason == f"exceeded maximum template depth ({template_module.MAX_TEMPLATE_DEPTH})"


def test_output_is_capped() -> None:
    tpl = templates.parse('{{ range split "," (printf "%09999d" 0 | replaceAll "0" "a,") }}xxxx{{ end }}')
    with pytest.raises(templates.TemplateExecError) as info:
        tpl.render(max_output=10_000)
    assert info.value.reason == "output exceeds 10000 characters"


def test_range_iterations_are_steps_of_the_budget() -> None:
    tpl = templates.parse('{{ range split "," (printf "%01999d" 0 | replaceAll "0" "a,") }}{{ end }}')
    with pytest.raises(templates.TemplateExecError) as info:
        tpl.render(budget=Budget(max_steps=1000))
    assert info.value.reason == "template evaluation exceeds 1000 steps"


def test_pathological_nesting_is_a_syntax_error_not_a_crash() -> None:
    with pytest.raises(templates.TemplateSyntaxError) as info:
        templates.parse("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}")
    assert info.value.message == "template nesting too deep"


def test_else_with_is_gated() -> None:
    text = "{{ with .a }}A{{ else with .b }}B{{ . }}{{ else }}C{{ end }}"
    assert templates.parse(text).render(data={"b": 2}) == "B2"
    assert templates.parse(text).render(data={}) == "C"
    with pytest.raises(templates.TemplateSyntaxError) as info:
        templates.parse(text, allow_else_with=False)
    assert info.value.message == "unexpected <with> in else"


def test_invalid_missing_key_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="missing_key"):
        templates.parse("x").render(missing_key="loud")


def test_importing_the_package_loads_only_the_standard_library_and_stays_small() -> None:
    code = (
        "import sys; before = set(sys.modules); import vaultinject.templates; "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    foreign = [m for m in loaded if not m.startswith("vaultinject")]
    # Not even typing, re, json or hashlib: they cost milliseconds and load lazily when used.
    assert set(foreign) <= {"__future__", "math"}, foreign


def test_secret_source_protocol_is_available_lazily() -> None:
    assert templates.SecretSource.__name__ == "SecretSource"


def _pem(kind: str, body: str) -> str:
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----"


def test_pki_cert_sorts_pem_blocks_as_consul_template() -> None:
    leaf, ca, inter, key = (
        _pem("CERTIFICATE", "LEAF"),
        _pem("CERTIFICATE", "CA"),
        _pem("CERTIFICATE", "INTER"),
        _pem("EC PRIVATE KEY", "KEY"),
    )
    bundle = {"certificate": "\n".join([key, leaf, inter, ca]), "issuing_ca": inter, "ca_chain": ["ignored"]}
    pems = templates.PemEncoded.from_secret(templates.Secret(Data=bundle))
    assert (pems.Cert, pems.Key, pems.CA) == (leaf + "\n", key + "\n", inter + "\n")
    assert pems.CAChain == [inter + "\n", ca + "\n"]
    empty = templates.PemEncoded.from_secret(templates.Secret(Data={"ca_chain": [ca]}))
    assert (empty.Cert, empty.CA, list(empty.CAChain)) == ("", "", [])
    text = '{{ with pkiCert "pki" }}{{ len .CAChain }}|{{ .CA }}{{ end }}'
    assert templates.parse(text).render(source(pki=json.dumps({"data": bundle}))) == "2|" + inter + "\n"
