"""The secret values a render has read, as texts an error message must not show."""

from __future__ import annotations

from .values import GoStruct, PemEncoded, Secret, SecretAuth, SecretWrapInfo, TypedNil

#: Shorter values are masked only where a message quotes a run-time value: masking every "1"
#: of a message (a KV version number is secret data too) would garble the message.
MIN_MASKED_ANYWHERE = 3


def secret_texts(read: list[object]) -> frozenset[str]:
    """Every value (and every line of a multi-line value) in the answers a source gave."""
    texts: set[str] = set()
    for answer in read:
        if isinstance(answer, GoStruct):
            _struct_texts(answer, texts)
    texts.discard("")
    return frozenset(texts)


def _struct_texts(struct: GoStruct, texts: set[str]) -> None:
    if isinstance(struct, Secret):
        _data_texts(struct.Data, texts)
        for part in (struct.Auth, struct.WrapInfo):
            if not isinstance(part, TypedNil):
                _struct_texts(part, texts)
    elif isinstance(struct, SecretAuth):
        _add(struct.ClientToken, texts)
    elif isinstance(struct, SecretWrapInfo):
        _add(struct.Token, texts)
    elif isinstance(struct, PemEncoded):
        for value in (struct.Cert, struct.Key, struct.CA, *struct.CAChain):
            _add(value, texts)


def _data_texts(value: object, texts: set[str]) -> None:
    if isinstance(value, dict):
        for item in value.values():
            _data_texts(item, texts)
    elif isinstance(value, list):
        for item in value:
            _data_texts(item, texts)
    elif isinstance(value, bool):
        texts.add("true" if value else "false")
    elif isinstance(value, str):
        _add(value, texts)
    elif value is not None:
        texts.add(str(value))


def _add(text: str, texts: set[str]) -> None:
    texts.add(text)
    if "\n" in text:
        texts.update(line for line in text.splitlines() if len(line) >= MIN_MASKED_ANYWHERE)
