"""encoding/base64 decoding as Go does it: newlines skipped, padding required, Go's error offsets."""

from __future__ import annotations

_STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_MAPS = {alphabet: {ord(ch): index for index, ch in enumerate(alphabet)} for alphabet in (_STD, _URL)}


class CorruptInput(ValueError):
    """Go's base64.CorruptInputError: the byte offset of the first bad input byte."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"illegal base64 data at input byte {offset}")
        self.offset = offset


def _skip_newlines(src: bytes, si: int) -> int:
    while si < len(src) and src[si] in (10, 13):
        si += 1
    return si


def _padding_end(src: bytes, si: int, j: int) -> tuple[int, int | None]:
    """After a "=" at quantum position ``j``: the next index and a trailing-garbage offset."""
    if j in (0, 1):
        raise CorruptInput(si - 1)
    if j == 2:
        si = _skip_newlines(src, si)
        if si == len(src):
            raise CorruptInput(len(src))
        if src[si] != ord("="):
            raise CorruptInput(si - 1)
        si += 1
    si = _skip_newlines(src, si)
    return si, (si if si < len(src) else None)


def _quantum(src: bytes, si: int, decode_map: dict[int, int], out: bytearray) -> tuple[int, int | None]:
    """Decode up to four symbols starting at ``si``; return the next index and a deferred error."""
    buf = [0, 0, 0, 0]
    length = 4
    j = 0
    garbage: int | None = None
    while j < 4:
        if si == len(src):
            if j == 0:
                return si, None
            raise CorruptInput(si - j)
        symbol = src[si]
        si += 1
        value = decode_map.get(symbol)
        if value is not None:
            buf[j] = value
            j += 1
            continue
        if symbol in (10, 13):
            continue
        if symbol != ord("="):
            raise CorruptInput(si - 1)
        si, garbage = _padding_end(src, si, j)
        length = j
        break
    word = buf[0] << 18 | buf[1] << 12 | buf[2] << 6 | buf[3]
    out.extend(word.to_bytes(3, "big")[: length - 1])
    return si, garbage


def decode(text: bytes, url_safe: bool = False) -> bytes:
    """base64.StdEncoding (or URLEncoding).DecodeString; raises CorruptInput."""
    decode_map = _MAPS[_URL if url_safe else _STD]
    out = bytearray()
    si = 0
    while si < len(text):
        si, garbage = _quantum(text, si, decode_map, out)
        if garbage is not None:
            raise CorruptInput(garbage)
    return bytes(out)
