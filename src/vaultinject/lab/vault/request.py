"""A Vault request once the HTTP layer has parsed it (`logical.Request`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vaultinject.lab.vault.tokens import TokenEntry

READ = "read"
LIST = "list"
UPDATE = "update"
CREATE = "create"
DELETE = "delete"
PATCH = "patch"
HEAD = "head"


@dataclass
class Request:
    """One API call. `path` is relative to `/v1/`; the core sets `mount_path` and `rel` when it routes."""

    operation: str
    path: str
    data: dict[str, Any] = field(default_factory=dict)
    client_token: str = ""
    remote_addr: str = ""
    request_id: str = ""
    wrap_ttl: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, list[str]] = field(default_factory=dict)
    content_type: str = ""
    mount_path: str = ""
    mount_type: str = ""
    mount_accessor: str = ""
    rel: str = ""
    token: TokenEntry | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")
