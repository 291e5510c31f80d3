"""The Go-ish value model: how Python values stand for the Go values templates see.

Plain Python values map to the types a JSON decode gives Go:

=================  ==========================
Python             Go
=================  ==========================
``None``           no value (invalid reflect.Value, or a nil ``interface{}`` once unwrapped)
``str``            ``string``
``bool``           ``bool``
``int``            ``int``
``float``          ``float64``
``complex``        ``complex128``
``dict``           ``map[string]interface {}``
``list``           ``[]interface {}``
=================  ==========================

Subclasses mark the other Go types consul-template produces: :class:`JSONNumber`
(``json.Number``: Vault responses are decoded with ``UseNumber``, so numbers keep
their literal text), :class:`StrList` (``[]string``), :class:`StrMap`
(``map[string]string``) and :class:`Byte` (``uint8``). The ``Nil*`` classes are the
typed nil maps and slices Go prints as ``map[]``/``[]`` but encodes as JSON ``null``.
:class:`Secret` and friends mirror consul-template's ``dependency`` structs.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: importing this package must stay cheap.
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, ClassVar


class JSONNumber(str):
    """Go's ``json.Number``: a number kept as its literal text (a string kind in Go)."""

    __slots__ = ()


class Int64(int):
    """Go's ``int64``, as returned by ``json.Number.Int64``."""

    __slots__ = ()


class StrList(list[str]):
    """Go's ``[]string``."""

    __slots__ = ()


class StrMap(dict[str, str]):
    """Go's ``map[string]string``."""

    __slots__ = ()


class Byte(int):
    """Go's ``uint8``, as produced by indexing a string."""

    __slots__ = ()


class NilMap(dict[str, object]):
    """A nil ``map[string]interface {}``: empty, but JSON ``null``."""

    __slots__ = ()


class NilStrList(StrList):
    """A nil ``[]string``."""

    __slots__ = ()


class NilStrMap(StrMap):
    """A nil ``map[string]string``."""

    __slots__ = ()


class TypedNil:
    """A nil of a Go type that has no Python equivalent: a nil pointer or nil interface."""

    __slots__ = ("fields", "kind", "type_name")

    def __init__(self, type_name: str, kind: str, fields: tuple[str, ...] = ()) -> None:
        self.type_name = type_name
        self.kind = kind
        self.fields = fields

    def __repr__(self) -> str:
        return f"TypedNil({self.type_name})"


#: A nil ``interface{}`` seen before Go unwraps it (e.g. a JSON null inside a map).
NIL_INTERFACE = TypedNil("interface {}", "interface")


class GoStruct:
    """Base of the struct types templates can see; only ``GO_FIELDS`` are reachable.

    Instances are immutable: fields are set once by the constructor (keyword arguments
    named as the Go fields, defaults from ``_defaults``).
    """

    __slots__ = ()
    GO_TYPE: ClassVar[str] = ""
    GO_POINTER: ClassVar[bool] = True
    GO_FIELDS: ClassVar[tuple[str, ...]] = ()
    GO_METHODS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **fields: Any) -> None:
        unknown = set(fields) - set(self.GO_FIELDS)
        if unknown:
            raise TypeError(f"unknown fields for {self.GO_TYPE}: {sorted(unknown)}")
        defaults = self._defaults()
        for name in self.GO_FIELDS:
            object.__setattr__(self, name, fields[name] if name in fields else defaults[name])

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        raise NotImplementedError

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={self.go_field(name)!r}" for name in self.GO_FIELDS)
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(self.go_field(name) == other.go_field(name) for name in self.GO_FIELDS)

    __hash__ = None  # type: ignore[assignment]

    def go_field(self, name: str) -> object:
        """The value of an exported field (callers check ``GO_FIELDS`` first)."""
        return getattr(self, name)

    def go_method(self, name: str) -> Callable[[], object]:
        """A bound zero-argument method (callers check ``GO_METHODS`` first)."""
        method: Callable[[], object] = getattr(self, "method_" + name)
        return method


def _nil_pointer(struct: type[GoStruct]) -> TypedNil:
    return TypedNil("*" + struct.GO_TYPE, "ptr", struct.GO_FIELDS)


