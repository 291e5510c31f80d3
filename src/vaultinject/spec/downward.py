"""Reading the pod's annotations from the downward-API file the injector mounts into the agent.

The kubelet writes one `key="value"` line per annotation, sorted by key, each value quoted with Go's
`strconv.Quote`.
"""

from __future__ import annotations

_SIMPLE_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}


def parse_downward_annotations(text: str) -> dict[str, str]:
    """Parse the kubelet's `annotations` file; raise ValueError naming the bad line."""
    annotations: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line:
            continue
        key, separator, quoted = line.partition("=")
        if not separator or not key:
            raise ValueError(f'downward-API annotations line {number} is not key="value"')
        try:
            annotations[key] = go_unquote(quoted)
        except ValueError as exc:
            raise ValueError(f"downward-API annotations line {number} ({key}): {exc}") from None
    return annotations


def go_unquote(quoted: str) -> str:
    """Go's `strconv.Unquote` for a double-quoted string."""
    if len(quoted) < 2 or quoted[0] != '"' or quoted[-1] != '"':
        raise ValueError("value is not a double-quoted string")
    body, out, index = quoted[1:-1], bytearray(), 0
    while index < len(body):
        char = body[index]
        if char == '"':
            raise ValueError("unescaped quote inside the value")
        if char != "\\":
            out += char.encode()
            index += 1
            continue
        index = _unescape(body, index + 1, out)
    return out.decode("utf-8", errors="replace")


def _unescape(body: str, index: int, out: bytearray) -> int:
    """Decode the escape whose letter is at `index` into `out`; return the index after it."""
    if index >= len(body):
        raise ValueError("value ends inside an escape")
    letter = body[index]
    if letter in _SIMPLE_ESCAPES:
        out.append(_SIMPLE_ESCAPES[letter])
        return index + 1
    widths = {"x": 2, "u": 4, "U": 8}
    if letter in widths:
        digits = body[index + 1 : index + 1 + widths[letter]]
        if len(digits) != widths[letter] or any(ch not in "0123456789abcdefABCDEF" for ch in digits):
            raise ValueError(f"bad \\{letter} escape")
        code = int(digits, 16)
        out += bytes([code]) if letter == "x" else chr(code).encode("utf-8", errors="surrogatepass")
        return index + 1 + widths[letter]
    digits = body[index : index + 3]
    if len(digits) == 3 and all(ch in "01234567" for ch in digits) and int(digits, 8) < 256:
        out.append(int(digits, 8))
        return index + 3
    raise ValueError(f"unknown escape \\{letter}")
