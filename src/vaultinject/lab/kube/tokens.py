"""Service-account tokens: RS256 signing, TokenRequest claims, the bound-token validator
(k8s.io/kubernetes/pkg/serviceaccount/claims.go) and OIDC discovery documents."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from vaultinject.lab.kube.clock import Clock, parse_time
from vaultinject.lab.kube.model import UserInfo
from vaultinject.lab.kube.store import Store

JSON = dict[str, Any]
LEEWAY = 60  # jwt.DefaultLeeway
LEGACY_ISSUER = "kubernetes/serviceaccount"
WARN_ONLY_EXPIRATION = 3607  # WarnOnlyBoundTokenExpirationSeconds: what the kubelet asks for
EXTENDED_EXPIRATION = 24 * 365 * 60 * 60  # ExpirationExtensionSeconds
INVALIDATED = "service account token has been invalidated"
BAD_SIGNATURE = "go-jose/go-jose: error in cryptographic primitive"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def go_quote_list(values: list[str]) -> str:
    """Go's `%q` of a []string: `["a" "b"]`."""
    return "[" + " ".join(json.dumps(v) for v in values) + "]"


class SigningKey:
    """The service-account signing key (RSA 2048, RS256); `kid` is derived as the API server does."""

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        self._private = private_key
        self._public = private_key.public_key()
        der = self._public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = _b64(hashlib.sha256(der).digest())

    @classmethod
    def load_or_create(cls, path: Path | None) -> SigningKey:
        if path is not None and path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, rsa.RSAPrivateKey):
                raise TypeError(f"{path} is not an RSA private key")
            return cls(key)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        return cls(key)

    def sign(self, claims: JSON) -> str:
        header = _b64(json.dumps({"alg": "RS256", "kid": self.kid}, separators=(",", ":")).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        signature = self._private.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{header}.{payload}.{_b64(signature)}"

    def verify(self, token: str) -> bool:
        header, payload, signature = token.split(".")
        try:
            self._public.verify(
                _unb64(signature), f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError):
            return False
        return True

    def jwk(self) -> JSON:
        numbers = self._public.public_numbers()
        return {
            "use": "sig",
            "kty": "RSA",
            "kid": self.kid,
            "alg": "RS256",
            "n": _b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": _b64(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
        }


def parse_unverified(token: str) -> tuple[JSON, JSON] | None:
    """The header and claims of a compact JWS, or None if it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header, claims = json.loads(_unb64(parts[0])), json.loads(_unb64(parts[1]))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return header, claims


@dataclass
class Review:
    """The outcome of authenticating one token for some audiences."""

    user: UserInfo | None = None
    audiences: list[str] | None = None
    error: str = ""

    @property
    def authenticated(self) -> bool:
        return self.user is not None


class TokenError(Exception):
    """The validator's reason to reject a token our issuer signed (exact Kubernetes text)."""


class TokenService:
    """Issues bound tokens and authenticates them against the current state of the cluster."""

    def __init__(
        self,
        key: SigningKey,
        issuer: str,
        api_audiences: list[str],
        *,
        clock: Clock,
        store: Store,
        extend_expiration: bool = True,
    ) -> None:
        self.key = key
        self.issuer = issuer
        self.api_audiences = api_audiences
        self.clock = clock
        self.store = store
        self.extend_expiration = extend_expiration

    # --- issuing ---

    def issue(
        self,
        account: JSON,
        audiences: list[str],
        expiration_seconds: int,
        *,
        bound: JSON | None = None,
        node: tuple[str, str] | None = None,
    ) -> tuple[str, int]:
        """A token for `account`, optionally bound to a Pod, Secret or Node object; returns (jwt, exp)."""
        now = int(self.clock.now())
        metadata = account["metadata"]
        private: JSON = {
            "namespace": metadata["namespace"],
            "serviceaccount": {"name": metadata["name"], "uid": metadata["uid"]},
        }
        lifetime = expiration_seconds
        if bound is not None:
            kind = {"Pod": "pod", "Secret": "secret", "Node": "node"}[bound["kind"]]
            private[kind] = {"name": bound["metadata"]["name"], "uid": bound["metadata"]["uid"]}
            if kind == "pod" and node is not None:
                private["node"] = {"name": node[0], "uid": node[1]} if node[1] else {"name": node[0]}
            if kind == "pod" and self.extend_expiration and expiration_seconds == WARN_ONLY_EXPIRATION:
                private["warnafter"] = now + WARN_ONLY_EXPIRATION
                lifetime = EXTENDED_EXPIRATION
        claims = {
            "aud": audiences,
            "exp": now + lifetime,
            "iat": now,
            "iss": self.issuer,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": private,
            "nbf": now,
            "sub": f"system:serviceaccount:{metadata['namespace']}:{metadata['name']}",
        }
        return self.key.sign(claims), now + lifetime

    def issue_legacy(self, account: JSON, secret_name: str) -> str:
        """A legacy secret-based token (no expiry, audience-less), as the token controller writes it."""
        metadata = account["metadata"]
        claims = {
            "iss": LEGACY_ISSUER,
            "kubernetes.io/serviceaccount/namespace": metadata["namespace"],
            "kubernetes.io/serviceaccount/secret.name": secret_name,
            "kubernetes.io/serviceaccount/service-account.name": metadata["name"],
            "kubernetes.io/serviceaccount/service-account.uid": metadata["uid"],
            "sub": f"system:serviceaccount:{metadata['namespace']}:{metadata['name']}",
        }
        return self.key.sign(claims)

    # --- authenticating ---

    def review(self, token: str, audiences: list[str] | None = None) -> Review:
        """Authenticate `token` for `audiences` (the API server's own when empty)."""
        parsed = parse_unverified(token)
        if parsed is None or parsed[1].get("iss") not in {self.issuer, LEGACY_ISSUER}:
            return Review(error="invalid bearer token")
        claims = parsed[1]
        wanted = list(audiences or self.api_audiences)
        try:
            if not self.key.verify(token):
                raise TokenError(BAD_SIGNATURE)
            if claims["iss"] == LEGACY_ISSUER:
                user = self._validate_legacy(token, claims)
                matched = [a for a in self.api_audiences if a in wanted]
            else:
                matched = self._audiences(claims, wanted)
                user = self._validate_bound(claims)
        except TokenError as error:
            return Review(error=f"[invalid bearer token, {error}]")
        return Review(user=user, audiences=matched)

    def _audiences(self, claims: JSON, wanted: list[str]) -> list[str]:
        token_audiences = claims.get("aud") or []
        if isinstance(token_audiences, str):
            token_audiences = [token_audiences]
        matched = [a for a in token_audiences if a in wanted]
        if not matched:
            raise TokenError(
                f"token audiences {go_quote_list(token_audiences)} is invalid for the target audiences "
                f"{go_quote_list(wanted)}"
            )
        return matched

    def _check_times(self, claims: JSON, now: float) -> None:
        if "exp" in claims and now - LEEWAY > claims["exp"]:
            raise TokenError("service account token has expired")
        if "nbf" in claims and now + LEEWAY < claims["nbf"]:
            raise TokenError("service account token is not valid yet")
        if "iat" in claims and now + LEEWAY < claims["iat"]:
            raise TokenError("service account token is issued in the future")

    def _deleted_long_ago(self, obj: JSON, now: float) -> bool:
        deletion = obj["metadata"].get("deletionTimestamp")
        return bool(deletion) and parse_time(deletion) < now - LEEWAY

    def _validate_bound(self, claims: JSON) -> UserInfo:
        now = self.clock.now()
        self._check_times(claims, now)
        private = claims.get("kubernetes.io") or {}
        namespace = private.get("namespace", "")
        account_ref = private.get("serviceaccount") or {}
        account = self.store.get("serviceaccounts", namespace, account_ref.get("name", ""))
        if account is None:
            raise TokenError(f'serviceaccounts "{account_ref.get("name", "")}" not found')
        if account["metadata"]["uid"] != account_ref.get("uid"):
            raise TokenError(
                f"service account UID ({account['metadata']['uid']}) "
                f"does not match claim ({account_ref.get('uid')})"
            )
        if self._deleted_long_ago(account, now):
            raise TokenError(f"service account {namespace}/{account_ref.get('name')} has been deleted")
        extra: dict[str, list[str]] = {}
        self._check_bound_object("secrets", "secret", namespace, private.get("secret"), now)
        pod_ref = private.get("pod")
        if pod_ref:
            self._check_bound_object("pods", "pod", namespace, pod_ref, now)
            extra["authentication.kubernetes.io/pod-name"] = [pod_ref["name"]]
            extra["authentication.kubernetes.io/pod-uid"] = [pod_ref["uid"]]
        node_ref = private.get("node")
        if node_ref and not pod_ref:
            self._check_bound_object("nodes", "node", "", node_ref, now)
        if node_ref:
            extra["authentication.kubernetes.io/node-name"] = [node_ref["name"]]
            if node_ref.get("uid"):
                extra["authentication.kubernetes.io/node-uid"] = [node_ref["uid"]]
        if claims.get("jti"):
            extra["authentication.kubernetes.io/credential-id"] = [f"JTI={claims['jti']}"]
        return service_account_user(namespace, account, extra)

    def _check_bound_object(
        self, storage: str, kind: str, namespace: str, ref: JSON | None, now: float
    ) -> None:
        if not ref:
            return
        obj = self.store.get(storage, namespace, ref.get("name", ""))
        if obj is None:
            raise TokenError(INVALIDATED)
        if obj["metadata"]["uid"] != ref.get("uid"):
            raise TokenError(
                f"{kind} UID ({obj['metadata']['uid']}) "
                f"does not match service account {kind} ref claim ({ref.get('uid')})"
            )
        if self._deleted_long_ago(obj, now):
            raise TokenError(INVALIDATED)

    def _validate_legacy(self, token: str, claims: JSON) -> UserInfo:
        namespace = claims.get("kubernetes.io/serviceaccount/namespace", "")
        name = claims.get("kubernetes.io/serviceaccount/service-account.name", "")
        account = self.store.get("serviceaccounts", namespace, name)
        if account is None:
            raise TokenError(f'serviceaccounts "{name}" not found')
        if account["metadata"]["uid"] != claims.get("kubernetes.io/serviceaccount/service-account.uid"):
            raise TokenError(
                f"service account UID ({account['metadata']['uid']}) does not match claim "
                f"({claims.get('kubernetes.io/serviceaccount/service-account.uid')})"
            )
        secret = self.store.get(
            "secrets", namespace, claims.get("kubernetes.io/serviceaccount/secret.name", "")
        )
        if secret is None or secret["metadata"].get("deletionTimestamp"):
            raise TokenError("token has been invalidated")
        stored = base64.b64decode((secret.get("data") or {}).get("token", "")).decode(errors="replace")
        if stored != token:
            raise TokenError("token does not match server's copy")
        return service_account_user(namespace, account, {})

    # --- discovery ---

    def openid_configuration(self, server_url: str) -> JSON:
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{server_url}/openid/v1/jwks",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def jwks(self) -> JSON:
        return {"keys": [self.key.jwk()]}


def service_account_user(namespace: str, account: JSON, extra: dict[str, list[str]]) -> UserInfo:
    """The user a service account authenticates as."""
    name = account["metadata"]["name"]
    return UserInfo(
        f"system:serviceaccount:{namespace}:{name}",
        account["metadata"]["uid"],
        ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"),
        tuple((k, tuple(v)) for k, v in extra.items()),
    )
