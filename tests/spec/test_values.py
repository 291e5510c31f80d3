"""Go's accept/reject rules for the values annotations carry."""

from __future__ import annotations

import pytest

from vaultinject.spec import values


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("True", True), ("TRUE", True), ("t", True), ("T", True), ("1", True),
     ("false", False), ("False", False), ("FALSE", False), ("f", False), ("F", False), ("0", False),
     ("", False)],
)  # fmt: skip
def test_bool_accepts_go_booleans_and_empty_means_false(raw: str, expected: bool) -> None:
    assert values.parse_bool(raw) is expected


@pytest.mark.parametrize("raw", ["tRuE", "yes", "on", "no", "2", " true", "true "])
def test_bool_rejects_what_go_rejects(raw: str) -> None:
    with pytest.raises(ValueError, match="not a boolean; use true or false"):
        values.parse_bool(raw)


def test_strict_bool_rejects_the_empty_string() -> None:
    with pytest.raises(ValueError, match="not a boolean"):
        values.parse_strict_bool("")


@pytest.mark.parametrize(("raw", "expected"), [("0", 0), ("100", 100), ("-5", -5), ("+7", 7), ("01", 1)])
def test_decimal_int(raw: str, expected: int) -> None:
    assert values.parse_int(raw) == expected


@pytest.mark.parametrize("raw", ["", "root", "1.5", "0x10", "1_000", "9223372036854775808"])
def test_decimal_int_rejects(raw: str) -> None:
    with pytest.raises(ValueError, match=r"integer|out of range"):
        values.parse_int(raw)


@pytest.mark.parametrize(("raw", "expected"), [("5", 5), ("01", 1), ("0", 0)])
def test_uint(raw: str, expected: int) -> None:
    assert values.parse_uint(raw) == expected


@pytest.mark.parametrize("raw", ["-1", "foo", "", "+1", "1.0"])
def test_uint_rejects(raw: str) -> None:
    with pytest.raises(ValueError, match="non-negative integer"):
        values.parse_uint(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", 0), ("10", 10), ("0x1f", 31), ("0X1F", 31), ("010", 8), ("0o10", 8), ("0b101", 5), ("-0x10", -16),
     ("1_000", 1000), ("0x_1f", 31)],
)  # fmt: skip
def test_auto_base_int(raw: str, expected: int) -> None:
    assert values.parse_int_auto(raw) == expected


@pytest.mark.parametrize("raw", ["08", "0x", "1__0", "_1", "1_", "ten", "0b2"])
def test_auto_base_int_rejects(raw: str) -> None:
    with pytest.raises(ValueError, match="not an integer"):
        values.parse_int_auto(raw)


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("0", 0.0), ("1s", 1.0), ("1m30s", 90.0), ("1.5h", 5400.0), (".5s", 0.5), ("5.s", 5.0), ("-1s", -1.0),
     ("250ms", 0.25), ("1us", 1e-6), ("1µs", 1e-6), ("100ns", 1e-7), ("1h1m1s", 3661.0)],
)  # fmt: skip
def test_duration(raw: str, seconds: float) -> None:
    assert values.parse_duration(raw) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("raw", "message"),
    [("", "invalid duration"), ("x", "invalid duration"), ("5", "missing unit"), ("5y", "unknown unit 'y'"),
     (".s", "invalid duration"), ("1.2.3s", "missing unit")],
)  # fmt: skip
def test_duration_rejects(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        values.parse_duration(raw)


def test_duration_or_seconds_takes_bare_seconds() -> None:
    assert values.parse_duration_or_seconds("300") == 300.0
    assert values.parse_duration_or_seconds("5m") == 300.0
    with pytest.raises(ValueError, match="number of seconds"):
        values.parse_duration_or_seconds("five")


@pytest.mark.parametrize(
    "raw",
    ["500m", "1", "0", "500M", "500G", "500Mi", "500Gi", "1.5", "128974848", "129e6", "123Mi", "1Ki", ".5"],
)
def test_quantity_accepts_kubernetes_quantities(raw: str) -> None:
    assert values.parse_quantity(raw) == raw


@pytest.mark.parametrize("raw", ["500mi", "500gi", "128mb", "128g", "128gi", "", "abc", "1e", "Mi", "5 Mi"])
def test_quantity_rejects_what_kubernetes_rejects(raw: str) -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        values.parse_quantity(raw)


@pytest.mark.parametrize(
    ("raw", "mode"), [("0400", 0o400), ("400", 0o400), ("0640", 0o640), ("0", 0), ("4755", 0o4755)]
)
def test_file_mode(raw: str, mode: int) -> None:
    assert values.parse_file_mode(raw) == mode


@pytest.mark.parametrize("raw", ["0800", "rw-r--r--", "0o400", "", "12345"])
def test_file_mode_rejects(raw: str) -> None:
    with pytest.raises(ValueError, match="octal file mode"):
        values.parse_file_mode(raw)


@pytest.mark.parametrize("raw", ["null", "", "[]", "  "])
def test_json_patch_no_ops(raw: str) -> None:
    assert values.parse_json_patch(raw) == ()


def test_json_patch_parses_operations() -> None:
    patch = values.parse_json_patch('[{"op": "replace", "path": "/name", "value": "x"}]')
    assert patch == ({"op": "replace", "path": "/name", "value": "x"},)


@pytest.mark.parametrize(
    ("raw", "message"),
    [("abc", "not valid JSON"), ('[{"op":"invalid"}]', "has op 'invalid'"), ('{"op":"add"}', "list of operations"),
     ('[{"op":"add","path":"/x"}]', "needs 'value'"), ('[{"op":"add","path":"x","value":1}]', "JSON pointer"),
     ("[1]", "not an object"), ('[{"op":"move","path":"/a"}]', "needs 'from'")],
)  # fmt: skip
def test_json_patch_rejects(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        values.parse_json_patch(raw)


@pytest.mark.parametrize(
    ("raw", "value"), [("true", True), ("3", 3), ('["a","b"]', ["a", "b"]), ("plain", "plain")]
)
def test_json_value_decodes_or_keeps_the_string(raw: str, value: object) -> None:
    assert values.parse_json_value(raw) == value


def test_split_list_trims_and_drops_empty_entries() -> None:
    assert values.split_list(" app, sidecar ,,") == ("app", "sidecar")