class SecretAuth(GoStruct):
    """consul-template's ``dependency.SecretAuth``."""

    __slots__ = ("Accessor", "ClientToken", "LeaseDuration", "Metadata", "Policies", "Renewable")

    GO_TYPE: ClassVar[str] = "dependency.SecretAuth"
    GO_FIELDS: ClassVar[tuple[str, ...]] = (
        "ClientToken",
        "Accessor",
        "Policies",
        "Metadata",
        "LeaseDuration",
        "Renewable",
    )

    ClientToken: str
    Accessor: str
    Policies: StrList
    Metadata: StrMap
    LeaseDuration: int
    Renewable: bool

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        return {
            "ClientToken": "",
            "Accessor": "",
            "Policies": NilStrList(),
            "Metadata": NilStrMap(),
            "LeaseDuration": 0,
            "Renewable": False,
        }


class SecretWrapInfo(GoStruct):
    """consul-template's ``dependency.SecretWrapInfo`` (CreationTime kept as Vault's text)."""

    __slots__ = ("CreationTime", "TTL", "Token", "WrappedAccessor")

    GO_TYPE: ClassVar[str] = "dependency.SecretWrapInfo"
    GO_FIELDS: ClassVar[tuple[str, ...]] = ("Token", "TTL", "CreationTime", "WrappedAccessor")

    Token: str
    TTL: int
    CreationTime: str
    WrappedAccessor: str

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        return {"Token": "", "TTL": 0, "CreationTime": "", "WrappedAccessor": ""}


NIL_AUTH = _nil_pointer(SecretAuth)
NIL_WRAP_INFO = _nil_pointer(SecretWrapInfo)


class Secret(GoStruct):
    """consul-template's ``*dependency.Secret``: what ``secret`` returns to templates."""

    __slots__ = ("Auth", "Data", "LeaseDuration", "LeaseID", "Renewable", "RequestID", "Warnings", "WrapInfo")

    GO_TYPE: ClassVar[str] = "dependency.Secret"
    GO_FIELDS: ClassVar[tuple[str, ...]] = (
        "RequestID",
        "LeaseID",
        "LeaseDuration",
        "Renewable",
        "Data",
        "Warnings",
        "Auth",
        "WrapInfo",
    )

    RequestID: str
    LeaseID: str
    LeaseDuration: int
    Renewable: bool
    Data: dict[str, Any]
    Warnings: StrList
    Auth: SecretAuth | TypedNil
    WrapInfo: SecretWrapInfo | TypedNil

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        return {
            "RequestID": "",
            "LeaseID": "",
            "LeaseDuration": 0,
            "Renewable": False,
            "Data": NilMap(),
            "Warnings": NilStrList(),
            "Auth": NIL_AUTH,
            "WrapInfo": NIL_WRAP_INFO,
        }

    @classmethod
    def from_json(cls, text: str | bytes) -> Secret | None:
        """Build from a Vault HTTP response body; numbers keep their literal text."""
        import json

        if not text or not text.strip():
            return None
        decoded = json.loads(text, parse_int=JSONNumber, parse_float=JSONNumber)
        return cls.from_response(decoded)

    @classmethod
    def from_response(cls, response: Mapping[str, Any]) -> Secret | None:
        """Build from a decoded Vault response, as the Vault API client and consul-template do.

        Numbers should already be :class:`JSONNumber` (see :meth:`from_json`); plain ints and
        floats are converted with Go's JSON spelling. A response with none of the standard
        fields keeps the whole body as ``Data``, as the Vault API client does.
        """
        if _is_null_secret(response):
            if list(response) == ["errors"]:
                return None
            return cls(Data=_as_data_map(response) if response else NilMap())
        data = response.get("data")
        return cls(
            RequestID=str(response.get("request_id") or ""),
            LeaseID=str(response.get("lease_id") or ""),
            LeaseDuration=_as_int(response.get("lease_duration")),
            Renewable=bool(response.get("renewable")),
            Data=_as_data_map(data) if isinstance(data, dict) and data else NilMap(),
            Warnings=_as_str_list(response.get("warnings")),
            Auth=_auth_from(response.get("auth")),
            WrapInfo=_wrap_info_from(response.get("wrap_info")),
        )


