"""Property: any template over secret data renders or raises the engine's error, within budget, never leaking.

Generated templates (actions, pipelines, function calls, range, with, if, defines calling each other
and themselves, functions that grow data) run over generated secret data. Each render either returns
or raises :class:`TemplateError`, never another exception; it stays within its budget's time; and no
error message shows a secret value in any of the forms a line can carry it.
"""

from __future__ import annotations

import json
import time

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from tests.budget import examples
from vaultinject import templates
from vaultinject.templates.budget import Budget
from vaultinject.templates.gofmt import go_quote
from vaultinject.templates.jsonenc import json_string

from .judge import Case, FakeSource
from .test_differential_generated import bodies

#: Secrets start with a marker no template text holds, and carry every character that gets escaped.
SECRET_ALPHABET = "abcXYZ09 \"\\\n\t'<>&=äß日\u2028"
secret_texts = st.text(alphabet=SECRET_ALPHABET, min_size=5, max_size=12).map(lambda text: "Zq7" + text)
secret_numbers = st.integers(min_value=10**7, max_value=10**12)
secret_values = st.recursive(
    st.one_of(secret_texts, secret_numbers),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.sampled_from("abcx"), children, max_size=3)
    ),
    max_leaves=6,
)
secret_data = st.dictionaries(
    st.sampled_from(["a", "b", "c", "x", "Data", "data"]), secret_values, max_size=5
)

GROWERS = [
    "",
    '{{ $g := indent 100000 "x" }}',
    '{{ $g := "a"' + ' | replaceAll "a" "aaaaaaaaaa"' * 7 + " }}",
    '{{ $g := indent 100000 "x" | toJSON | toJSON | toJSON }}',
    '{{ range $i := split "," (printf "%0999d" 0 | replaceAll "0" "a,") }}{{ indent 1000 . }}{{ end }}',
    '{{ $g := printf "%1000000d" 1 }}',
]
CALLS = ["", '{{ template "d" . }}', '{{ template "d" . }}{{ template "d" . }}']

#: A small budget keeps each example fast; the default one is exercised by test_budget.py.
BUDGET = {"max_steps": 5_000, "max_calls": 500, "max_value": 128 * 1024, "max_built": 512 * 1024}
SECONDS = 2.0


#: The variables the generated bodies use, declared so that most templates parse.
DECLARE = "{{ $i := 0 }}{{ $v := . }}{{ $x := .a }}"


@st.composite
def bounded_templates(draw: st.DrawFn) -> str:
    define = '{{ define "d" }}' + DECLARE + draw(bodies(1)) + draw(st.sampled_from(CALLS)) + "{{ end }}"
    main = DECLARE + draw(bodies(2)) + draw(st.sampled_from(GROWERS)) + draw(st.sampled_from(CALLS))
    text = define + '{{ with secret "secret/data/app" }}{{ with .Data.data }}' + main + "{{ end }}{{ end }}"
    return text.replace("{{-", "{{- ").replace("-}}", " -}}")  # Trim markers need their space.


def _leaves(value: object) -> list[str]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [str(value)]


def _forms(secret: str) -> set[str]:
    forms = {secret, go_quote(secret)[1:-1], json_string(secret)[1:-1], *secret.splitlines()}
    return {form for form in forms if len(form) > 3}


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=bounded_templates(), data=secret_data)
def test_templates_over_secrets_render_or_fail_cleanly_in_budget_without_leaking(
    text: str, data: dict[str, object]
) -> None:
    leaves = _leaves(data)
    assume(not any(leaf in text for leaf in leaves))
    source = FakeSource(Case("", secrets={"secret/data/app": json.dumps({"data": {"data": data}})}))
    start = time.perf_counter()
    try:
        templates.parse(text, name="vault.hashicorp.com/agent-inject-template-app").render(
            source, budget=Budget(**BUDGET)
        )
        event("rendered")
    except templates.TemplateError as error:
        message = str(error)
        event(type(error).__name__ + (": budget" if "exceeds" in message or "builds more" in message else ""))
        for leaf in leaves:
            for form in _forms(leaf):
                assert form not in message, (form, message)
    assert time.perf_counter() - start < SECONDS
