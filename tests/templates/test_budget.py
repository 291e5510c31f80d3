"""Every render is bounded by one budget: the attacks of issue 8 fail fast, with a located error."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from vaultinject import templates
from vaultinject.templates.budget import MAX_CALLS, MAX_STEPS, MAX_VALUE_BYTES, Budget
from vaultinject.templates.functions import ALL_FUNCS

from .judge import Case, GoJudge, render_ours

ANNOTATION = "vault.hashicorp.com/agent-inject-template-app"
#: Far above what a bounded render takes (about a second at most), far below the old hangs.
SECONDS = 3.0
#: The agent runs in 64Mi; a render must stay well inside it.
PEAK_BYTES = 40 * 1024 * 1024


def _doubling_define(depth: int) -> str:
    """A define that calls itself twice per level, ``depth`` levels deep (2**depth calls)."""
    return (
        '{{ define "r" }}{{ if . }}{{ template "r" (slice . 1) }}{{ template "r" (slice . 1) }}'
        '{{ end }}{{ end }}{{ template "r" "' + "a" * depth + '" }}'
    )


def _define_tree(levels: int) -> str:
    """``levels`` defines, each calling the next twice."""
    defines = [
        f'{{{{ define "t{i}" }}}}{{{{ template "t{i + 1}" }}}}{{{{ template "t{i + 1}" }}}}{{{{ end }}}}'
        for i in range(levels - 1)
    ]
    return "".join(defines) + f'{{{{ define "t{levels - 1}" }}}}x{{{{ end }}}}{{{{ template "t0" }}}}'


_THOUSAND = 'split "," (printf "%0999d" 0 | replaceAll "0" "a,")'

ATTACKS = {
    "doubling define, depth 20": (_doubling_define(20), f"exceeds {MAX_CALLS} calls"),
    "doubling define, depth 60": (_doubling_define(60), f"exceeds {MAX_CALLS} calls"),
    "a 64-level tree of defines": (_define_tree(64), f"exceeds {MAX_CALLS} calls"),
    "1,000 indent | toJSON | toJSON": (
        f'{{{{ range {_THOUSAND} }}}}{{{{ $x := indent 1000000 "x" | toJSON | toJSON }}}}{{{{ end }}}}',
        "builds more data than its budget allows",
    ),
    "seven chained replaceAll": (
        '{{ "a"' + ' | replaceAll "a" "aaaaaaaaaa"' * 7 + " }}",
        f"a value of 10000000 bytes exceeds the limit of {MAX_VALUE_BYTES} bytes",
    ),
    "nine chained replaceAll": (
        '{{ "a"' + ' | replaceAll "a" "aaaaaaaaaa"' * 9 + " }}",
        f"a value of 10000000 bytes exceeds the limit of {MAX_VALUE_BYTES} bytes",
    ),
    "indent 100000000": (
        '{{ indent 100000000 "x" }}',
        f"a value of 100000000 bytes exceeds the limit of {MAX_VALUE_BYTES} bytes",
    ),
    "a billion range iterations": (
        f"{{{{ $l := {_THOUSAND} }}}}{{{{ range $l }}}}{{{{ range $l }}}}{{{{ range $l }}}}"
        "{{ end }}{{ end }}{{ end }}",
        f"exceeds {MAX_STEPS} steps",
    ),
    "a million wide printf verbs": ('{{ printf "' + "%1000000d" * 100 + '" 1 }}', "exceeds the limit"),
    "one value printed many times": (
        '{{ $x := indent 3000000 "x" }}{{ print' + " $x" * 100 + " }}",
        "exceeds its 1000 ms of work",
    ),
    "a huge join separator": (
        '{{ $x := indent 1000000 "x" }}{{ join $x (' + _THOUSAND + ") }}",
        "exceeds the limit",
    ),
    "a split into millions of pieces": (
        '{{ ","' + ' | replaceAll "," ",,,,,,,,,,"' * 6 + ' | split "," | len }}',
        "a value of 65000064 bytes exceeds the limit",
    ),
    "a parseJSON of millions of values": (
        '{{ "<x>"' + ' | replaceAll "x" "xxxxxxxxxx"' * 6 + ' | replaceAll "x" "[],"'
        ' | replaceAll "<" "[" | replaceAll ">" "[]]" | parseJSON | len }}',
        "exceeds the limit",
    ),
    "base64Decode of megabytes": (
        '{{ indent 2000000 "x" | base64Encode | base64Decode | len }}',
        "exceeds its 1000 ms of work",
    ),
    "urlquery of megabytes": ('{{ indent 2000000 "x" | urlquery | len }}', "exceeds its 1000 ms of work"),
    "a slow function called in a loop": (
        '{{ $x := indent 100000 "ä" }}{{ range ' + _THOUSAND + " }}{{ $y := toTitle $x }}{{ end }}",
        "exceeds its 1000 ms of work",
    ),
}


def _render_measured(text: str) -> tuple[templates.TemplateExecError, float]:
    template = templates.parse(text, name=ANNOTATION)
    start = time.perf_counter()
    with pytest.raises(templates.TemplateExecError) as info:
        template.render()
    return info.value, time.perf_counter() - start


@pytest.mark.parametrize("name", list(ATTACKS))
def test_an_unbounded_template_fails_fast_naming_the_annotation(name: str) -> None:
    text, reason = ATTACKS[name]
    error, elapsed = _render_measured(text)
    assert elapsed < SECONDS, f"{name}: {elapsed:.2f}s"
    assert reason in error.reason
    assert error.name == ANNOTATION
    assert str(error).startswith(ANNOTATION + ":")


#: The attacks that grow data (the others only spend time, and tracemalloc slows them tenfold).
GROWING = [name for name, (_, reason) in ATTACKS.items() if "calls" not in reason and "steps" not in reason]


@pytest.mark.parametrize("name", GROWING)
def test_an_unbounded_template_stays_within_the_agent_memory(name: str) -> None:
    template = templates.parse(ATTACKS[name][0], name=ANNOTATION)
    tracemalloc.start()
    try:
        with pytest.raises(templates.TemplateExecError):
            template.render()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < PEAK_BYTES, f"{name}: {peak} bytes"


def test_running_out_of_memory_anyway_is_a_template_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def exhausted(_text: str) -> str:
        raise MemoryError

    monkeypatch.setattr(ALL_FUNCS["toUpper"], "impl", exhausted)
    with pytest.raises(templates.TemplateExecError) as info:
        templates.parse('{{ "a" | toUpper }}', name=ANNOTATION).render()
    assert info.value.reason == "template evaluation ran out of memory"
    assert info.value.name == ANNOTATION


def test_each_budget_can_be_set_and_is_spent_by_its_own_kind_of_work() -> None:
    calls = '{{ range split "," "a,b,c,d" }}{{ len . }}{{ end }}'
    assert templates.parse(calls).render(budget=Budget(max_calls=5)) == "1111"
    with pytest.raises(templates.TemplateExecError, match="exceeds 4 calls"):
        templates.parse(calls).render(budget=Budget(max_calls=4))
    defines = '{{ define "d" }}x{{ end }}{{ template "d" }}{{ template "d" }}'
    with pytest.raises(templates.TemplateExecError, match="exceeds 1 calls"):
        templates.parse(defines).render(budget=Budget(max_calls=1))
    with pytest.raises(templates.TemplateExecError, match="bytes exceeds the limit of 10 bytes"):
        templates.parse('{{ "hello" | printf "%s %s" "world" }}').render(budget=Budget(max_value=10))
    with pytest.raises(templates.TemplateExecError, match="builds more data"):
        templates.parse('{{ "hello" | toUpper | toLower }}').render(budget=Budget(max_built=9))


@pytest.mark.parametrize(
    "text",
    [
        # A 1 MiB certificate bundle, indented and JSON-encoded a few times.
        '{{ $pem := printf "%01000000d" 0 }}{{ $pem | indent 4 | len }} {{ $pem | toJSON | toJSON | len }}',
        # Ten thousand entries, each formatted.
        '{{ range $i, $v := split "," (printf "%09999d" 0 | replaceAll "0" "ab,") }}{{ printf "%s=%d;" $v $i }}{{ end }}',
        # A define called for each of a thousand items.
        '{{ define "row" }}<{{ . | toUpper }}>{{ end }}{{ range '
        + _THOUSAND
        + ' }}{{ template "row" . }}{{ end }}',
    ],
)
def test_large_but_reasonable_templates_still_render(text: str) -> None:
    start = time.perf_counter()
    output = templates.parse(text).render()
    assert output
    assert time.perf_counter() - start < SECONDS


def _else_if_chain(length: int) -> str:
    links = "".join(f"{{{{ else if eq . {i} }}}}n{i}" for i in range(1, length))
    return "{{ if eq . 0 }}zero" + links + "{{ else }}other{{ end }}"


def test_a_long_else_if_chain_is_not_nesting() -> None:
    template = templates.parse(_else_if_chain(400))
    assert [template.render(data=n) for n in (0, 7, 399, 400)] == ["zero", "n7", "n399", "other"]
    with_chain = (
        "{{ with .a }}a" + "".join(f"{{{{ else with .k{i} }}}}{{{{ . }}}}" for i in range(400)) + "{{ end }}"
    )
    assert templates.parse(with_chain).render(data={"k399": "last"}) == "last"


def test_real_nesting_is_still_capped() -> None:
    with pytest.raises(templates.TemplateSyntaxError, match="template nesting too deep"):
        templates.parse("{{ if 1 }}" * 400 + "{{ end }}" * 400)


@pytest.mark.parametrize(
    ("template", "data"),
    [
        (_else_if_chain(400), 399),
        (_else_if_chain(400), 1000),
        (
            "{{ if $x := 0 }}a{{ else if $y := .b }}{{ $x }}{{ $y }}{{ else }}{{ $x }}-{{ $y }}{{ end }}",
            {"b": 0},
        ),
        ("{{ if $x := 0 }}a{{ else if $y := .b }}{{ $x }}{{ $y }}{{ end }}{{ $x }}", {"b": 2}),
        (
            "{{ range . }}{{ if eq . 1 }}one{{ else if eq . 2 }}{{ break }}{{ else }}{{ . }}{{ end }}{{ end }}",
            [3, 1, 2, 4],
        ),
    ],
)
def test_else_if_chains_render_like_go(go_judge: GoJudge, template: str, data: object) -> None:
    case = Case(template, data)
    expected = go_judge.render(case)
    actual = render_ours(case)
    assert (actual.ok, actual.out, actual.err) == (expected.ok, expected.out, expected.err)
