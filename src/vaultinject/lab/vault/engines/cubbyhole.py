"""The cubbyhole engine: private storage scoped to the calling token, gone when the token is revoked."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from vaultinject.lab.vault import responses
from vaultinject.lab.vault.backend import Backend, MountContext
from vaultinject.lab.vault.envelope import Response, bad_request, not_found
from vaultinject.lab.vault.request import Request
from vaultinject.lab.vault.tokens import TokenEntry

if TYPE_CHECKING:
    from vaultinject.lab.vault.core import Core


class CubbyholeBackend(Backend):
    type_name = "cubbyhole"

    def __init__(self, context: MountContext, core: Core) -> None:
        super().__init__(context)
        self.router.add(
            r"(?P<path>.*)",
            read=self.read,
            list=self.list,
            update=self.write,
            delete=self.delete,
            exists=lambda request, match: self.storage.get(self._key(request, match)) is not None,
        )
        core.token_revoked_hooks.append(self._forget)

    @staticmethod
    def _scope(token_id: str) -> str:
        return hashlib.sha256(token_id.encode()).hexdigest()

    def _key(self, request: Request, match: re.Match[str]) -> str:
        assert request.token is not None
        return f"{self._scope(request.token.id)}/{match['path']}"

    def read(self, request: Request, match: re.Match[str]) -> Response:
        stored = self.storage.get(self._key(request, match))
        if stored is None:
            raise not_found()
        return responses.data(stored)

    def list(self, request: Request, match: re.Match[str]) -> Response:
        return responses.keys(self.storage.children(self._key(request, match)))

    def write(self, request: Request, match: re.Match[str]) -> Response:
        if not request.data:
            raise bad_request("missing data fields")
        self.storage.put(self._key(request, match), request.data)
        return responses.no_content()

    def delete(self, request: Request, match: re.Match[str]) -> Response:
        self.storage.delete(self._key(request, match))
        return responses.no_content()

    def _forget(self, token: TokenEntry) -> None:
        self.storage.delete_prefix(self._scope(token.id) + "/")