class PemEncoded(GoStruct):
    """consul-template's ``dependency.PemEncoded``: what ``pkiCert`` returns."""

    __slots__ = ("CA", "CAChain", "Cert", "Key")

    GO_TYPE: ClassVar[str] = "dependency.PemEncoded"
    GO_POINTER: ClassVar[bool] = False
    GO_FIELDS: ClassVar[tuple[str, ...]] = ("Cert", "Key", "CA", "CAChain")
    GO_METHODS: ClassVar[tuple[str, ...]] = ("Data",)

    Cert: str
    Key: str
    CA: str
    CAChain: StrList

    @classmethod
    def _defaults(cls) -> dict[str, Any]:
        return {"Cert": "", "Key": "", "CA": "", "CAChain": NilStrList()}

    def method_Data(self) -> PemEncoded:  # noqa: N802 - the Go method name is the API
        """``.Data`` mimics a KV v2 wrapper, as upstream does."""
        return self

    @classmethod
    def from_secret(cls, secret: Secret) -> PemEncoded:
        """Sort the PEM blocks of a PKI issue response as consul-template does.

        It scans the response's string values (``ca_chain``, a list, is not one of them): a
        private key block is ``Key``, the certificate that is not a CA is ``Cert``, the first
        CA certificate is ``CA`` and every distinct CA certificate is in ``CAChain``. Without
        parsing X.509, a CA is told by where it comes from: ``issuing_ca``, or a block after
        the first certificate of a ``pem_bundle`` ``certificate``. Each block ends in a newline.
        """
        data = secret.Data
        key = cert = ""
        chain = StrList()
        for field in ("issuing_ca", "certificate", "private_key"):
            for kind, block in _pem_blocks(data.get(field)):
                if kind.endswith("PRIVATE KEY"):
                    key = block
                elif field == "certificate" and not cert:
                    cert = block
                elif block not in chain:
                    chain.append(block)
        return cls(Cert=cert, Key=key, CA=chain[0] if chain else "", CAChain=chain or NilStrList())


def _pem_blocks(text: object) -> list[tuple[str, str]]:
    """The PEM blocks in a text: (type, the block from BEGIN to END, ending in a newline)."""
    blocks: list[tuple[str, str]] = []
    if not isinstance(text, str):
        return blocks
    start = text.find("-----BEGIN ")
    while start >= 0:
        type_end = text.find("-----", start + 11)
        end = text.find("-----END ", type_end + 5) if type_end >= 0 else -1
        close = text.find("-----", end + 9) if end >= 0 else -1
        if close < 0:
            break
        blocks.append((text[start + 11 : type_end], text[start : close + 5] + "\n"))
        start = text.find("-----BEGIN ", close + 5)
    return blocks


def _is_null_secret(response: Mapping[str, Any]) -> bool:
    """True when no standard field decoded to a non-zero value (Go's DeepEqual with Secret{})."""
    scalars = ("request_id", "lease_id", "lease_duration", "renewable", "mount_type")
    if any(response.get(key) not in (None, "", False) and str(response.get(key)) != "0" for key in scalars):
        return False
    return all(response.get(key) is None for key in ("data", "warnings", "auth", "wrap_info"))


def _as_int(value: object) -> int:
    try:
        return int(str(value)) if value not in (None, "") else 0
    except ValueError:
        return 0


def _as_str_list(value: object) -> StrList:
    if isinstance(value, list) and value:
        return StrList(str(item) for item in value)
    return NilStrList()


def _as_str_map(value: object) -> StrMap:
    if isinstance(value, dict) and value:
        return StrMap({str(k): str(v) for k, v in value.items()})
    return NilStrMap()


def _auth_from(value: object) -> SecretAuth | TypedNil:
    if not isinstance(value, dict):
        return NIL_AUTH
    return SecretAuth(
        ClientToken=str(value.get("client_token") or ""),
        Accessor=str(value.get("accessor") or ""),
        Policies=_as_str_list(value.get("policies")),
        Metadata=_as_str_map(value.get("metadata")),
        LeaseDuration=_as_int(value.get("lease_duration")),
        Renewable=bool(value.get("renewable")),
    )


