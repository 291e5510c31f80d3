"""URL splitting and quoting for the agent path, without `urllib.parse` (~3 ms of cold start)."""

from __future__ import annotations

from vaultinject.records import Record

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


class URL(Record):
    """The parts of an http(s) URL the clients need."""

    scheme: str
    host: str
    port: int | None

    @property
    def default_port(self) -> int:
        return self.port if self.port is not None else (443 if self.scheme == "https" else 80)


def split_url(raw: str) -> URL:
    """`scheme://host[:port][/path]`; raises ValueError when it is not an http(s) URL with a host."""
    scheme, separator, rest = raw.partition("://")
    scheme = scheme.lower()
    if not separator or scheme not in {"http", "https"}:
        raise ValueError(f"{raw!r} is not an http(s) URL")
    authority = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    host, port = authority, None
    if authority.startswith("["):  # [IPv6]:port
        host, _, tail = authority[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port_text = authority.partition(":")
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{raw!r} has a bad port")
        port = int(port_text)
    if not host:
        raise ValueError(f"{raw!r} has no host")
    return URL(scheme, host, port)


def quote(text: str, safe: str = "/") -> str:
    """Percent-encode everything but unreserved characters and `safe`."""
    allowed = _UNRESERVED | frozenset(safe.encode())
    return "".join(chr(byte) if byte in allowed else f"%{byte:02X}" for byte in text.encode())


def query(params: dict[str, str]) -> str:
    """A query string: `k=v&...`, each part quoted."""
    return "&".join(f"{quote(str(key), '')}={quote(str(value), '')}" for key, value in params.items())
