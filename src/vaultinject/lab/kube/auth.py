"""Authentication of bearer tokens: the admin token, registered static tokens, service-account JWTs."""

from __future__ import annotations

import hmac
import threading

from vaultinject.lab.kube.model import UserInfo
from vaultinject.lab.kube.status import unauthorized
from vaultinject.lab.kube.tokens import TokenService

ANONYMOUS = UserInfo("system:anonymous", "", ("system:unauthenticated",))
ADMIN = UserInfo("kubernetes-admin", "", ("system:masters", "system:authenticated"))


class Authenticator:
    """Maps an `Authorization` header to a user; a presented but invalid token is always a 401."""

    def __init__(self, admin_token: str, tokens: TokenService) -> None:
        self.admin_token = admin_token
        self.tokens = tokens
        self._static: dict[str, UserInfo] = {}
        self._lock = threading.Lock()

    def register(self, token: str, user: UserInfo) -> None:
        """Accept `token` as `user` (a static token file entry); `system:authenticated` is added."""
        groups = (
            user.groups if "system:authenticated" in user.groups else (*user.groups, "system:authenticated")
        )
        with self._lock:
            self._static[token] = UserInfo(user.username, user.uid, groups, user.extra)

    def authenticate(self, header: str | None) -> UserInfo:
        if not header:
            return ANONYMOUS
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return ANONYMOUS
        if hmac.compare_digest(token.encode(), self.admin_token.encode()):
            return ADMIN
        with self._lock:
            static = self._static.get(token)
        if static is not None:
            return static
        review = self.tokens.review(token)
        if review.user is None:
            raise unauthorized()
        return review.user
