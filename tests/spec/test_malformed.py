"""Annotations no user should send, each refused with a clear error: never another exception."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.budget import examples
from vaultinject.spec import Settings, SpecError, parse
from vaultinject.spec import values as v
from vaultinject.spec.parser import KNOWN_KEYS, PER_SECRET_PREFIXES, SECRET_PREFIXES

VAULT = "vault.hashicorp.com/"
SETTINGS = Settings(vault_addr="https://vault.vault.svc:8200")
BASE = {VAULT + "agent-inject": "true", VAULT + "role": "app"}


def errors_of(annotations: dict[Any, Any]) -> dict[str, str]:
    with pytest.raises(SpecError) as caught:
        parse(annotations, SETTINGS)
    return {error.annotation: error.message for error in caught.value.errors}


@pytest.mark.parametrize(
    ("value", "quoted"),
    [(1000, '"1000"'), (True, '"true"'), (False, '"false"'), (1.5, '"1.5"'), (None, '""')],
)
def test_a_yaml_scalar_that_is_not_a_string_is_refused_and_shown_quoted(value: object, quoted: str) -> None:
    errors = errors_of({**BASE, VAULT + "agent-run-as-user": value})
    assert errors == {VAULT + "agent-run-as-user": f"must be a string; quote it: {quoted}"}


def test_a_list_or_mapping_value_is_told_to_be_written_as_a_json_string() -> None:
    errors = errors_of({**BASE, VAULT + "agent-json-patch": [{"op": "remove", "path": "/env"}]})
    assert errors[VAULT + "agent-json-patch"].startswith(
        "must be a string, not a list; write it as one quoted"
    )


def test_a_refused_value_causes_no_second_misleading_error() -> None:
    errors = errors_of({VAULT + "agent-inject": "true", VAULT + "role": 5, VAULT + "agent-run-as-user": -1})
    assert errors == {
        VAULT + "role": 'must be a string; quote it: "5"',
        VAULT + "agent-run-as-user": 'must be a string; quote it: "-1"',
    }


def test_a_name_that_is_not_a_string_is_refused() -> None:
    errors = errors_of({**BASE, 7: "x"})
    assert errors == {"metadata.annotations": 'an annotation name must be a string; quote it: "7"'}


def test_annotations_that_are_not_a_mapping_are_refused() -> None:
    assert errors_of(["agent-inject"]) == {  # type: ignore[arg-type]
        "metadata.annotations": "must be a mapping of annotation names to strings"
    }


def test_a_number_too_long_to_print_is_still_refused_cleanly() -> None:
    errors = errors_of({**BASE, VAULT + "agent-run-as-user": 10**5000})
    assert errors == {VAULT + "agent-run-as-user": "must be a string; quote it"}


@pytest.mark.parametrize(
    ("annotation", "raw", "message"),
    [
        ("client-timeout", "1" + "0" * 400, "out of range"),
        ("client-timeout", "1" + "0" * 400 + "s", "invalid duration"),
        ("client-timeout", "9" * 5000, "out of range"),
        ("auth-min-backoff", "1." + "5" * 5000 + "h" + "9" * 30 + "s", "out of range"),
        ("agent-run-as-user", "1" * 5000, "out of range"),
        ("agent-revoke-grace", "0" * 5000 + "1" * 30, "out of range"),
        ("agent-cache-listener-port", "0x" + "f" * 5000, "out of range"),
        ("template-lease-renewal-threshold", "1e400", "out of range"),
        ("template-lease-renewal-threshold", "1" * 5000, "out of range for a 64-bit float"),
        ("agent-inject-perms-db", "7" * 5000, "not an octal file mode"),
    ],
)
def test_huge_numbers_are_out_of_range_in_every_numeric_parser(
    annotation: str, raw: str, message: str
) -> None:
    errors = errors_of({**BASE, VAULT + "agent-inject-secret-db": "kv/db", VAULT + annotation: raw})
    assert message in errors[VAULT + annotation]
    assert len(errors[VAULT + annotation]) < 300, "a long value is shortened in the message"


def test_a_long_fraction_keeps_go_precision_instead_of_failing() -> None:
    assert v.parse_duration_ns("1." + "5" * 5000 + "s") == 1_555_555_555
    assert v.parse_duration_ns("0" * 5000 + "2s") == 2 * 10**9


def test_duration_limits_are_int64_nanoseconds() -> None:
    assert v.parse_duration_ns("2562047h47m16.854775807s") == v.INT64_MAX
    with pytest.raises(ValueError, match="out of range"):
        v.parse_duration_ns("2562047h47m16.854775808s")
    assert v.parse_duration_or_seconds("9223372036") == 9223372036.0
    with pytest.raises(ValueError, match="out of range"):
        v.parse_duration_or_seconds("9223372037")


DEEP = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize("annotation", ["agent-json-patch", "agent-init-json-patch", "agent-telemetry-x"])
def test_deeply_nested_json_in_any_json_annotation_is_refused(annotation: str) -> None:
    errors = errors_of({**BASE, VAULT + annotation: DEEP})
    assert errors == {VAULT + annotation: "JSON nested more than 100 levels deep"}


def test_a_json_number_longer_than_any_number_is_refused() -> None:
    errors = errors_of({**BASE, VAULT + "agent-telemetry-x": "1" * 5000})
    assert errors == {
        VAULT + "agent-telemetry-x": "a JSON number of 5000 digits is out of range (at most 100)"
    }


def test_brackets_inside_json_strings_do_not_count_as_nesting() -> None:
    text = json.dumps([{"op": "add", "path": "/env/-", "value": {"name": "X", "value": "[" * 500 + '\\"{'}}])
    assert v.decode_json(text) == json.loads(text)


def test_json_nesting_up_to_the_limit_is_accepted() -> None:
    assert v.decode_json("[" * 100 + "]" * 100) is not None
    with pytest.raises(v.JSONLimitError):
        v.decode_json("[" * 101 + "]" * 101)


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}'])
def test_nan_and_infinity_are_not_json(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        v.decode_json(text)


def test_json_longer_than_all_annotations_may_be_is_refused() -> None:
    with pytest.raises(v.JSONLimitError, match="more than the 262144 allowed"):
        v.decode_json(" " * (256 * 1024 + 1))


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        ({"op": ["add"], "path": "/x", "value": 1}, 'operation 0 has op ["add"]; use one of add'),
        ({"op": {"a": 1}, "path": "/x"}, 'operation 0 has op {"a": 1}'),
        ({"op": "add", "path": ["x"], "value": 1}, 'operation 0 has path ["x"]; a JSON pointer is a string'),
        ({"op": "move", "from": 5, "path": "/x"}, "operation 0 has from 5; a JSON pointer is a string"),
    ],
)
def test_json_patch_members_of_the_wrong_type_are_named(operation: dict[str, Any], message: str) -> None:
    errors = errors_of({**BASE, VAULT + "agent-json-patch": json.dumps([operation])})
    assert errors[VAULT + "agent-json-patch"].startswith(message)


# Property: whatever the annotation values are, parse gives a spec or a SpecError.

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**400, max_value=10**450),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["1" + "0" * 400, "9" * 5000, "1e400", "[" * 300, "[" * 200 + "]" * 200, "-0", "0x"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)
# JSON text (an annotation value, as a string) whose structure is itself arbitrary.
json_texts = json_values.map(lambda value: json.dumps(value, allow_nan=True))
annotation_keys = st.one_of(
    st.sampled_from(sorted(KNOWN_KEYS)).map(lambda key: VAULT + key),
    st.sampled_from(SECRET_PREFIXES + PER_SECRET_PREFIXES + ("agent-telemetry-", "auth-config-")).map(
        lambda prefix: VAULT + prefix + "db"
    ),
    st.sampled_from(["vaultinject.io/mode", "vaultinject.io/token-audience", "other.io/x"]),
)
annotation_maps = st.dictionaries(
    st.one_of(annotation_keys, st.integers(), st.none()), st.one_of(json_values, json_texts), max_size=10
)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(annotation_maps, st.booleans())
def test_any_annotation_values_give_a_spec_or_a_spec_error(
    annotations: dict[Any, Any], opted_in: bool
) -> None:
    if opted_in:
        annotations = {**BASE, **annotations}
    try:
        parse(annotations, SETTINGS)
    except SpecError as caught:
        error: SpecError | None = caught
    else:
        error = None
    event("rejected" if error else "parsed")
    if error is not None:
        assert all(each.annotation and each.message for each in error.errors)
        assert all(len(each.message) < 2000 for each in error.errors)
