"""RFC 6902: our diff produces patches the reference implementation applies; our apply matches it."""

from __future__ import annotations

from typing import Any

import jsonpatch as reference
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.budget import examples
from vaultinject.injector import jsonpatch

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False, width=16)
    | st.text("ab/~", max_size=3)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text("ab/~", max_size=3), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=examples(300), deadline=None)
@given(json_values, json_values)
def test_diff_applied_by_the_reference_implementation_yields_the_target(old: Any, new: Any) -> None:
    patch = jsonpatch.diff(old, new)
    assert reference.apply_patch(old, patch) == new
    assert jsonpatch.apply(old, patch) == new


@settings(max_examples=examples(200), deadline=None)
@given(
    st.lists(st.dictionaries(st.sampled_from(["name", "x"]), st.text("ab", max_size=2)), max_size=5),
    st.data(),
)
def test_lists_that_only_gain_items_get_adds_never_a_replace(old: list[Any], data: st.DataObject) -> None:
    new = list(old)
    for _ in range(data.draw(st.integers(0, 3))):
        new.insert(
            data.draw(st.integers(0, len(new))), {"name": data.draw(st.text("cd", min_size=1, max_size=2))}
        )
    patch = jsonpatch.diff({"items": old}, {"items": new})
    assert all(op["op"] == "add" for op in patch)
    assert reference.apply_patch({"items": old}, patch) == {"items": new}


def test_appending_to_a_list_uses_dash_and_keeps_earlier_items() -> None:
    patch = jsonpatch.diff({"v": [{"name": "a"}]}, {"v": [{"name": "a"}, {"name": "b"}, {"name": "c"}]})
    assert patch == [
        {"op": "add", "path": "/v/-", "value": {"name": "b"}},
        {"op": "add", "path": "/v/-", "value": {"name": "c"}},
    ]


def test_a_changed_item_is_patched_in_place_before_insertions() -> None:
    old = {"c": [{"name": "app", "m": []}]}
    new = {"c": [{"name": "agent"}, {"name": "app", "m": [1]}]}
    patch = jsonpatch.diff(old, new)
    assert patch == [
        {"op": "add", "path": "/c/0/m/-", "value": 1},
        {"op": "add", "path": "/c/0", "value": {"name": "agent"}},
    ]


def test_keys_are_escaped_as_json_pointers() -> None:
    patch = jsonpatch.diff({"a": {}}, {"a": {"x/y~z": 1}})
    assert patch == [{"op": "add", "path": "/a/x~1y~0z", "value": 1}]


def test_bool_and_int_are_not_confused() -> None:
    assert jsonpatch.diff({"a": 1}, {"a": True}) == [{"op": "replace", "path": "/a", "value": True}]


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ([{"op": "add", "path": "/b", "value": 2}], {"a": [1, 2], "b": 2}),
        ([{"op": "add", "path": "/a/0", "value": 0}], {"a": [0, 1, 2]}),
        ([{"op": "remove", "path": "/a/1"}], {"a": [1]}),
        ([{"op": "replace", "path": "/a", "value": "x"}], {"a": "x"}),
        ([{"op": "move", "from": "/a/0", "path": "/z"}], {"a": [2], "z": 1}),
        ([{"op": "copy", "from": "/a", "path": "/c"}], {"a": [1, 2], "c": [1, 2]}),
        ([{"op": "test", "path": "/a/1", "value": 2}], {"a": [1, 2]}),
    ],
)
def test_apply_each_operation(patch: list[dict[str, Any]], expected: Any) -> None:
    assert jsonpatch.apply({"a": [1, 2]}, patch) == expected
    assert reference.apply_patch({"a": [1, 2]}, patch) == expected


@pytest.mark.parametrize(
    ("patch", "fragment"),
    [
        ([{"op": "remove", "path": "/missing"}], "operation 0 (remove /missing)"),
        ([{"op": "replace", "path": "/nope", "value": 1}], "replace /nope"),
        ([{"op": "test", "path": "/a/0", "value": 9}], "test failed"),
        ([{"op": "add", "path": "/a/9", "value": 1}], "out of range"),
        ([{"op": "add", "path": "/a/01", "value": 1}], "not an array index"),
        ([{"op": "move", "from": "/a", "path": "/a/0"}], "own children"),
    ],
)
def test_apply_errors_name_the_operation(patch: list[dict[str, Any]], fragment: str) -> None:
    with pytest.raises(jsonpatch.PatchError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        jsonpatch.apply({"a": [1, 2]}, patch)


def test_apply_does_not_modify_its_input() -> None:
    document = {"a": [1]}
    jsonpatch.apply(document, [{"op": "add", "path": "/a/-", "value": 2}])
    assert document == {"a": [1]}
