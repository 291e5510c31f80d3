"""The JWT/OIDC auth method (vault-plugin-auth-jwt) for JWT logins: static keys, a JWKS URL or OIDC discovery.

This is the login path that does not depend on the Kubernetes auth mount: with the cluster's JWKS (or its
OIDC discovery document) configured, a service-account token logs in with no TokenReview at all. Error texts
follow `path_login.go` and go-jose's claim validation.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from vaultinject.lab.vault import fields, jose, responses
from vaultinject.lab.vault.acl import glob_match
from vaultinject.lab.vault.auth import tokenfields
from vaultinject.lab.vault.backend import Backend, LoginRenewal, MountContext
from vaultinject.lab.vault.cidr import address_allowed
from vaultinject.lab.vault.envelope import Response, bad_request, login_denied, not_found
from vaultinject.lab.vault.request import CREATE, Request
from vaultinject.lab.vault.tokens import TokenEntry

KEY_SOURCES = ("jwt_validation_pubkeys", "jwks_url", "oidc_discovery_url")
_JOSE = "go-jose/go-jose/jwt: validation failed, "
DEFAULT_LEEWAY = 150
DEFAULT_CLOCK_SKEW = 60
KEY_CACHE_SECONDS = 300
_CONFIG_STRINGS = (
    "oidc_discovery_url",
    "oidc_discovery_ca_pem",
    "oidc_client_id",
    "oidc_response_mode",
    "jwks_url",
    "jwks_ca_pem",
    "bound_issuer",
    "default_role",
    "namespace_in_state",
)


class KeyFetchError(Exception):
    pass


def fetch_json(url: str, ca_pem: str, timeout: float) -> Any:
    """GET a JSON document over HTTP(S), trusting `ca_pem` (or the system store), never via a proxy."""
    if not url.startswith(("https://", "http://")):
        raise KeyFetchError(f'Get "{url}": unsupported protocol scheme')
    context = ssl.create_default_context(cadata=ca_pem or None)
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
    )
    try:
        with opener.open(url, timeout=timeout) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise KeyFetchError(f'Get "{url}": {error}') from None


class JWTBackend(Backend):
    type_name = "jwt"
    unauthenticated_paths = ("login", "oidc/auth_url", "oidc/callback")

    def __init__(self, context: MountContext) -> None:
        super().__init__(context)
        self.clock = context.services.clock
        self.timeout = context.services.config.outbound_timeout
        self._keys: list[tuple[str, jose.PublicKey]] = []
        self._keys_at = 0.0
        self._keys_lock = threading.Lock()
        add = self.router.add
        add(r"config/?", read=self.read_config, update=self.write_config)
        add(r"role/?", list=self.list_roles)
        add(
            r"role/(?P<name>[^/]+)",
            read=self.read_role,
            update=self.write_role,
            delete=self.delete_role,
            exists=lambda _request, match: self.stored_role(match["name"]) is not None,
        )
        add(r"login", update=self.login)

    # -- config -------------------------------------------------------------------------------------

    def write_config(self, request: Request, _match: re.Match[str]) -> Response:
        data = request.data
        config: dict[str, Any] = {name: fields.string(data, name) for name in _CONFIG_STRINGS}
        config["jwt_validation_pubkeys"] = fields.string_list(data, "jwt_validation_pubkeys")
        config["jwt_supported_algs"] = fields.string_list(data, "jwt_supported_algs")
        config["oidc_response_types"] = fields.string_list(data, "oidc_response_types")
        config["provider_config"] = fields.mapping(data, "provider_config")
        sources = [name for name in KEY_SOURCES if config[name]]
        if len(sources) != 1:
            raise bad_request(
                "exactly one of 'jwt_validation_pubkeys', 'jwks_url' or 'oidc_discovery_url' must be set"
            )
        unknown = [alg for alg in config["jwt_supported_algs"] if alg not in jose.ALL_ALGORITHMS]
        if unknown:
            raise bad_request(f"invalid jwt_supported_algs: {', '.join(unknown)}")
        for pem in config["jwt_validation_pubkeys"]:
            if not jose.load_pem_public_keys(pem):
                raise bad_request("error parsing public key: data does not contain any valid public keys")
        try:
            if config["jwks_url"]:
                jose.keys_from_jwks(fetch_json(config["jwks_url"], config["jwks_ca_pem"], self.timeout))
            elif config["oidc_discovery_url"]:
                self._discover(config)
        except (KeyFetchError, jose.JWTError) as error:
            which = "jwks URL" if config["jwks_url"] else "oidc discovery URL"
            raise bad_request(f"error checking {which}: {error}") from None
        self.storage.put("config", config)
        with self._keys_lock:
            self._keys, self._keys_at = [], 0.0
        return responses.no_content()

    def read_config(self, _request: Request, _match: re.Match[str]) -> Response:
        config = self.storage.get("config")
        if config is None:
            raise not_found()
        return responses.data(config)

    def _discover(self, config: dict[str, Any]) -> dict[str, Any]:
        issuer = config["oidc_discovery_url"].rstrip("/")
        document = fetch_json(
            issuer + "/.well-known/openid-configuration", config["oidc_discovery_ca_pem"], self.timeout
        )
        if not isinstance(document, dict) or document.get("issuer", "").rstrip("/") != issuer:
            got = document.get("issuer") if isinstance(document, dict) else None
            raise KeyFetchError(
                f'oidc: issuer did not match the issuer returned by provider, expected "{issuer}" got "{got}"'
            )
        return document

    def _remote_keys(self, config: dict[str, Any], refresh: bool) -> list[tuple[str, jose.PublicKey]]:
        with self._keys_lock:
            if self._keys and not refresh and time.monotonic() - self._keys_at < KEY_CACHE_SECONDS:
                return list(self._keys)
        if config["jwks_url"]:
            url, ca_pem = config["jwks_url"], config["jwks_ca_pem"]
        else:
            url, ca_pem = str(self._discover(config).get("jwks_uri", "")), config["oidc_discovery_ca_pem"]
        keys = jose.keys_from_jwks(fetch_json(url, ca_pem, self.timeout))
        with self._keys_lock:
            self._keys, self._keys_at = keys, time.monotonic()
        return keys

    # -- roles --------------------------------------------------------------------------------------

    def read_role(self, _request: Request, match: re.Match[str]) -> Response:
        role = self.stored_role(match["name"])
        if role is None:
            raise not_found()
        view = {key: value for key, value in role.items() if key != "token"}
        view.update(tokenfields.view(role["token"]))
        return responses.data(view)

    def delete_role(self, _request: Request, match: re.Match[str]) -> Response:
        self.storage.delete(f"role/{match['name'].lower()}")
        return responses.no_content()

    def write_role(self, request: Request, match: re.Match[str]) -> Response:
        name = match["name"].lower()
        data = request.data
        role = (None if request.operation == CREATE else self.stored_role(name)) or _new_role()
        role["token"] = tokenfields.parse(data, role["token"])
        for key in ("role_type", "user_claim", "bound_subject", "groups_claim", "bound_claims_type"):
            if fields.has(data, key):
                role[key] = fields.string(data, key)
        for key in ("bound_audiences", "allowed_redirect_uris", "oidc_scopes"):
            if fields.has(data, key):
                role[key] = fields.string_list(data, key)
        for key in ("bound_claims", "claim_mappings"):
            if fields.has(data, key):
                role[key] = fields.mapping(data, key)
        for key in ("clock_skew_leeway", "expiration_leeway", "not_before_leeway"):
            if fields.has(data, key):
                role[key] = fields.duration(data, key)
        for key in ("user_claim_json_pointer", "verbose_oidc_logging"):
            if fields.has(data, key):
                role[key] = fields.boolean(data, key)
        _validate_role(role)
        self.storage.put(f"role/{name}", role)
        return responses.no_content()

    # -- login --------------------------------------------------------------------------------------

    def login(self, request: Request, _match: re.Match[str]) -> Response:
        config = self.storage.get("config")
        if config is None:
            raise bad_request("could not load configuration")
        role_name = fields.string(request.data, "role").lower() or config["default_role"]
        if not role_name:
            raise bad_request("missing role")
        role = self.stored_role(role_name)
        if role is None:
            raise bad_request(f'role "{role_name}" could not be found')
        if role["role_type"] == "oidc":
            raise bad_request("role with oidc role_type is not allowed")
        token_text = fields.string(request.data, "jwt")
        if not token_text:
            raise bad_request("missing token")
        cidrs = role["token"]["token_bound_cidrs"]
        if cidrs and not address_allowed(request.remote_addr, cidrs):
            raise login_denied()
        claims = self._verified_claims(config, token_text)
        _validate_claims(claims, role, config, self.clock.now())
        user = _claim(claims, role["user_claim"], role["user_claim_json_pointer"])
        if user is None:
            raise bad_request(f'claim "{role["user_claim"]}" not found in token')
        if not isinstance(user, str):
            raise bad_request(f'claim "{role["user_claim"]}" could not be converted to string')
        metadata = {"role": role_name, **_mapped_claims(claims, role["claim_mappings"])}
        grant = tokenfields.grant(
            role["token"], metadata=metadata, display_name=user, alias_name=user, internal={"role": role_name}
        )
        return Response(login=grant)

    def _verified_claims(self, config: dict[str, Any], text: str) -> dict[str, Any]:
        if config["jwt_validation_pubkeys"]:
            try:
                token = jose.parse(text)
            except jose.JWTError as error:
                raise bad_request(f"error parsing token: {error}") from None
            keys = [key for pem in config["jwt_validation_pubkeys"] for key in jose.load_pem_public_keys(pem)]
            if not jose.verify_any(token, keys):
                raise bad_request("no known key successfully validated the token signature")
            return token.claims
        allowed = frozenset(config["jwt_supported_algs"] or ["RS256"])
        prefix = "error verifying token: " if config["jwks_url"] else "error validating signature: "
        try:
            token = jose.parse(text, allowed)
        except jose.JWTError as error:
            raise bad_request(f"{prefix}{error}") from None
        for refresh in (False, True):
            try:
                remote = self._remote_keys(config, refresh)
            except (KeyFetchError, jose.JWTError) as error:
                raise bad_request(f"error fetching jwks keyset: {error}") from None
            candidates = [key for kid, key in remote if not token.key_id or not kid or kid == token.key_id]
            if jose.verify_any(token, candidates):
                if config["oidc_discovery_url"]:
                    _check_discovery_issuer(token.claims, config["oidc_discovery_url"])
                return token.claims
        raise bad_request(f"{prefix}failed to verify id token signature")

    def renew_login(self, token: TokenEntry) -> LoginRenewal:
        role_name = str(token.internal.get("role", ""))
        role = self.stored_role(role_name) if role_name else None
        if role is None:
            raise bad_request(f"role {role_name} does not exist during renewal")
        params = role["token"]
        return LoginRenewal(
            int(params["token_ttl"]), int(params["token_max_ttl"]), int(params["token_period"])
        )


def _new_role() -> dict[str, Any]:
    return {
        "role_type": "oidc",
        "user_claim": "",
        "user_claim_json_pointer": False,
        "bound_audiences": [],
        "bound_subject": "",
        "bound_claims": {},
        "bound_claims_type": "string",
        "claim_mappings": {},
        "groups_claim": "",
        "allowed_redirect_uris": [],
        "oidc_scopes": [],
        "clock_skew_leeway": 0,
        "expiration_leeway": 0,
        "not_before_leeway": 0,
        "verbose_oidc_logging": False,
        "token": {},
    }


def _validate_role(role: dict[str, Any]) -> None:
    if role["role_type"] not in ("jwt", "oidc"):
        raise bad_request(f"invalid 'role_type': {role['role_type']}")
    if not role["user_claim"]:
        raise bad_request("a user claim must be defined on the role")
    if role["bound_claims_type"] not in ("string", "glob"):
        raise bad_request(f"invalid 'bound_claims_type': {role['bound_claims_type']}")
    if role["role_type"] == "oidc" and not role["allowed_redirect_uris"]:
        raise bad_request("'allowed_redirect_uris' must be set if 'role_type' is 'oidc' or unspecified.")
    bound = role["bound_audiences"] or role["bound_subject"] or role["bound_claims"]
    if role["role_type"] == "jwt" and not bound and not role["token"]["token_bound_cidrs"]:
        raise bad_request("must have at least one bound constraint when creating/updating a role")


def _check_discovery_issuer(claims: dict[str, Any], issuer: str) -> None:
    if str(claims.get("iss", "")).rstrip("/") != issuer.rstrip("/"):
        raise bad_request(
            f'error validating signature: oidc: id token issued by a different provider, expected "{issuer}" '
            f'got "{claims.get("iss", "")}"'
        )


def _validate_claims(
    claims: dict[str, Any], role: dict[str, Any], config: dict[str, Any], now: float
) -> None:
    """The time, issuer, subject, audience and bound-claim checks of `path_login.go`."""
    issued, expiry, not_before = (_number(claims.get(name)) for name in ("iat", "exp", "nbf"))
    if not issued and not expiry and not not_before:
        raise bad_request("no issue time, notbefore, or expiration time encoded in token")
    if not expiry:
        expiry = max(issued, not_before) + _leeway(role["expiration_leeway"], DEFAULT_LEEWAY)
    if not not_before:
        not_before = issued or expiry - _leeway(role["not_before_leeway"], DEFAULT_LEEWAY)
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else list(audience or [])
    if audiences and not role["bound_audiences"]:
        raise bad_request("audience claim found in JWT but no audiences bound to the role")
    skew = _leeway(role["clock_skew_leeway"], DEFAULT_CLOCK_SKEW)
    if config["bound_issuer"] and claims.get("iss") != config["bound_issuer"]:
        raise bad_request("error validating claims: " + _JOSE + "invalid issuer claim (iss)")
    if role["bound_subject"] and claims.get("sub") != role["bound_subject"]:
        raise bad_request("error validating claims: " + _JOSE + "invalid subject claim (sub)")
    if now + skew < not_before:
        raise bad_request("error validating claims: " + _JOSE + "token not valid yet (nbf)")
    if now - skew > expiry:
        raise bad_request("error validating claims: " + _JOSE + "token is expired (exp)")
    if issued and now + skew < issued:
        raise bad_request(
            "error validating claims: go-jose/go-jose/jwt: validation field, token issued in the future (iat)"
        )
    if role["bound_audiences"] and not set(role["bound_audiences"]) & set(audiences):
        raise bad_request("error validating claims: aud claim does not match any bound audience")
    for name, expected in role["bound_claims"].items():
        actual = _claim(claims, name, pointer=name.startswith("/"))
        if actual is None:
            raise bad_request(f'error validating claims: claim "{name}" is missing')
        wanted = expected if isinstance(expected, list) else [expected]
        received = actual if isinstance(actual, list) else [actual]
        if not any(
            _claim_matches(str(w), str(r), role["bound_claims_type"]) for w in wanted for r in received
        ):
            raise bad_request(
                f'error validating claims: claim "{name}" does not match any associated bound claim values'
            )


def _claim_matches(expected: str, actual: str, kind: str) -> bool:
    return glob_match(expected, actual) if kind == "glob" else expected == actual


def _leeway(configured: int, default: int) -> int:
    if configured < 0:
        return 0
    return configured or default


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _claim(claims: dict[str, Any], name: str, pointer: bool = False) -> Any:
    """A claim by name, or by JSON pointer (`/a/b`) when the name is one."""
    if not (pointer or name.startswith("/")):
        return claims.get(name)
    current: Any = claims
    for part in name.strip("/").split("/"):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current


def _mapped_claims(claims: dict[str, Any], mappings: dict[str, Any]) -> dict[str, str]:
    metadata: dict[str, str] = {}
    for source, target in mappings.items():
        value = _claim(claims, source)
        if value is None:
            continue
        if isinstance(value, dict | list):
            raise bad_request(f'error converting claim "{source}" to string')
        metadata[str(target)] = value if isinstance(value, str) else json.dumps(value)
    return metadata
