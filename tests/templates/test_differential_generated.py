"""Generated templates and data, rendered by Go's text/template and by ours: same bytes, same errors."""

from __future__ import annotations

import functools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.budget import examples
from vaultinject.templates.values import JSONNumber, StrList, StrMap

from .judge import Case, GoJudge, render_ours

# Characters whose Unicode properties agree between Go 1.19 (Unicode 13) and Python 3.11.
ALPHABET = (
    "abcxyzABC019 _-.,:;!?'\"`\\/<>&=+*%$#@()[]{}|~^\t\n\r\x00\x01\x7féÀßÿ✓日本\u00a0\u2028\u200b\U0001f600"
)
KEYS = ["a", "b", "c", "x", "Data", "data"]

texts = st.text(alphabet=ALPHABET, max_size=8)
scalars = st.one_of(
    texts,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=-5, max_value=300),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.sampled_from(["0", "42", "-1", "1.50", "1e3", "3.14", "12345678901234567890"]).map(JSONNumber),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=4),
        st.lists(texts, max_size=3).map(StrList),
        st.dictionaries(st.sampled_from(KEYS), texts, max_size=3).map(StrMap),
    ),
    max_leaves=10,
)
datas = st.one_of(st.none(), st.dictionaries(st.sampled_from(KEYS), values, max_size=5))

FIELDS = [".", ".a", ".b", ".a.b", ".x.a", ".Data", ".Data.data", ".c.x.a", "$", "$.a", "$i", "$v"]
LITERALS = [
    "1",
    "0",
    "-2",
    "1.5",
    "0x10",
    "'a'",
    "1e3",
    "2i",
    "nil",
    "true",
    "false",
    '"s"',
    '""',
    '"a\\nb"',
    "`raw`",
    '"<&>"',
    "9223372036854775807",
]
FUNCS = {
    "len": 1,
    "index": 2,
    "slice": 2,
    "print": 2,
    "println": 1,
    "not": 1,
    "and": 2,
    "or": 2,
    "eq": 2,
    "ne": 2,
    "lt": 2,
    "le": 2,
    "gt": 2,
    "ge": 2,
    "html": 1,
    "js": 1,
    "urlquery": 1,
    "toJSON": 1,
    "toJSONPretty": 1,
    "split": 2,
    "join": 2,
    "trimSpace": 1,
    "toUpper": 1,
    "toLower": 1,
    "replaceAll": 3,
    "contains": 2,
    "base64Encode": 1,
    "sha256Hex": 1,
    "parseJSON": 1,
}
VERBS = [
    "%v",
    "%d",
    "%s",
    "%q",
    "%x",
    "%5.2f",
    "%-6s|",
    "%#v",
    "%T",
    "%e",
    "%g",
    "%t",
    "%c",
    "%+d",
    "%08.3f",
    "%.1s",
]


@functools.cache
@st.composite
def operands(draw: st.DrawFn, depth: int) -> str:
    choice = draw(st.integers(0, 9 if depth > 0 else 6))
    if choice <= 3:
        return draw(st.sampled_from(FIELDS))
    if choice <= 6:
        return draw(st.sampled_from(LITERALS))
    return "(" + draw(pipelines(depth - 1)) + ")"


@functools.cache
@st.composite
def commands(draw: st.DrawFn, depth: int, first: bool) -> str:
    kind = draw(st.integers(0, 3))
    if kind == 0 and first:
        return draw(operands(depth))
    if kind == 1:
        verbs = draw(st.lists(st.sampled_from(VERBS), min_size=1, max_size=3))
        args = draw(st.lists(operands(depth), max_size=len(verbs) + (0 if first else -1)))
        return " ".join(["printf", '"' + " ".join(verbs) + '"', *args])
    name = draw(st.sampled_from(sorted(FUNCS)))
    count = FUNCS[name] - (0 if first else 1) + draw(st.integers(-1, 1))
    args = draw(st.lists(operands(depth), min_size=max(count, 0), max_size=max(count, 0)))
    return " ".join([name, *args])