def _wrap_info_from(value: object) -> SecretWrapInfo | TypedNil:
    if not isinstance(value, dict):
        return NIL_WRAP_INFO
    return SecretWrapInfo(
        Token=str(value.get("token") or ""),
        TTL=_as_int(value.get("ttl")),
        CreationTime=str(value.get("creation_time") or ""),
        WrappedAccessor=str(value.get("wrapped_accessor") or ""),
    )


def _as_data_map(value: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): as_json_value(v) for k, v in value.items()}


def as_json_value(value: object) -> Any:
    """Convert a decoded JSON value to the model, numbers becoming :class:`JSONNumber`."""
    if isinstance(value, JSONNumber) or value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return JSONNumber(str(value))
    if isinstance(value, float):
        from .jsonenc import go_json_float

        return JSONNumber(go_json_float(value))
    if isinstance(value, dict):
        return _as_data_map(value)
    if isinstance(value, (list, tuple)):
        return [as_json_value(item) for item in value]
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def go_type_name(value: object) -> str:
    """The Go type name of a value, as ``%T`` and error messages spell it."""
    cls = type(value)
    name = _TYPE_NAMES.get(cls)
    if name is not None:
        return name
    if isinstance(value, TypedNil):
        return value.type_name
    if isinstance(value, GoStruct):
        return ("*" if value.GO_POINTER else "") + value.GO_TYPE
    for base, base_name in _TYPE_NAMES.items():
        if isinstance(value, base):
            return base_name
    return "<nil>" if value is None else cls.__name__


_TYPE_NAMES: dict[type, str] = {
    str: "string",
    JSONNumber: "json.Number",
    bool: "bool",
    int: "int",
    Byte: "uint8",
    Int64: "int64",
    float: "float64",
    complex: "complex128",
    dict: "map[string]interface {}",
    NilMap: "map[string]interface {}",
    StrMap: "map[string]string",
    NilStrMap: "map[string]string",
    list: "[]interface {}",
    StrList: "[]string",
    NilStrList: "[]string",
}

# Kinds, as Go's reflect.Kind, for the values of the model.
INVALID = "invalid"
BOOL = "bool"
INT = "int"
UINT = "uint"
FLOAT = "float"
COMPLEX = "complex"
STRING = "string"
MAP = "map"
SLICE = "slice"
PTR = "ptr"
STRUCT = "struct"
INTERFACE = "interface"

_KINDS: dict[type, str] = {
    str: STRING,
    JSONNumber: STRING,
    bool: BOOL,
    int: INT,
    Byte: UINT,
    Int64: INT,
    float: FLOAT,
    complex: COMPLEX,
    dict: MAP,
    NilMap: MAP,
    StrMap: MAP,
    NilStrMap: MAP,
    list: SLICE,
    StrList: SLICE,
    NilStrList: SLICE,
}


def go_kind(value: object) -> str:
    """The reflect.Kind of a value."""
    kind = _KINDS.get(type(value))
    if kind is not None:
        return kind
    if value is None:
        return INVALID
    if isinstance(value, TypedNil):
        return value.kind
    if isinstance(value, GoStruct):
        return PTR if value.GO_POINTER else STRUCT
    for base, base_kind in _KINDS.items():
        if isinstance(value, base):
            return base_kind
    return INVALID


def is_nil_container(value: object) -> bool:
    """True for the typed nil maps and slices."""
    return isinstance(value, (NilMap, NilStrList, NilStrMap))


class InterfaceValue:
    """A value whose static Go type is ``interface{}`` (read out of a generic map or slice).

    Go forgets this once a pipeline ends; until then it shows in a few error messages and
    in ``slice``, whose index arguments must not be interfaces.
    """

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


def strip_interface(value: object) -> object:
    """The concrete value inside an :class:`InterfaceValue` (anything else is itself)."""
    return value.value if type(value) is InterfaceValue else value


def element_of_interface(value: object) -> object:
    """An element read out of an ``interface{}`` container: a JSON null stays a typed nil."""
    return NIL_INTERFACE if value is None else value