@functools.cache
@st.composite
def pipelines(draw: st.DrawFn, depth: int) -> str:
    stages = [draw(commands(depth, first=True))]
    for _ in range(draw(st.integers(0, 2))):
        stages.append(draw(commands(depth, first=False)))
    return " | ".join(stages)


@functools.cache
@st.composite
def actions(draw: st.DrawFn, depth: int) -> str:
    left = draw(st.sampled_from(["{{", "{{ ", "{{- ", "{{-"]))
    right = draw(st.sampled_from(["}}", " }}", " -}}", "-}}"]))
    decl = draw(st.sampled_from(["", "", "", "$x := ", "$ := "]))
    return left + decl + draw(pipelines(depth)) + right


@functools.cache
@st.composite
def bodies(draw: st.DrawFn, depth: int) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 6 if depth > 0 else 3))
        if kind <= 1:
            parts.append(draw(st.sampled_from(["", "x", " ", "\n", " \n  ", "a b", "\t-"])))
        elif kind <= 3:
            parts.append(draw(actions(1)))
        else:
            parts.append(draw(controls(depth - 1)))
    return "".join(parts)


@functools.cache
@st.composite
def controls(draw: st.DrawFn, depth: int) -> str:
    keyword = draw(st.sampled_from(["if", "with", "range", "range $i, $v :=", "range $v :="]))
    text = "{{" + keyword + " " + draw(pipelines(1)) + "}}" + draw(bodies(depth))
    if keyword.startswith("range") and draw(st.booleans()):
        text += draw(st.sampled_from(["{{break}}", "{{continue}}", "{{ if $v }}{{ continue }}{{ end }}"]))
    if keyword == "if" and draw(st.booleans()):
        text += "{{else if " + draw(pipelines(1)) + "}}" + draw(bodies(depth))
    if draw(st.booleans()):
        text += "{{else}}" + draw(bodies(depth))
    return text + "{{end}}"


templates_text = st.one_of(bodies(2), st.text(alphabet="{}.$|()- abx\"'1\n", max_size=20))


def _assert_same(go_judge: GoJudge, case: Case) -> None:
    expected = go_judge.render(case)
    actual = render_ours(case)
    if not expected.ok:
        expected.out = b""  # Go keeps what it wrote before failing; a failed render writes nothing here.
    assert (actual.ok, actual.out, actual.err) == (expected.ok, expected.out, expected.err), case.template


GENERATED = settings(
    max_examples=examples(700),
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@GENERATED
@given(template=templates_text, data=datas, mode=st.sampled_from(["zero", "error", "invalid"]))
def test_generated_templates_render_like_go(
    go_judge: GoJudge, template: str, data: object, mode: str
) -> None:
    _assert_same(go_judge, Case(template, data, missingkey=mode))


@settings(GENERATED, max_examples=examples(300))
@given(
    value=values, verbs=st.lists(st.sampled_from([*VERBS, "%v", "%#v", "%x", "%q"]), min_size=1, max_size=4)
)
def test_printf_of_any_value_matches_go(go_judge: GoJudge, value: object, verbs: list[str]) -> None:
    template = (
        "{{ printf " + '"' + "|".join(verbs) + '"' + " .v .v .v }}{{ .v }}{{ print .v 1 }}{{ toJSON .v }}"
    )
    _assert_same(go_judge, Case(template, {"v": value}))


@settings(GENERATED, max_examples=examples(200))
@given(text=st.text(alphabet=ALPHABET + "{}", max_size=30), trim_left=st.booleans(), trim_right=st.booleans())
def test_trimming_and_text_match_go(go_judge: GoJudge, text: str, trim_left: bool, trim_right: bool) -> None:
    left = "{{- " if trim_left else "{{"
    right = " -}}" if trim_right else "}}"
    template = text + left + '"|"' + right + text + left + "/* c */" + right + text
    _assert_same(go_judge, Case(template, None))
